"""Changing a live participant's settings through RoomService.UpdateParticipant: the patch is
validated first, merged with the participant's current metadata unless replacing, and the
merged result is validated again before it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from livekit import api

from ..keys import canonical_key
from ..model import LIVE_FIELDS
from ..profiles import ProfileStore
from ..resolution import resolve
from ..tool_errors import ToolError, UsageError
from .credentials import Credentials
from .metadata import encode, json_object, with_values, without_fields
from .settings_input import (
    NOTHING_SENT,
    SettingsInput,
    app_metadata,
    checked,
    note_unknown_keys,
    requested_settings,
)


@dataclass(frozen=True)
class ParticipantUpdate:
    room: str
    identity: str
    patch: Mapping[str, Any]
    unset: Sequence[str] = ()
    """Keys to remove, any spelling of a field."""
    replace: bool = False


def update_patch(asked: SettingsInput, store: ProfileStore) -> dict[str, Any]:
    participant, operator = requested_settings(asked)
    if operator:
        raise UsageError(f"{', '.join(operator)}: operator-only, fixed for the job by the "
                          "dispatch metadata; a live participant update cannot change it")
    patch = with_values(app_metadata(asked), participant)
    checked(resolve(participant=encode(patch, "metadata") or None, profiles=store),
            NOTHING_SENT)
    return patch


def merged_metadata(current: str, patch: Mapping[str, Any], unset: Sequence[str],
                    replace: bool) -> dict[str, Any]:
    if replace:
        return dict(patch)
    try:
        document = json_object(current, "current metadata")
    except UsageError:
        raise ToolError("the participant's current metadata is not a JSON object; "
                        "use --replace to overwrite it") from None
    return with_values(without_fields(document, unset), patch)


async def update_participant(credentials: Credentials, update: ParticipantUpdate,
                             store: ProfileStore) -> str:
    unset = [canonical_key(k) or k for k in update.unset]
    async with api.LiveKitAPI(credentials.url, credentials.api_key,
                              credentials.api_secret) as lkapi:
        current = ""
        if not update.replace:
            who = api.RoomParticipantIdentity(room=update.room, identity=update.identity)
            current = (await lkapi.room.get_participant(who)).metadata
        merged = merged_metadata(current, update.patch, unset, update.replace)
        metadata = encode(merged, "metadata")
        note_unknown_keys(checked(resolve(participant=metadata or None, profiles=store),
                                  NOTHING_SENT))
        request = api.UpdateParticipantRequest(room=update.room, identity=update.identity,
                                               metadata=metadata)
        await lkapi.room.update_participant(request)
    return metadata


def send_update(credentials: Credentials, update: ParticipantUpdate,
                store: ProfileStore) -> str:
    """The participant's metadata after the update; a server or network failure is a ToolError."""
    try:
        return asyncio.run(update_participant(credentials, update, store))
    except api.ServerError as exc:
        raise ToolError(f"LiveKit server refused: {exc.code}: {exc.message}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ToolError(f"cannot reach {credentials.url}: {exc}") from None


def when_applied(update: ParticipantUpdate) -> tuple[list[str], list[str]]:
    """(fields that apply live, from the agent's next reply; fields that wait for the next
    session) among those the update changes."""
    changed = sorted({canonical_key(k) for k in [*update.patch, *update.unset]} - {None})
    live = [name for name in changed if name in LIVE_FIELDS]
    return live, [name for name in changed if name not in LIVE_FIELDS]
