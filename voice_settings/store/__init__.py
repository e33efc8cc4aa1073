"""The profile store: one interface for named profiles (assistants), whatever keeps them.

    backend = open_backend()              # $VOICE_PROFILES_URL (PostgreSQL), else the directory
    store = load_strict(backend)          # start-up: every profile valid, or ProfileError
    entries = backend.read_all()          # each profile as stored, with its version (ETag)
    backend.write(name, values, description, comment, Expect(versions=frozenset({etag})))
    follower = StoreFollower(backend, store, on_change=...)   # the last valid set, followed

| backend | chosen by | version | conditional write | follows |
|---|---|---|---|---|
| `directory.py` | $VOICE_PROFILES_DIR, else profiles/ | file hash | file lock | inotify |
| `postgres.py` | $VOICE_PROFILES_URL=postgresql://... | random per write | one statement | LISTEN |

The agent (job start, live calls), `token_tool.py serve` (profile API, connection details) and
`python -m voice_settings profiles ...` all go through it; the rules of "rejected, last valid
version kept" are in `rules.py`, the one follower in `follow.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .. import profiles as _profiles
from ..profiles import PROFILES_DIR_ENV, ProfileError, ProfileStore
from .base import (
    Expect,
    ProfileBackend,
    StoreConflict,
    StoredProfile,
    StoreError,
    StoreUnavailable,
    VersionMismatch,
)
from .directory import DirectoryBackend
from .follow import StoreFollower
from .rules import (
    check_store,
    empty_store,
    load_lenient,
    load_strict,
    log_refused,
    settle,
    store_with,
    store_without,
)

PROFILES_URL_ENV = "VOICE_PROFILES_URL"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

__all__ = ["DirectoryBackend", "Expect", "ProfileBackend", "ProfileStore", "StoreConflict",
           "StoreError", "StoreFollower", "StoreUnavailable", "StoredProfile", "VersionMismatch",
           "check_store", "directory_backend", "empty_store", "load_directory", "load_lenient",
           "load_strict", "log_refused", "open_backend", "settle", "store_with", "store_without"]


def directory_backend(directory: Path | str | None = None,
                      env: Mapping[str, str] | None = None) -> DirectoryBackend:
    """The directory given, else $VOICE_PROFILES_DIR, else the project's profiles/ (which may be
    missing: no profiles). A directory that was asked for must exist."""
    env = os.environ if env is None else env
    asked = directory or env.get(PROFILES_DIR_ENV)
    return DirectoryBackend(Path(asked or _profiles.DEFAULT_PROFILES_DIR), required=bool(asked))


def load_directory(directory: Path | str | None = None,
                   default_name: str | None = None) -> ProfileStore:
    """Every profile of a directory (the argument, else $VOICE_PROFILES_DIR, else the project's
    profiles/), all valid; ProfileError for the first broken one, or a directory that was asked
    for and is not there. See `load_strict`."""
    backend = directory_backend(directory)
    try:
        return load_strict(backend, default_name)
    except StoreError as exc:
        raise ProfileError(backend.location, None, exc.message) from None


def open_backend(env: Mapping[str, str] | None = None,
                 directory: Path | str | None = None,
                 persistent: bool = True) -> ProfileBackend:
    """$VOICE_PROFILES_URL's database when it is set, else the directory store. `persistent`:
    keep a database connection open between statements (see PostgresBackend)."""
    env = os.environ if env is None else env
    url = env.get(PROFILES_URL_ENV, "").strip()
    if not url:
        return directory_backend(directory, env)
    if not url.startswith(POSTGRES_SCHEMES):
        raise StoreUnavailable(f"{PROFILES_URL_ENV} must be a postgresql:// URL; unset it to "
                               "use the profiles directory")
    from .postgres import PostgresBackend  # the driver is loaded only for a database store

    return PostgresBackend(url, persistent)
