"""Simulations over HTTP: the timing lab run on the server for one set of settings.

    POST /api/lab/runs            {"settings", "profile", "scenario", "voice"}, all optional
        202 + Location: /api/lab/runs/{id};  400 {error, errors} invalid settings;
        401 no admin bearer (always, without PROFILES_ADMIN_SECRET);
        429 + Retry-After while the queue is full
    GET /api/lab/runs/{id}        {"status": queued|running|done|failed, "progress", "result",
                                   "error"}
    GET /api/lab/runs/{id}/recording.wav   audio/wav (caller left, agent right)
    GET /api/lab/runs/{id}/timeline.png    image/png
    GET /api/lab/runs/{id}/timeline.json   what happened when (lab/recording.py)
The two files are capability URLs: the run's id (72 random bits) is the key, so a page's
<audio> and <img> load them without a header; the run itself needs the bearer.

Each run is a real agent session (the lab's), so one runs at a time per server, in a process of
its own (`lab_job`) so that this server's event loop never waits for it; a few more wait in a
short queue. Every run writes only inside its own directory under one temporary directory,
removed when the server stops; finished runs are dropped oldest first beyond a count and a size.
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

from aiohttp import web

from ..errors import SettingsError
from ..json_input import MAX_DOCUMENT_BYTES, JsonInputError, read_json_object
from ..keys import split_by_audience
from ..model import PROFILE_FIELDS
from ..profiles import ProfileStore
from ..resolution import resolve
from ..tokens.http_errors import HttpError, check_bearer, error_response, read_body
from .site import CurrentProfiles

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
BODY_KEYS = ("settings", "profile", "scenario", "voice")
FILES = {"recording.wav": "audio/wav", "timeline.png": "image/png",
         "timeline.json": "application/json"}
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
        while finished and (len(finished) > MAX_KEPT_RUNS
                            or sum(size(r.directory) for r in finished) > MAX_KEPT_BYTES):
            oldest = finished.pop(0)
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


def lab_options() -> dict[str, list[str]]:
    """The scenarios and voices a simulation may choose, the first of each the default."""
    from ..harness.speech import DEFAULT_VOICE, voices
    from ..lab.cli import SCENARIO_NAMES

    scenarios = ["question", *(s for s in SCENARIO_NAMES if s != "question")]
    return {"scenarios": scenarios,
            "voices": [DEFAULT_VOICE, *(v for v in voices() if v != DEFAULT_VOICE)]}


# --- HTTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabConfig:
    secret: str | None = field(repr=False)
    """PROFILES_ADMIN_SECRET; unset, every request is refused (401): a run is a real session."""
    profiles: CurrentProfiles
    runs: LabRuns


LAB = web.AppKey("lab", LabConfig)


def add_lab_routes(app: web.Application, config: LabConfig) -> None:
    app[LAB] = config
    app.router.add_post(RUNS_PATH, handle_submit)
    app.router.add_get(RUN_PATH, handle_status)
    app.router.add_get(RUN_PATH + "/{file}", handle_file)

    async def close(_app: web.Application) -> None:
        await config.runs.close()

    app.on_cleanup.append(close)


async def handle_submit(request: web.Request) -> web.Response:
    lab = request.app[LAB]
    authorized(request, lab.secret)
    try:
        body = read_json_object(await read_body(request) or b"{}", what="request body",
                                max_bytes=MAX_DOCUMENT_BYTES)
    except JsonInputError as exc:
        raise HttpError(400, exc.message) from None
    job = lab_job(body, lab.profiles(), lab.runs.options)
    try:
        run = lab.runs.submit(job)
    except QueueFull as full:
        response = error_response(429, f"{MAX_WAITING + 1} simulations are queued or running; "
                                  f"try again in about {full.retry_after_s} s")
        response.headers["Retry-After"] = str(full.retry_after_s)
        return response
    response = web.json_response(run.body(), status=202)
    response.headers["Location"] = RUN_PATH.format(id=run.id)
    response.headers["Access-Control-Expose-Headers"] = "Location"
    return response


def authorized(request: web.Request, secret: str | None) -> None:
    if not secret:
        raise HttpError(401, "simulations need the admin bearer, and this server has no admin "
                        "secret: start serve with PROFILES_ADMIN_SECRET set")
    check_bearer(request, secret)


def lab_job(body: Mapping[str, Any], store: ProfileStore,
            options: Mapping[str, Any]) -> dict[str, Any]:
    """What lab_job runs for a request: every timing value spelled out (resolved here, against
    this server's profiles), or a 400 naming each refused field."""
    if unknown := sorted(set(body) - set(BODY_KEYS)):
        raise HttpError(400, f"unknown field {', '.join(unknown)}; accepted: "
                        f"{', '.join(BODY_KEYS)}",
                        [SettingsError(k, body[k], "not a field of this request").to_dict()
                         for k in unknown])
    settings = body.get("settings") or {}
    if not isinstance(settings, dict):
        raise HttpError(400, "settings must be an object of settings",
                        [SettingsError("settings", settings, "must be an object").to_dict()])
    scenario = chosen(body, "scenario", options["scenarios"])
    voice = chosen(body, "voice", options["voices"])
    participant, operator = split_by_audience(settings)
    if body.get("profile") is not None:
        participant["profile"] = body["profile"]
    resolution = resolve(participant=participant, dispatch=operator,
                         profiles=store)
    if resolution.errors:
        raise HttpError(400, "invalid settings; nothing was run",
                        [e.to_dict() for e in resolution.errors])
    values = {name: getattr(resolution.settings, name) for name in sorted(PROFILE_FIELDS)}
    label = resolution.settings.profile or "default"
    if settings:
        label += " (edited)"
    return {"values": values, "scenario": scenario, "voice": voice, "label": label}


def chosen(body: Mapping[str, Any], key: str, allowed: list[str]) -> str:
    value = body.get(key) or allowed[0]
    if value not in allowed:
        message = f"unknown {key} {value!r}; allowed: {', '.join(allowed)}"
        raise HttpError(400, message, [SettingsError(key, value, message).to_dict()])
    return value


def the_run(request: web.Request) -> LabRun:
    lab = request.app[LAB]
    authorized(request, lab.secret)
    run = lab.runs.runs.get(request.match_info["id"])
    if run is None:
        raise HttpError(404, "no such simulation (finished ones are kept for a while only)")
    return run


async def handle_status(request: web.Request) -> web.Response:
    return web.json_response(the_run(request).body())


async def handle_file(request: web.Request) -> web.FileResponse:
    run = request.app[LAB].runs.runs.get(request.match_info["id"])
    if run is None:
        raise HttpError(404, "no such simulation (finished ones are kept for a while only)")
    name = request.match_info["file"]
    if name not in FILES or not (run.directory / name).is_file():
        raise HttpError(404, f"this simulation has no {name}")
    return web.FileResponse(run.directory / name, headers={"Content-Type": FILES[name],
                                                           "Cache-Control": "no-store"})
