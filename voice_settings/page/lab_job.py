"""One simulation of the settings page, in a process of its own (`python -m
voice_settings.page.lab_job`): reads {"values", "scenario", "voice", "label", "directory"} as one
JSON line on stdin, runs the timing lab's session for them (the real agent, offline), and writes
JSON lines on stdout: {"progress": {...}} as it goes, then {"result": {...}} or {"error": ...}.

Everything it writes goes under `directory`: recording.wav, timeline.png, timeline.json.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from ..lab import plan, runner
from ..lab.results import summarize
from ..resolution import resolve


def emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def settings_set(job: dict[str, Any]) -> plan.SettingsSet:
    values = job["values"]
    candidate = plan.SettingsSet(job["label"], None, values)
    resolution = resolve(participant=candidate.participant_metadata(),
                         dispatch=candidate.dispatch_metadata())
    return plan.SettingsSet(job["label"], None, values, resolution)


def progress(done: int, total: int) -> None:
    emit({"progress": {"sessions_done": done, "sessions_total": total}})


async def simulate(job: dict[str, Any]) -> dict[str, Any]:
    chosen = settings_set(job)
    trials = plan.trials([chosen], [job["scenario"]], [], 1)
    results = await runner.run_all(trials, jobs=1, llm_latency_s=0.0, tts_latency_s=0.0,
                                   progress=progress)
    run = summarize(chosen, results)
    if run["errors"]:
        raise RuntimeError("; ".join(run["errors"]))
    return {
        "label": run["label"], "scenario": job["scenario"], "voice": job["voice"],
        "settings": run["settings"],
        "first_audio_ms": run["first_audio_ms"]["p50"],
        "llm_request_ms": run.get("llm_request_ms", run.get("response_delay_ms", {})).get("p50"),
        "cut_ins": run["cut_ins"], "cut_ins_by_pause": run["cut_ins_by_pause"],
        "turn_log": run.get("turn_log", []),
    }


def main() -> int:
    job = json.loads(sys.stdin.readline())
    try:
        emit({"result": asyncio.run(simulate(job))})
    except Exception as exc:  # reported to the page as the run's error
        emit({"error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
