"""Changing a live participant's settings through RoomService.UpdateParticipant: the patch is
validated first, merged with the participant's current metadata unless replacing, and the
merged result is validated again before it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from google.protobuf.message import DecodeError
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

DEFAULT_TIMEOUT_S = 10.0
"""The whole update (read, merge, write) ends with an error after this long."""


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


NOTHING_CHANGED = "nothing was changed"
MAYBE_APPLIED = ("the change may or may not have been applied (running the same update again is "
                 "safe)")


@dataclass(frozen=True)
class RoomServiceCalls:
    """Each RoomService call of one update, under one overall deadline, its failures told as
    what they mean for the participant: nothing changed, or a change that may have landed.

    livekit-api 1.2.2's Twirp client passes `timeout=None`, so without this deadline a call
    that is accepted but never answered blocks forever."""

    url: str
    timeout_s: float
    deadline: float

    async def call(self, method: str, request: Awaitable[api.ParticipantInfo],
                   sent_a_write: bool) -> api.ParticipantInfo:
        unsure = MAYBE_APPLIED if sent_a_write else NOTHING_CHANGED
        try:
            async with asyncio.timeout_at(self.deadline):
                return await request
        except TimeoutError:
            raise ToolError(f"no answer from {self.url} to {method} within "
                            f"{self.timeout_s:g} s (--timeout); {unsure}") from None
        except DecodeError:
            raise ToolError(f"{self.url} answered {method} with a reply that is not a "
                            f"ParticipantInfo (is LIVEKIT_URL a LiveKit server?); {unsure}"
                            ) from None
        except api.ServerError as exc:
            if exc.status >= 500:  # the server failed, maybe after writing
                raise ToolError(f"LiveKit server failed {method} with {exc.status} {exc.code}: "
                                f"{exc.message}; {unsure}") from None
            refused = "the change was not applied" if sent_a_write else NOTHING_CHANGED
            raise ToolError(f"LiveKit server refused {method}: {exc.code}: {exc.message}; "
                            f"{refused}") from None
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise ToolError(f"cannot reach {self.url}: {exc}; {NOTHING_CHANGED}") from None
        except aiohttp.ClientError as exc:
            raise ToolError(f"{method} to {self.url} failed: {exc}; {unsure}") from None


async def update_participant(credentials: Credentials, update: ParticipantUpdate,
                             store: ProfileStore, timeout_s: float) -> str:
    unset = [canonical_key(k) or k for k in update.unset]
    calls = RoomServiceCalls(credentials.url, timeout_s,
                             asyncio.get_running_loop().time() + timeout_s)
    async with api.LiveKitAPI(credentials.url, credentials.api_key,
                              credentials.api_secret) as lkapi:
        current = ""
        if not update.replace:
            who = api.RoomParticipantIdentity(room=update.room, identity=update.identity)
            current = (await calls.call("GetParticipant", lkapi.room.get_participant(who),
                                        sent_a_write=False)).metadata
        merged = merged_metadata(current, update.patch, unset, update.replace)
        metadata = encode(merged, "metadata")
        note_unknown_keys(checked(resolve(participant=metadata or None, profiles=store),
                                  NOTHING_SENT))
        request = api.UpdateParticipantRequest(room=update.room, identity=update.identity,
                                               metadata=metadata)
        await calls.call("UpdateParticipant", lkapi.room.update_participant(request),
                         sent_a_write=True)
    return metadata


def send_update(credentials: Credentials, update: ParticipantUpdate, store: ProfileStore,
                timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """The participant's metadata after the update; a server or network failure, or no answer
    within `timeout_s` seconds for the whole update, is a ToolError saying whether the change
    may have been applied."""
    return asyncio.run(update_participant(credentials, update, store, timeout_s))


def when_applied(update: ParticipantUpdate) -> tuple[list[str], list[str]]:
    """(fields that apply live, from the agent's next reply; fields that wait for the next
    session) among those the update changes."""
    changed = sorted({canonical_key(k) for k in [*update.patch, *update.unset]} - {None})
    live = [name for name in changed if name in LIVE_FIELDS]
    return live, [name for name in changed if name not in LIVE_FIELDS]
