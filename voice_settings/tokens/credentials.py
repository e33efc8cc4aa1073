"""LiveKit credentials for token_tool: LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from
the environment over ./.env.local, or the key pair of a local `livekit-server --dev`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from ..tool_errors import ToolError

DEV_URL, DEV_API_KEY, DEV_API_SECRET = "ws://localhost:7880", "devkey", "secret"
ENV_URL, ENV_KEY, ENV_SECRET = "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"
CREDENTIALS_HELP = f"""\
Credentials: {ENV_URL}, {ENV_KEY}, {ENV_SECRET} from the environment or ./.env.local
(the environment wins), never on the command line."""
MISSING_CREDENTIALS = (f"set {ENV_URL}, {ENV_KEY} and {ENV_SECRET} (environment or ./.env.local) "
                       "and restart serve, or restart it with --dev for a local "
                       "`livekit-server --dev`")
DEV_HELP = (f"use a local `livekit-server --dev`: key {DEV_API_KEY}, secret {DEV_API_SECRET}, "
            f"url {DEV_URL}")


@dataclass(frozen=True)
class Credentials:
    url: str
    api_key: str
    api_secret: str = field(repr=False)


def environment(cwd: Path | None = None) -> dict[str, str]:
    """The real environment over ./.env.local: a value exported in the shell always wins."""
    path = (cwd or Path.cwd()) / ".env.local"
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {**from_file, **os.environ}


def load_credentials(env: Mapping[str, str], *, dev: bool, need_url: bool = True) -> Credentials:
    if dev:
        return Credentials(DEV_URL, DEV_API_KEY, DEV_API_SECRET)
    needed = [ENV_URL, ENV_KEY, ENV_SECRET] if need_url else [ENV_KEY, ENV_SECRET]
    missing = [name for name in needed if not env.get(name, "").strip()]
    if missing:
        raise ToolError(
            f"{', '.join(missing)} not set: export {'them' if len(missing) > 1 else 'it'} or add "
            "to ./.env.local (or pass --dev for a local `livekit-server --dev`)"
        )
    return Credentials(env.get(ENV_URL, "").strip(), env[ENV_KEY].strip(), env[ENV_SECRET].strip())
