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

Each run is a real agent session (the lab's): one runs at a time per server, the others wait
in a short queue (`lab_queue`); the settings are resolved here, against this server's profiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..errors import SettingsError
from ..keys import split_by_audience
from ..model import PROFILE_FIELDS
from ..profiles import ProfileStore
from ..resolution import resolve
from ..tokens.http_errors import HttpError, check_bearer, error_response, json_body, read_body
from .lab_queue import MAX_WAITING, RUN_PATH, RUNS_PATH, LabRun, LabRuns, QueueFull
from .site import CurrentProfiles

BODY_KEYS = ("settings", "profile", "scenario", "voice")
FILES = {"recording.wav": "audio/wav", "timeline.png": "image/png",
         "timeline.json": "application/json"}


def lab_options() -> dict[str, list[str]]:
    """The scenarios and voices a simulation may choose, the first of each the default."""
    from ..harness.speech import DEFAULT_VOICE, voices
    from ..lab.cli import SCENARIO_NAMES

    scenarios = ["question", *(s for s in SCENARIO_NAMES if s != "question")]
    return {"scenarios": scenarios,
            "voices": [DEFAULT_VOICE, *(v for v in voices() if v != DEFAULT_VOICE)]}


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
    body = json_body(await read_body(request) or b"{}")
    job = job_for(body, lab.profiles(), lab.runs.options)
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


def job_for(body: Mapping[str, Any], store: ProfileStore,
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
    authorized(request, request.app[LAB].secret)
    return find_run(request)


def find_run(request: web.Request) -> LabRun:
    """The run the path names (its random id is the key: file URLs carry no bearer)."""
    run = request.app[LAB].runs.runs.get(request.match_info["id"])
    if run is None:
        raise HttpError(404, "no such simulation (finished ones are kept for a while only)")
    return run


async def handle_status(request: web.Request) -> web.Response:
    return web.json_response(the_run(request).body())


async def handle_file(request: web.Request) -> web.FileResponse:
    run = find_run(request)
    name = request.match_info["file"]
    if name not in FILES or not (run.directory / name).is_file():
        raise HttpError(404, f"this simulation has no {name}")
    return web.FileResponse(run.directory / name, headers={"Content-Type": FILES[name],
                                                           "Cache-Control": "no-store"})
