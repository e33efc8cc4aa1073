"""Signing a join token: identity, grants, lifetime, metadata, attributes and the agents it
dispatches (`RoomConfiguration.agents`), and the reply livekit-client reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from livekit import api

from .credentials import Credentials


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

    @property
    def display_name(self) -> str:
        """The participant's name in the token and wherever a tool shows it (--json, the
        connection details, the summary): the name asked for, else the identity."""
        return self.name or self.identity


def video_grants(request: TokenRequest) -> api.VideoGrants:
    return api.VideoGrants(room_join=True, room=request.room,
                           can_update_own_metadata=request.allow_update_metadata or None)


def sign(credentials: Credentials, request: TokenRequest) -> str:
    token = (api.AccessToken(credentials.api_key, credentials.api_secret)
             .with_identity(request.identity).with_name(request.display_name)
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
            "room_name": request.room, "participant_name": request.display_name}
