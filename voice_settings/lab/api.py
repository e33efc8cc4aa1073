"""The timing lab from Python: `run_lab(LabRequest(...))` -> `LabResult`.

What `python -m voice_settings lab` does, without parsing its output (a web server, a notebook):

    from voice_settings.lab.api import LabRequest, run_lab

    result = run_lab(LabRequest(profiles=["snappy", "patient"], scenarios=["hesitation"],
                                pauses=[0.6, 1.6], record_dir=Path("out")))
    result.document      # exactly what `--json` prints: {"runs": [...], "conditions": {...}}
    result.recordings    # [{"session", "label", "wav", "timeline", "png"}, ...] with record_dir
    result.failed        # True when a session failed (the CLI then exits 1)

`LabRequest.check()` (called by `run_lab`) raises `UsageError` (exit status 2 in the CLI) for
anything wrong before a session runs: unknown profile or setting, invalid value, a plan over
`plan.MAX_SESSIONS` sessions, `jobs` < 1, a `wav` that is missing, a directory, empty or not a
WAV, NaN or infinite latencies, a plot or record path whose directory does not exist, a plot
without matplotlib. `run_lab` blocks for the sessions' real time (one at a time unless `jobs` >
1); call it from a worker thread in an async server (it runs its own event loop).

Each run in `document["runs"]` has the figures of one settings set (`first_audio_ms` and
`llm_request_ms` as {"p50", "p90"}, cut-ins, backchannels, `end_of_turn_rules`), the settings,
`turn_log` (one entry per caller turn: {"scenario", "pause_s", "session", "first_audio_ms",
"llm_request_ms", "end_of_turn": {"rule", "probability", "threshold", "waited_ms"}}) and, with
`record_dir`, `recordings`: per session `<session>.wav`, `<session>.timeline.json` and
`<session>.timeline.png` in `record_dir` (their shapes: `voice_settings/lab/recording.py`).
"""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..harness.speech import DEFAULT_VOICE, voices
from ..profiles import ProfileStore
from ..store import load_directory
from ..tool_errors import UsageError
from . import plan, runner
from .results import summarize

MAX_LATENCY_S = 30.0


@dataclass(frozen=True)
class LabRequest:
    """One lab run: settings sets (profiles x --set sweeps) x scenarios x pauses x repeats."""

    profiles: Sequence[str] = ()
    sets: Sequence[str] = ()
    """`field=v1,v2` items, as `--set` takes them."""
    scenarios: Sequence[str] = ()
    """Default: question, hesitation, backchannel (none with `wav`)."""
    pauses: Sequence[float] = ()
    repeat: int = 1
    voice: str = DEFAULT_VOICE
    wav: str | None = None
    text: str | None = None
    llm_latency_s: float = 0.0
    tts_latency_s: float = 0.0
    jobs: int = 1
    record_dir: Path | None = None
    plot: Path | None = None

    def scenario_names(self) -> list[str]:
        return list(self.scenarios) or ([] if self.wav else list(plan.DEFAULT_SCENARIOS))

    def check(self, store: ProfileStore) -> list[plan.Trial]:
        """Everything refused before a session runs (UsageError); the sessions to run."""
        if bool(self.wav) != bool(self.text):
            raise UsageError("--wav and --text go together: the recording and what it says")
        for name, value in (("--llm-latency", self.llm_latency_s),
                            ("--tts-latency", self.tts_latency_s)):
            if not (math.isfinite(value) and 0 <= value <= MAX_LATENCY_S):
                raise UsageError(f"{name} {value}: seconds from 0 to {MAX_LATENCY_S:g}")
        if self.jobs < 1:
            raise UsageError(f"--jobs {self.jobs}: at least 1 session at a time")
        if self.voice not in voices():
            raise UsageError(f"--voice {self.voice!r}: one of {', '.join(voices())}")
        if self.wav:
            check_wav(self.wav)
        for name, path in (("--plot", self.plot), ("--record", self.record_dir)):
            if path is not None and not Path(path).parent.is_dir():
                raise UsageError(f"{name} {path}: the directory {Path(path).parent} does not "
                                 "exist")
        if self.record_dir is not None and Path(self.record_dir).exists() \
                and not Path(self.record_dir).is_dir():
            raise UsageError(f"--record {self.record_dir}: not a directory")
        if self.plot is not None:
            _need_matplotlib()
        sets = plan.settings_sets(self.profiles, self.sets, store)
        return plan.trials(sets, self.scenario_names(), self.pauses, self.repeat, self.wav,
                           self.text)

    def conditions(self) -> dict[str, Any]:
        voice = self.voice if self.scenario_names() else f"your recording ({self.wav})"
        return {"jobs": self.jobs, "parallel": self.jobs > 1, "voice": voice,
                "llm_latency_s": self.llm_latency_s, "tts_latency_s": self.tts_latency_s,
                "scenarios": self.scenario_names(), "pauses_s": list(self.pauses),
                "repeat": self.repeat}


@dataclass
class LabResult:
    document: dict[str, Any]
    """What `--json` prints: {"runs": [...], "conditions": {...}}."""
    recordings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.document["runs"]

    @property
    def failed(self) -> bool:
        return any(run["errors"] for run in self.runs)


def run_lab(request: LabRequest, *, store: ProfileStore | None = None,
            progress: runner.Progress | None = None,
            trials: list[plan.Trial] | None = None) -> LabResult:
    """Check the request, run its sessions, and return the figures (see the module docstring).

    `progress(done, total, trial_starting_or_None)` is called as sessions start and end.
    `trials`: what `request.check(store)` returned already, so it is not checked twice."""
    store = store if store is not None else load_directory()
    trials = trials if trials is not None else request.check(store)
    sets = list({trial.settings.label: trial.settings for trial in trials}.values())
    options = runner.SessionOptions(request.llm_latency_s, request.tts_latency_s,
                                    request.voice, request.record_dir)
    results = asyncio.run(runner.run_all(trials, options=options, jobs=request.jobs,
                                         progress=progress))
    runs = [summarize(settings, results) for settings in sets]
    recordings = [{**entry, "label": run["label"]} for run in runs
                  for entry in run["recordings"]]
    return LabResult({"runs": runs, "conditions": request.conditions()}, recordings)


def check_wav(path: str) -> None:
    """A readable, non-empty WAV file, or UsageError naming what is wrong."""
    file = Path(path)
    if not file.exists():
        raise UsageError(f"--wav {path}: no such file")
    if file.is_dir():
        raise UsageError(f"--wav {path}: a directory, not a WAV file")
    try:
        with wave.open(str(file), "rb") as wav:
            frames = wav.getnframes()
    except (wave.Error, EOFError) as exc:
        frames = _frames_by_sox(file)  # e.g. a float WAV, which the lab reads through sox
        if frames is None:
            raise UsageError(f"--wav {path}: not a WAV file ({exc or 'too short'})") from None
    except OSError as exc:
        raise UsageError(f"--wav {path}: cannot read it ({exc.strerror})") from None
    if frames == 0:
        raise UsageError(f"--wav {path}: the file has no audio")


def _frames_by_sox(file: Path) -> int | None:
    """The number of samples sox reads in a WAV file Python's `wave` cannot; None otherwise."""
    if shutil.which("sox") is None:
        return None
    done = subprocess.run(["sox", "--i", "-s", "-t", "wav", str(file)], capture_output=True,
                          text=True, check=False)
    return int(done.stdout) if done.returncode == 0 and done.stdout.strip().isdigit() else None


def _need_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install -e '.[lab]'") from None
