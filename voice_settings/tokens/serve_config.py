"""What `serve` is configured with: credentials, the profiles, who may call and for which agents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..json_input import MAX_DOCUMENT_BYTES
from ..profiles import ProfileStore
from ..store import ProfileBackend
from .credentials import Credentials

ENV_ALLOWED_AGENTS = "TOKEN_SERVER_ALLOWED_AGENTS"
DEFAULT_BODY_TIMEOUT_S = 10.0
MAX_BODY_BYTES = MAX_DOCUMENT_BYTES


@dataclass(frozen=True)
class ServeConfig:
    credentials: Credentials | None
    """None: no LiveKit credentials, so connection details answer 503 (the page still works)."""
    profiles: ProfileStore
    bearer_secret: str | None = field(default=None, repr=False)
    allowed_agents: frozenset[str] = frozenset()
    default_agent: str | None = None
    valid_for: dt.timedelta = dt.timedelta(minutes=15)
    cors_origins: frozenset[str] = frozenset({"*"})
    profiles_admin_secret: str | None = field(default=None, repr=False)
    """Turns the profile API on (profile_api.py); unset, its routes answer 404."""
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    """A request body that has not all arrived by then is answered 408."""
    backend: ProfileBackend | None = None
    """The store `profiles` was loaded from; None: the directory of `profiles`."""


def allowed_agents(names: Sequence[str], env: Mapping[str, str]) -> frozenset[str]:
    """The names given plus those in TOKEN_SERVER_ALLOWED_AGENTS=a,b; empty allows any."""
    allowed = set(names)
    allowed.update(a.strip() for a in env.get(ENV_ALLOWED_AGENTS, "").split(",") if a.strip())
    return frozenset(allowed)


