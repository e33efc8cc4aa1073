"""Running lab sessions: each in a fresh process, as a worker runs each job.

Figures that are compared must not compete for the CPU: a starved Silero VAD falls behind real
time and inflates every delay (two sessions at once on 2 cores added 0.3-0.6 s to first audio).
So sessions run one at a time by default; `jobs` > 1 is for quick exploration, and the lab's
output says when figures were taken in parallel.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .plan import Trial
from .results import SessionResult

SESSION_TIMEOUT_S = 120.0

Progress = Callable[[int, int, Trial | None], None]
"""Called with (sessions done, sessions in all, the session starting or None when all ended)."""


@dataclass(frozen=True)
class SessionOptions:
    """What every session of a run shares."""

    llm_latency_s: float = 0.0
    tts_latency_s: float = 0.0
    voice: str | None = None
    record_dir: Path | None = None


def trial_json(trial: Trial, options: SessionOptions) -> dict[str, Any]:
    record = None if options.record_dir is None else {
        "dir": str(options.record_dir), "session": trial.session, "label": trial.settings.label,
        "voice": options.voice if trial.scenario != "wav" else "your recording"}
    return {
        "scenario": trial.scenario, "pause_s": trial.pause_s, "wav": trial.wav,
        "text": trial.text, "voice": options.voice,
        "participant_metadata": trial.settings.participant_metadata(),
        "dispatch_metadata": trial.settings.dispatch_metadata(),
        "llm_latency_s": options.llm_latency_s, "tts_latency_s": options.tts_latency_s,
        "record": record,
    }


async def run_one(trial: Trial, options: SessionOptions) -> SessionResult:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_settings.lab.session",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    line = json.dumps(trial_json(trial, options)) + "\n"
    try:
        out, err = await asyncio.wait_for(process.communicate(line.encode()), SESSION_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return SessionResult(error=f"the session did not end within {SESSION_TIMEOUT_S:g} s")
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return SessionResult(error=f"session process exited {process.returncode}: {tail[0]}")
    return SessionResult.from_json(json.loads(lines[-1]))


async def run_all(trials: Sequence[Trial], *, options: SessionOptions, jobs: int = 1,
                  progress: Progress | None = None) -> list[tuple[Trial, SessionResult]]:
    slots = asyncio.Semaphore(max(1, jobs))
    done = 0
    report = progress or (lambda *_: None)

    async def one(trial: Trial) -> tuple[Trial, SessionResult]:
        nonlocal done
        async with slots:
            report(done, len(trials), trial)
            result = await run_one(trial, options)
        done += 1
        return trial, result

    results = list(await asyncio.gather(*(one(trial) for trial in trials)))
    report(done, len(trials), None)
    return results
