"""A connection-details request read into a `TokenRequest`: the body TokenSource sends (proto
names or lowerCamel), sizes as LiveKit counts them, agents against the allow-list, and every
setting validated as the agent will validate it (400), operator-only settings refused (403)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from livekit import api

from ..errors import SettingsError
from ..keys import canonical_key
from ..model import OPERATOR_FIELDS
from ..parsing import decode
from ..profiles import ProfileStore
from ..resolution import resolve
from ..sources import Source
from .dispatch_settings import check_top_level_keys, top_level_settings, with_dispatch_settings
from .http_errors import HttpError
from .metadata import over_limit
from .serve_config import ServeConfig
from .signing import TokenRequest


def body_field(body: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    """A TokenSourceRequest field by its proto name, or by the lowerCamel JSON name."""
    camel = api.access_token.snake_to_lower_camel(name)
    value = body.get(name, body.get(camel, default))
    if value is None:
        return default
    if not isinstance(value, kind):
        raise HttpError(400, f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def check_size(name: str, value: str | Mapping[str, str]) -> None:
    if problem := over_limit(name, value):
        raise HttpError(413, problem)


def request_attributes(body: Mapping[str, Any]) -> dict[str, str]:
    attributes = body_field(body, "participant_attributes", dict, {})
    if not all(isinstance(v, str) for v in attributes.values()):
        raise HttpError(400, "participant_attributes values must be strings")
    check_size("participant_attributes", attributes)
    return attributes


def request_agents(body: Mapping[str, Any], config: ServeConfig) -> list[tuple[str, str]]:
    room_config = body_field(body, "room_config", dict, {})
    if refused := sorted(set(room_config) - {"agents"}):
        message = "may not be set by a client; only room_config.agents is accepted"
        raise HttpError(403, f"room_config.{', room_config.'.join(refused)} {message}",
                        [SettingsError(f"room_config.{key}", room_config[key], message).to_dict()
                         for key in refused])
    agents = []
    for entry in body_field(room_config, "agents", list, []):
        if not isinstance(entry, dict):
            raise HttpError(400, "room_config.agents entries must be objects")
        agents.append((body_field(entry, "agent_name", str, "") or config.default_agent or "",
                       body_field(entry, "metadata", str, "")))
    if not agents and config.default_agent:
        agents.append((config.default_agent, ""))
    for index, (name, metadata) in enumerate(agents):
        check_agent(index, name, config.allowed_agents)
        check_size("room_config.agents.metadata", metadata)
    return agents


def check_agent(index: int, name: str, allowed: frozenset[str]) -> None:
    if allowed and name not in allowed:
        message = f"agent {name!r} is not allowed; allowed: {', '.join(sorted(allowed))}"
        field_name = f"room_config.agents[{index}].agent_name"
        raise HttpError(403, message, [SettingsError(field_name, name, message).to_dict()])


OPERATOR_ONLY = "may only be set by the operator (profiles), not by a client"


def operator_settings_in(metadata: str, source: Source) -> list[SettingsError]:
    """An error for each operator-only setting in `metadata`, with the value given."""
    document, _ = decode(metadata)  # unreadable metadata: resolve() reports it as a 400
    found = {name: value for key, value in (document or {}).items()
             if (name := canonical_key(key)) in OPERATOR_FIELDS}
    return [SettingsError(name, found[name], f"{name} {OPERATOR_ONLY}", source)
            for name in sorted(found)]


def validate_request_settings(metadata: str, agents: Sequence[tuple[str, str]],
                              store: ProfileStore) -> None:
    # Operator-only fields choose (paid) models: a browser must not pick them, in either place.
    for raw, source in [(metadata, Source.PARTICIPANT), *((m, Source.DISPATCH) for _, m in agents)]:
        if refused := operator_settings_in(raw, source):
            names = ", ".join(e.field for e in refused)
            raise HttpError(403, f"{names} {OPERATOR_ONLY}", [e.to_dict() for e in refused])
    resolutions = [resolve(participant=metadata or None, dispatch=m or None, profiles=store)
                   for _, m in agents] or [resolve(participant=metadata or None, profiles=store)]
    errors = [e.to_dict() for r in resolutions for e in r.errors]
    if errors:
        raise HttpError(400, "invalid settings", errors)


def endpoint_token_request(body: Mapping[str, Any], config: ServeConfig,
                           store: ProfileStore) -> TokenRequest:
    check_top_level_keys(body)
    metadata = body_field(body, "participant_metadata", str, "")
    check_size("participant_metadata", metadata)
    attributes = request_attributes(body)
    agents = with_dispatch_settings(request_agents(body, config), top_level_settings(body),
                                    metadata)
    validate_request_settings(metadata, agents, store)
    return TokenRequest(
        room=body_field(body, "room_name", str, "") or f"voice-{secrets.token_hex(4)}",
        identity=body_field(body, "participant_identity", str, "")
        or f"user-{secrets.token_hex(4)}",
        name=body_field(body, "participant_name", str, ""), metadata=metadata,
        attributes=attributes, agents=agents, valid_for=config.valid_for)


