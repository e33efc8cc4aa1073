"""One simulation of the settings page, in a process of its own (`python -m
voice_settings.page.lab_job`): reads {"values", "scenario", "voice", "label", "directory"} as one
JSON line on stdin, runs the timing lab's session for them (the real agent, offline), and writes
JSON lines on stdout: {"progress": {...}} as it goes, then {"result": {...}} or {"error": ...}.

Everything it writes goes under `directory`: recording.wav (stereo: caller left, agent right),
timeline.png and timeline.json, as the lab's `--record` writes them (`lab/recording.py`).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ..lab.api import LabRequest, run_lab
from ..lab.plan import Trial
from ..resolution import resolve
from ..runtime.config import AgentConfig

# Not timing: the lab's stand-in LLM answers the same whatever the prompt, and the lab turns the
# greeting off so the caller speaks into a listening agent.
NOT_SIMULATED = ("instructions", "greeting")
FILES = {"wav": "recording.wav", "png": "timeline.png", "timeline": "timeline.json"}


def emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def set_item(name: str, value: Any) -> str:
    """`name=value` as the lab's --set reads it (JSON where it parses; null is "off")."""
    return f"{name}={'off' if value is None else json.dumps(value)}"


def differing(values: dict[str, Any]) -> dict[str, Any]:
    """The values that differ from what the agent starts a session with when given none (its
    own profiles, loaded as it loads them): the session is the same, and the lab's label and
    timeline title name only what was changed."""
    baseline = resolve(profiles=AgentConfig.from_env().load_profiles()).settings
    return {name: value for name, value in values.items()
            if name not in NOT_SIMULATED and getattr(baseline, name) != value}


def progress(done: int, total: int, starting: Trial | None) -> None:
    emit({"progress": {"sessions_done": done, "sessions_total": total}})


def simulate(job: dict[str, Any]) -> dict[str, Any]:
    directory = Path(job["directory"])
    record_dir = directory / "recorded"
    request = LabRequest(
        sets=[set_item(n, v) for n, v in differing(job["values"]).items()],
        scenarios=[job["scenario"]], voice=job["voice"], record_dir=record_dir)
    result = run_lab(request, progress=progress)
    [run] = result.runs
    if run["errors"]:
        raise RuntimeError("; ".join(run["errors"]))
    for recording in result.recordings[:1]:  # one scenario, one session
        for key, name in FILES.items():
            if recording.get(key):
                shutil.move(recording[key], directory / name)
    shutil.rmtree(record_dir, ignore_errors=True)
    return {
        "label": job["label"], "scenario": job["scenario"], "voice": job["voice"],
        "settings": run["settings"],
        "first_audio_ms": run["first_audio_ms"]["p50"],
        "llm_request_ms": run["llm_request_ms"]["p50"],
        "cut_ins": run["cut_ins"], "cut_ins_by_pause": run["cut_ins_by_pause"],
        "end_of_turn_rules": run.get("end_of_turn_rules", {}),
        "turn_log": run["turn_log"],
    }


def main() -> int:
    job = json.loads(sys.stdin.readline())
    try:
        emit({"result": simulate(job)})
    except Exception as exc:  # reported to the page as the run's error
        emit({"error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
