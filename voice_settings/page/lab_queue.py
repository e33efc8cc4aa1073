"""The queue of one server's simulations: one runs at a time, in a process of its own
(`lab_job`), a few more wait; finished runs are kept under a count and a size, oldest removed
first. Every run writes only inside its own directory under one temporary directory, removed
when the server stops; the job gets none of the server's secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RUNS_PATH = "/api/lab/runs"
RUN_PATH = "/api/lab/runs/{id}"
MAX_WAITING = 3
"""Runs queued behind the one running; one more is a 429."""
MAX_KEPT_RUNS = 8
MAX_KEPT_BYTES = 64 * 1024 * 1024
"""Finished runs (their recordings and pictures) kept; the oldest go first beyond either."""
RUN_TIMEOUT_S = 300.0
TYPICAL_RUN_S = 20.0
"""What a Retry-After says before any run has finished here."""
# The lab runs offline against stand-ins: it gets none of the server's secrets.
SECRET_ENV = ("LIVEKIT_API_SECRET", "LIVEKIT_API_KEY", "LIVEKIT_URL", "PROFILES_ADMIN_SECRET",
              "TOKEN_SERVER_SECRET", "OPENAI_API_KEY", "DEEPGRAM_API_KEY")


@dataclass
class LabRun:
    id: str
    job: dict[str, Any]
    """What lab_job reads: values, scenario, voice, label."""
    directory: Path
    status: str = "queued"
    progress: dict[str, Any] = field(default_factory=lambda: {"sessions_done": 0,
                                                               "sessions_total": 1})
    result: dict[str, Any] | None = None
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    expected_s: float | None = None
    """How long runs took here so far (the median); None before the first."""

    def body(self) -> dict[str, Any]:
        elapsed = (self.finished or time.monotonic()) - self.started if self.started else 0.0
        return {"id": self.id, "status": self.status,
                "progress": {**self.progress, "elapsed_s": round(elapsed, 1),
                             "expected_s": self.expected_s},
                "result": self.result, "error": self.error, "label": self.job["label"]}


class LabRuns:
    """The queue of one server's simulations and the results kept."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = options
        self.root: Path | None = None
        """Made at the first run, removed when the server stops."""
        self.runs: dict[str, LabRun] = {}
        self.waiting: asyncio.Queue[LabRun] = asyncio.Queue()
        self.durations: list[float] = []
        self._worker: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    def submit(self, job: dict[str, Any]) -> LabRun:
        if self.waiting.qsize() >= MAX_WAITING:
            raise QueueFull(self.retry_after_s())
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="voice-lab-runs-"))
        run_id = secrets.token_urlsafe(9)
        run = LabRun(run_id, job, self.root / run_id)
        run.directory.mkdir()
        self.runs[run_id] = run
        self.waiting.put_nowait(run)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        return run

    def typical_s(self) -> float | None:
        return sorted(self.durations)[len(self.durations) // 2] if self.durations else None

    def retry_after_s(self) -> int:
        return max(1, round(self.typical_s() or TYPICAL_RUN_S))

    async def _work(self) -> None:
        while True:
            run = await self.waiting.get()
            await self._execute(run)
            self._trim()

    async def _execute(self, run: LabRun) -> None:
        run.status, run.started = "running", time.monotonic()
        run.expected_s = self.typical_s()
        logger.info("lab run %s started: %s, scenario %s, voice %s", run.id, run.job["label"],
                    run.job["scenario"], run.job["voice"])
        try:
            await asyncio.wait_for(self._run_job(run), RUN_TIMEOUT_S)
        except TimeoutError:
            run.error = f"the simulation did not end within {RUN_TIMEOUT_S:g} s"
        except Exception as exc:  # one failed run is reported, the queue goes on
            logger.exception("lab run %s failed", run.id)
            run.error = f"{type(exc).__name__}: {exc}"
        finally:
            await self._stop_process()
            shutil.rmtree(run.directory / "work", ignore_errors=True)  # only the results stay
        run.finished = time.monotonic()
        run.status = "done" if run.result is not None and run.error is None else "failed"
        if run.status == "done":
            self.durations.append(run.finished - run.started)
        logger.info("lab run %s %s in %.1f s%s", run.id, run.status, run.finished - run.started,
                    f": {run.error}" if run.error else "")

    async def _run_job(self, run: LabRun) -> None:
        work = run.directory / "work"
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
        # Temporary files, matplotlib's and onnxruntime's caches: in the run's own directory.
        env.update(TMPDIR=str(work), MPLCONFIGDIR=str(work), XDG_CACHE_HOME=str(work))
        self._process = process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_settings.page.lab_job", cwd=work, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=4 * 1024 * 1024,
            start_new_session=True)  # its own process group: stopped with its sessions
        assert process.stdin and process.stdout and process.stderr
        process.stdin.write(json.dumps({**run.job, "directory": str(run.directory)}).encode()
                            + b"\n")
        await process.stdin.drain()
        process.stdin.close()
        stderr = asyncio.get_running_loop().create_task(process.stderr.read())
        async for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:  # a library printing to stdout: not ours to read
                continue
            if not isinstance(message, dict):
                continue
            if "progress" in message:
                run.progress = message["progress"]
            if "result" in message:
                run.result = with_urls(message["result"], run)
            if "error" in message:
                run.error = message["error"]
        code = await process.wait()
        if run.result is None and run.error is None:
            tail = (await stderr).decode(errors="replace").strip().splitlines()[-1:]
            run.error = f"the simulation exited {code}: {tail[0] if tail else 'no output'}"
        stderr.cancel()

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # the lab's session processes too
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()

    def _trim(self) -> None:
        finished = sorted((r for r in self.runs.values() if r.finished is not None),
                          key=lambda r: r.finished or 0.0)
        sizes = {run.id: size(run.directory) for run in finished}
        kept_bytes = sum(sizes.values())
        while finished and (len(finished) > MAX_KEPT_RUNS or kept_bytes > MAX_KEPT_BYTES):
            oldest = finished.pop(0)
            kept_bytes -= sizes[oldest.id]
            shutil.rmtree(oldest.directory, ignore_errors=True)
            del self.runs[oldest.id]

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self._stop_process()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


class QueueFull(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s


def size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def with_urls(result: dict[str, Any], run: LabRun) -> dict[str, Any]:
    """The job's result with its files as URLs of this server (None where it wrote none)."""
    urls = {}
    for key, name in (("recording", "recording.wav"), ("timeline", "timeline.png"),
                      ("timeline_json", "timeline.json")):
        urls[key] = (RUN_PATH.format(id=run.id) + "/" + name
                     if (run.directory / name).is_file() else None)
    return {**result, **urls}
