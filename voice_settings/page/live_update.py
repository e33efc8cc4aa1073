"""`POST /api/calls/update`: change a live caller's settings during a call, through the server's
update path (`token_tool.py update`: validated, merged with the participant's metadata, sent with
RoomService.UpdateParticipant), for the page's Call panel.

    body {"room", "identity", "settings": {...}} with the admin bearer
    200 {"metadata", "live": [...], "next_session": [...]}; 400 invalid settings {error, errors};
    502 the LiveKit server failed or could not be reached (saying whether it may have applied);
    503 serve has no LiveKit credentials
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..tokens.credentials import Credentials
from ..tokens.http_errors import HttpError, check_bearer, json_body, read_body
from ..tokens.participant_update import (
    ParticipantUpdate,
    update_participant,
    update_patch,
    when_applied,
)
from ..tokens.settings_input import SettingsInput
from ..tool_errors import SettingsRejected, ToolError, UsageError
from .site import CurrentProfiles

UPDATE_PATH = "/api/calls/update"


@dataclass(frozen=True)
class LiveUpdateConfig:
    secret: str = field(repr=False)
    credentials: Credentials | None
    profiles: CurrentProfiles


LIVE = web.AppKey("live_update", LiveUpdateConfig)


def add_live_update_routes(app: web.Application, config: LiveUpdateConfig) -> None:
    app[LIVE] = config
    app.router.add_post(UPDATE_PATH, handle_update)


def text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HttpError(400, f"{name} must be a non-empty string")
    return value


async def handle_update(request: web.Request) -> web.Response:
    config = request.app[LIVE]
    check_bearer(request, config.secret)
    if config.credentials is None:
        raise HttpError(503, "serve has no LiveKit credentials, so no call can be updated")
    body = json_body(await read_body(request))
    room, identity = text_field(body, "room"), text_field(body, "identity")
    settings = body.get("settings")
    if not isinstance(settings, dict) or not settings:
        raise HttpError(400, "settings must be an object with at least one setting")
    store = config.profiles()
    try:
        patch = update_patch(SettingsInput(metadata=json.dumps(settings)), store)
        update = ParticipantUpdate(room, identity, patch)
        metadata = await update_participant(config.credentials, update, store, 10.0)
    except SettingsRejected as exc:
        raise HttpError(400, "invalid settings; nothing was sent",
                        [e.to_dict() for e in exc.errors]) from None
    except UsageError as exc:
        raise HttpError(400, str(exc)) from None
    except ToolError as exc:
        raise HttpError(502, str(exc)) from None
    live, later = when_applied(update)
    return web.json_response({"metadata": metadata, "live": live, "next_session": later})
