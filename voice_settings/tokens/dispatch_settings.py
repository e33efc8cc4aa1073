"""Settings an admin screen sends beside TokenSource's fields in POST /api/connection-details:
`systemPrompt` / `system_prompt`, `assistantId` / `assistant_id` and `profile`, at the top level.

They are meant for the agent, so they travel in the dispatch metadata of every agent the request
dispatches (not in the participant's metadata, which a participant allowed to update its own
metadata could rewrite), and are validated there like every other setting. Nothing a client sends
is dropped silently: a top-level key that is neither a TokenSource field nor one of these is
refused, and so is such a setting when no agent is dispatched (it could not arrive) or when the
same setting is also in an agent's or the participant's metadata (the client must say which).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from livekit.api.access_token import snake_to_lower_camel

from ..errors import SettingsError
from ..json_input import JsonInputError, read_json_object
from ..keys import canonical_key
from ..parsing import decode
from .http_errors import HttpError
from .metadata import over_limit

TOKEN_SOURCE_FIELDS = ("room_name", "participant_name", "participant_identity",
                       "participant_metadata", "participant_attributes", "room_config")
"""What livekit-client's TokenSource.endpoint sends, by proto name (lowerCamel is taken too)."""

TOP_LEVEL_SETTINGS = {"systemPrompt": "instructions", "system_prompt": "instructions",
                      "assistantId": "assistant_id", "assistant_id": "assistant_id",
                      "profile": "profile"}
"""Top-level key -> the setting it gives."""

ACCEPTED_KEYS = frozenset({*TOKEN_SOURCE_FIELDS, *map(snake_to_lower_camel, TOKEN_SOURCE_FIELDS),
                           *TOP_LEVEL_SETTINGS})


def check_top_level_keys(body: Mapping[str, Any]) -> None:
    """400 naming every top-level key this endpoint does not take."""
    unknown = sorted(k for k in body if k not in ACCEPTED_KEYS)
    if not unknown:
        return
    accepted = ", ".join(sorted(ACCEPTED_KEYS))
    message = "not a field of this endpoint; nothing was signed"
    errors = [SettingsError(k, body[k], message).to_dict() for k in unknown]
    raise HttpError(400, f"unknown top-level field {', '.join(unknown)}: {message}. "
                    f"Accepted: {accepted}", errors)


def top_level_settings(body: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """setting -> (the key it was sent as, its value), as given (validated later, in place)."""
    found: dict[str, tuple[str, Any]] = {}
    for key, name in TOP_LEVEL_SETTINGS.items():
        if key not in body:
            continue
        if name in found:
            raise HttpError(400, f"{found[name][0]} and {key} both give {name}; send one",
                            [SettingsError(name, body[key], "given twice").to_dict()])
        found[name] = (key, body[key])
    return found


def with_dispatch_settings(agents: Sequence[tuple[str, str]],
                           settings: Mapping[str, tuple[str, Any]],
                           participant_metadata: str) -> list[tuple[str, str]]:
    """`agents` (name, dispatch metadata) with `settings` added to each one's metadata."""
    if not settings:
        return list(agents)
    keys = ", ".join(key for key, _ in settings.values())
    if not agents:
        message = ("can only reach the agent in its dispatch metadata, and this request "
                   "dispatches no agent: name one in room_config.agents")
        raise HttpError(400, f"{keys} {message}", [SettingsError(key, value, message).to_dict()
                                                   for key, value in settings.values()])
    participant, _ = decode(participant_metadata or None)  # unreadable: reported as a 400 later
    _check_given_once(participant or {}, settings, "participant_metadata")
    return [(name, _merged(metadata, settings, f"room_config.agents[{index}].metadata", keys))
            for index, (name, metadata) in enumerate(agents)]


def _merged(metadata: str, settings: Mapping[str, tuple[str, Any]], where: str,
            keys: str) -> str:
    try:
        document = read_json_object(metadata, what=where)
    except JsonInputError as exc:
        raise HttpError(400, f"{exc.message}; {keys} cannot be added to it") from None
    _check_given_once(document, settings, where)
    document.update({name: value for name, (_, value) in settings.items()})
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if problem := over_limit(where, text):
        raise HttpError(413, problem)
    return text


def _check_given_once(document: Mapping[str, Any], settings: Mapping[str, tuple[str, Any]],
                      where: str) -> None:
    for key in document:
        if (name := canonical_key(key)) in settings:
            raise HttpError(400, f"{name} is given twice, at the top level as "
                            f"{settings[name][0]} and as {key} in {where}; send it once",
                            [SettingsError(name, document[key], "given twice").to_dict()])
