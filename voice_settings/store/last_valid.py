"""The last valid profiles, handed from the worker's main process to its job processes.

Each job runs in a fresh process, which knows no earlier version of a profile that is broken now.
The main process (which checked the store at start-up and follows it) writes the last valid set to
a private file named by $VOICE_PROFILES_LAST_VALID, which job processes inherit; a job settles the
store over it, so a profile broken after start-up keeps serving its last valid version in new
calls too, and a store unreachable at a job's start serves the last valid set.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from ..profiles import ProfileStore

logger = logging.getLogger(__name__)

LAST_VALID_ENV = "VOICE_PROFILES_LAST_VALID"


def share_with_jobs(store: ProfileStore) -> None:
    """Create the file (removed at exit), name it in the environment job processes inherit,
    and write `store` to it."""
    directory = tempfile.mkdtemp(prefix="voice-profiles-")
    atexit.register(shutil.rmtree, directory, True)
    os.environ[LAST_VALID_ENV] = str(Path(directory) / "last-valid.json")
    remember(store)


def remember(store: ProfileStore) -> None:
    """Write `store` as the last valid set, atomically (a job may be reading it)."""
    path = os.environ.get(LAST_VALID_ENV)
    if not path:
        return
    document = {"location": store.location or str(store.directory),
                "default": store.default_name,
                "profiles": {name: {"values": store.profiles[name],
                                    "description": store.descriptions.get(name, "")}
                             for name in store.names()}}
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        Path(temporary).write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        logger.warning("could not keep the last valid profiles in %s: %s", path, exc.strerror)
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def recall(empty: ProfileStore) -> ProfileStore | None:
    """The last valid set for the store `empty` is an empty copy of, or None."""
    path = os.environ.get(LAST_VALID_ENV)
    if not path:
        return None
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if document.get("location") != (empty.location or str(empty.directory)):
        return None
    profiles = document["profiles"]
    return ProfileStore(empty.directory, {n: p["values"] for n, p in profiles.items()},
                        {n: p["description"] for n, p in profiles.items()},
                        document["default"], empty.location)
