"""Running lab sessions: each in a fresh process, as a worker runs each job, several at once.

Real time is the bottleneck (a scenario is spoken at the speed of speech), so sessions run
concurrently; each process pays the start-up a production job pays. Too many at once on too
few cores makes the VAD fall behind real time and inflates every delay: `--jobs` defaults to
the number of cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .plan import Trial
from .results import SessionResult

SESSION_TIMEOUT_S = 120.0


def trial_json(trial: Trial, llm_latency_s: float, tts_latency_s: float) -> dict[str, Any]:
    return {
        "scenario": trial.scenario, "pause_s": trial.pause_s, "wav": trial.wav,
        "text": trial.text, "participant_metadata": trial.settings.participant_metadata(),
        "dispatch_metadata": trial.settings.dispatch_metadata(),
        "llm_latency_s": llm_latency_s, "tts_latency_s": tts_latency_s,
    }


async def run_one(trial: Trial, llm_latency_s: float, tts_latency_s: float) -> SessionResult:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_settings.lab.session",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    line = json.dumps(trial_json(trial, llm_latency_s, tts_latency_s)) + "\n"
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


async def run_all(trials: Sequence[Trial], *, jobs: int, llm_latency_s: float,
                  tts_latency_s: float, progress: Callable[[int, int], None]) -> list[
                      tuple[Trial, SessionResult]]:
    slots = asyncio.Semaphore(max(1, jobs))
    done = 0
    progress(0, len(trials))

    async def one(trial: Trial) -> tuple[Trial, SessionResult]:
        nonlocal done
        async with slots:
            result = await run_one(trial, llm_latency_s, tts_latency_s)
        done += 1
        progress(done, len(trials))
        return trial, result

    return list(await asyncio.gather(*(one(trial) for trial in trials)))


def progress_bar(stream: TextIO = sys.stderr) -> Callable[[int, int], None]:
    """`[#####     ] 3/6 sessions`, redrawn in place on a terminal, a line each otherwise."""
    interactive = stream.isatty()

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(1, total)
        text = f"[{'#' * filled}{' ' * (width - filled)}] {done}/{total} sessions"
        if interactive:
            stream.write("\r" + text + ("\n" if done == total else ""))
        elif done in (0, total) or done % max(1, total // 10) == 0:
            stream.write(text + "\n")
        stream.flush()

    return show


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)
