"""`POST /api/settings/validate`: a caller's settings checked as the agent checks them, for the
page's caller panel (and any app's settings screen).

The body is the participant metadata an app would put into the token (a JSON object; keys that
name no setting belong to the app and pass through). 200 {"metadata", "settings", "sources",
"passed_through"}: the metadata text as it would be signed, and what the call would run with;
400 {"error", "errors": [{field, value, message, source}], "metadata"}: the agent's own messages
(`resolve`), operator-only settings included. Nothing is signed or stored.
"""

from __future__ import annotations

import json

from aiohttp import web

from ..resolution import resolve
from ..tokens.http_errors import HttpError, json_body, read_body
from ..tokens.metadata import over_limit
from .site import CurrentProfiles

VALIDATE_PATH = "/api/settings/validate"
PROFILES = web.AppKey("caller_profiles", CurrentProfiles)


def add_caller_routes(app: web.Application, profiles: CurrentProfiles) -> None:
    app[PROFILES] = profiles
    app.router.add_post(VALIDATE_PATH, handle_validate)


async def handle_validate(request: web.Request) -> web.Response:
    document = json_body(await read_body(request), what="participant metadata")
    metadata = json.dumps(document, ensure_ascii=False, separators=(",", ":")) if document \
        else ""
    if problem := over_limit("participant metadata", metadata):
        raise HttpError(413, problem)
    resolution = resolve(participant=metadata or None, profiles=request.app[PROFILES]())
    errors = [e.to_dict() for e in resolution.errors]
    if errors:
        return web.json_response({"error": "invalid settings", "errors": errors,
                                  "metadata": metadata}, status=400)
    return web.json_response({
        "metadata": metadata,
        "settings": resolution.settings.model_dump(mode="json"),
        "sources": {name: source.value for name, source in resolution.sources.items()},
        "passed_through": [key for _, key in resolution.unknown_keys],
    })
