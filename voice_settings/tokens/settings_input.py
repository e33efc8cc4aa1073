"""Join tokens that carry validated settings: the participant and dispatch metadata built from
what a command line asks for, checked with `resolve` before anything is signed, and the signing.

Participant metadata carries what a participant may set; operator-only fields travel in the
agent dispatch metadata.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from livekit import api

from ..json_input import (
    MAX_DOCUMENT_BYTES,
    MAX_METADATA_BYTES,
    JsonInputError,
    read_json_object,
)
from ..keys import canonical_key, split_by_audience
from ..parsing import parse_assignment
from ..profiles import ProfileStore
from ..sources import Resolution, resolve
from ..tool_errors import NOTHING_SIGNED, settings_rejected, usage_error
from .credentials import Credentials

# --- Metadata documents ------------------------------------------------------------------------


def with_values(document: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """`document` with `values` set; a key spelling the same field differently is replaced."""
    names = {canonical_key(k) or k for k in values}
    kept = {k: v for k, v in document.items() if (canonical_key(k) or k) not in names}
    return {**kept, **values}


def without_fields(document: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    dropped = set(names)
    return {k: v for k, v in document.items() if (canonical_key(k) or k) not in dropped}


def json_object(text: str, what: str, max_bytes: int = MAX_METADATA_BYTES) -> dict[str, Any]:
    try:
        return read_json_object(text, what=what, max_bytes=max_bytes)
    except JsonInputError as exc:
        raise usage_error(exc.message) from None


def json_file(path: str, what: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage_error(f"{what}: cannot read {path}: {exc}") from None
    return json_object(text, what, MAX_DOCUMENT_BYTES)


def over_limit(what: str, value: str | Mapping[str, str]) -> str | None:
    """Why a metadata value or a participant's attributes are too large, or None when they fit.

    Measured as LiveKit does: the UTF-8 bytes of the metadata; for attributes, of every key and
    value together (LiveKit stores the map, not the JSON it travels in)."""
    parts = [value] if isinstance(value, str) else [*value.keys(), *value.values()]
    size = sum(len(part.encode("utf-8")) for part in parts)
    if size > MAX_METADATA_BYTES:
        return f"{what} is {size} bytes, over the {MAX_METADATA_BYTES} byte limit"
    return None


def encode(document: Mapping[str, Any], what: str) -> str:
    if not document:
        return ""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if problem := over_limit(what, text):
        raise usage_error(problem)
    return text


# --- Settings asked for ------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsInput:
    """Settings as a command line asks for them: --set KEY=VALUE items, --instructions,
    --profile, and the app's own metadata as --metadata text or a --metadata-file path."""

    assignments: Sequence[str] = ()
    instructions: str | None = None
    profile: str | None = None
    metadata: str | None = None
    metadata_file: str | None = None


def assignments(items: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        try:
            name, value = parse_assignment(item)
        except ValueError as exc:
            raise usage_error(f"--set {item!r}: {exc}") from None
        values[name] = value
    return values


def requested_settings(asked: SettingsInput) -> tuple[dict[str, Any], dict[str, Any]]:
    """(participant values, operator-only values) asked for by --set, --instructions, --profile."""
    participant, operator = split_by_audience(assignments(asked.assignments))
    if asked.instructions is not None:
        participant["instructions"] = asked.instructions
    if asked.profile is not None:
        participant["profile"] = asked.profile
    return participant, operator


def app_metadata(asked: SettingsInput) -> dict[str, Any]:
    if asked.metadata_file:
        return json_file(asked.metadata_file, "--metadata-file")
    return json_object(asked.metadata or "", "--metadata")


def checked(resolution: Resolution, consequence: str = NOTHING_SIGNED) -> Resolution:
    """`resolution`, or a usage error listing its errors and saying what was not done."""
    if resolution.errors:
        raise settings_rejected(resolution.errors, consequence)
    return resolution


def note_unknown_keys(resolution: Resolution) -> None:
    for source, key in resolution.unknown_keys:
        print(f"note: {key!r} in {source} metadata is not a setting; passed through untouched",
              file=sys.stderr)


@dataclass(frozen=True)
class TokenMetadata:
    participant: str
    dispatch: str
    resolution: Resolution


def mint_metadata(asked: SettingsInput, job_metadata: str | None, agent: str | None,
                  store: ProfileStore) -> TokenMetadata:
    participant_values, operator_values = requested_settings(asked)
    participant = encode(with_values(app_metadata(asked), participant_values), "metadata")
    job = with_values(json_object(job_metadata or "", "--job-metadata"), operator_values)
    if job and not agent:
        what = ", ".join(operator_values) if operator_values else "--job-metadata"
        raise usage_error(f"{what}: operator-only settings and --job-metadata travel in the "
                          "agent dispatch metadata, which needs --agent NAME")
    dispatch = encode(job, "dispatch metadata")
    resolution = resolve(participant=participant or None, dispatch=dispatch or None,
                         profiles=store)
    return TokenMetadata(participant, dispatch, checked(resolution))


def attributes(items: Sequence[str], attribute_file: str | None) -> dict[str, str]:
    """Participant attributes from --attribute-file (a JSON object) and --attribute KEY=VALUE."""
    found: dict[str, str] = {}
    if attribute_file:
        document = json_file(attribute_file, "--attribute-file")
        if not all(isinstance(v, str) for v in document.values()):
            raise usage_error("--attribute-file: every attribute value must be a string")
        found.update(document)
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise usage_error(f"--attribute {item!r}: expected KEY=VALUE")
        found[key] = value
    if problem := over_limit("attributes", found):
        raise usage_error(problem)
    return found


# --- Signing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRequest:
    room: str
    identity: str
    name: str = ""
    metadata: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    agents: Sequence[tuple[str, str]] = ()
    """(agent_name, dispatch metadata) pairs."""
    valid_for: dt.timedelta = dt.timedelta(minutes=15)
    allow_update_metadata: bool = False


def video_grants(request: TokenRequest) -> api.VideoGrants:
    return api.VideoGrants(room_join=True, room=request.room,
                           can_update_own_metadata=request.allow_update_metadata or None)


def sign(credentials: Credentials, request: TokenRequest) -> str:
    token = (api.AccessToken(credentials.api_key, credentials.api_secret)
             .with_identity(request.identity).with_name(request.name)
             .with_metadata(request.metadata).with_grants(video_grants(request))
             .with_ttl(request.valid_for))
    if request.attributes:
        token.with_attributes(dict(request.attributes))
    if request.agents:
        dispatches = [api.RoomAgentDispatch(agent_name=n, metadata=m) for n, m in request.agents]
        token.with_room_config(api.RoomConfiguration(agents=dispatches))
    return token.to_jwt()


def grants_json(grants: api.VideoGrants) -> dict[str, Any]:
    """The grants as the token's `video` claim spells them (and `lk token create --json`)."""
    return {api.access_token.snake_to_lower_camel(k): v for k, v in asdict(grants).items()
            if v is not None and v != ""}


def connection_details(credentials: Credentials, request: TokenRequest, token: str) -> dict:
    """The reply livekit-client's TokenSource.endpoint reads."""
    return {"server_url": credentials.url, "participant_token": token,
            "room_name": request.room, "participant_name": request.name or request.identity}
