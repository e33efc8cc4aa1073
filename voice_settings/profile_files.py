"""Profile files on disk: their version, and writes that a reader never sees half-done.

Writes go to a temporary file in the same directory, are fsynced, then renamed over the old file:
a reader (a worker, the token server) sees the old file or the new one, never a part. The
directory store (`voice_settings.store.directory`) holds its lock around them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path

NEW_FILE_MODE = 0o644
"""Workers often run as another user than the API: a new profile must be readable by them."""


def version_of(data: bytes) -> str:
    """A profile's version: the first 128 bits of the SHA-256 of its file's bytes, in hex."""
    return hashlib.sha256(data).hexdigest()[:32]


# --- Writing -----------------------------------------------------------------------------------


def created_comment(name: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return (f"{name}: created through the profile API (token_tool.py serve) on "
            f"{now:%Y-%m-%d %H:%M} UTC.\nEdit it there or here: either way its version changes.")


def write_profile(path: Path, text: str) -> str:
    """Replace `path` with `text` atomically and durably; return the new version."""
    data = text.encode("utf-8")
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)
    return version_of(data)


def delete_profile_file(path: Path) -> None:
    path.unlink()
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename or unlink itself durable (the file's data was fsynced before)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
