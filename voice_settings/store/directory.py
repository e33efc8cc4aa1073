"""The directory store: one `<name>.toml` file per profile (the default store, profiles/).

A profile's version is a hash of its file's bytes, so an edit by hand changes it exactly as an
edit through the profile API does. Conditional writes hold an OS file lock (`flock` on
`.voice-profiles.lock` in the directory) around reading the file again, checking its version and
renaming the new file over it: any number of processes (token servers, CLIs) on one directory
never both win one `If-Match`. Readers take no lock: a write is a rename, so they see the old file
or the new one, never a part.

What counts: a regular file (or a link to one) named `<profile name>.toml`, at most
MAX_FILE_BYTES. Dotfiles (an editor's `.#patient.toml`), other names, directories, and dangling or
looping links are skipped with one log line each. An empty file is a broken profile (a write
caught half-way), not an empty one: a profile with no settings has at least a comment.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import watchfiles

from ..profile_files import delete_profile_file, version_of, write_profile
from ..profiles import (
    ProfileError,
    is_profile_name,
    leading_comment,
    profile_from_bytes,
    profile_toml,
)
from .base import Expect, StoreConflict, StoredProfile, StoreUnavailable, VersionMismatch

logger = logging.getLogger(__name__)

SUFFIX = ".toml"
LOCK_FILE = ".voice-profiles.lock"
MAX_FILE_BYTES = 256 * 1024
"""The largest profile file read; the largest valid profile (8000 characters of instructions and
a greeting) is far below. A bigger file is refused, never read whole on a call's event loop."""
POLL_WHILE_MISSING_S = 1.0


class DirectoryBackend:
    """Profiles as TOML files in one directory."""

    def __init__(self, directory: Path | str, required: bool = True) -> None:
        self.directory = Path(directory)
        self.required = required
        """False for the project's own profiles/: a deployment may run without it."""
        self.location = str(self.directory)
        self._skipped: set[tuple[str, str]] = set()

    # --- reading --------------------------------------------------------------------------
    def read_all(self) -> list[StoredProfile]:
        try:
            names = sorted(entry.name for entry in os.scandir(self.directory))
        except FileNotFoundError:
            if not self.required:
                return []
            raise StoreUnavailable(f"the profiles directory {self.location} does not "
                                   "exist") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read the profiles directory {self.location}: "
                                   f"{exc.strerror}") from None
        entries = []
        for file_name in names:
            if file_name.endswith(SUFFIX) and (entry := self._entry(file_name)) is not None:
                entries.append(entry)
        return entries

    def read(self, name: str) -> StoredProfile | None:
        if not is_profile_name(name):
            return None
        return self._entry(name + SUFFIX)

    def _entry(self, file_name: str) -> StoredProfile | None:
        """The profile in `file_name`, None when there is none or it is skipped (logged once)."""
        path = self.directory / file_name
        name = file_name.removesuffix(SUFFIX)
        if not is_profile_name(name):
            return self._skip(path, "not a profile name (lowercase letters, digits, - and _, "
                              "starting with a letter or digit)")
        try:
            data = _read_regular_file(path)
        except FileNotFoundError:
            if path.is_symlink():
                return self._skip(path, "a link to nothing")
            return None
        except _NotRegular as exc:
            return self._skip(path, str(exc))
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return self._skip(path, "a link that loops")
            return StoredProfile(name, "", str(path),
                                 problem=ProfileError(path, None, f"unreadable: {exc.strerror}"))
        version = version_of(data)
        problem = _size_problem(path, data)
        if problem is None:
            try:
                values, description = profile_from_bytes(path, data)
            except ProfileError as exc:
                problem = exc
        if problem is not None:
            return StoredProfile(name, version, str(path), problem=problem)
        return StoredProfile(name, version, str(path), values, description,
                             comment=leading_comment(data))

    def _skip(self, path: Path, reason: str) -> None:
        if (path.name, reason) not in self._skipped:
            self._skipped.add((path.name, reason))
            logger.warning("skipped %s: %s; it is not a profile", path, reason,
                           extra={"file": str(path), "reason": reason})
        return None

    # --- writing --------------------------------------------------------------------------
    def write(self, name: str, values: dict[str, Any], description: str, comment: str | None,
              expect: Expect) -> str:
        path = self.directory / f"{name}{SUFFIX}"
        with self._locked(), _store_faults(self.location, path):
            current = self.read(name)
            if not expect.holds(current):
                raise VersionMismatch(current)
            if os.path.lexists(path) and not path.is_file():
                raise StoreConflict(f"{path.name} in the profiles directory is not a regular "
                                    "file; an operator must move it away before this profile "
                                    "is written")
            if comment is None:
                comment = current.comment if current else ""
            return write_profile(path, profile_toml(values, description, comment))

    def delete(self, name: str, expect: Expect) -> None:
        path = self.directory / f"{name}{SUFFIX}"
        with self._locked(), _store_faults(self.location, path):
            current = self.read(name)
            if current is None or not expect.holds(current):
                raise VersionMismatch(current)
            delete_profile_file(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The directory's write lock, shared by every process writing to it."""
        if not self.directory.is_dir():
            raise StoreUnavailable(f"the profiles directory {self.location} does not exist; "
                                   "nothing was written")
        with _store_faults(self.location, self.directory / LOCK_FILE):
            descriptor = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    # --- following ------------------------------------------------------------------------
    async def changes(self) -> AsyncIterator[None]:
        """Yields after each change of a `*.toml` file (debounced 200 ms). Set
        WATCHFILES_FORCE_POLLING=1 on a network or bind mount that delivers no file events."""
        missing = False
        while True:
            if not self.directory.is_dir():
                if not missing:
                    logger.error("the profiles directory %s is gone; the last valid profiles "
                                 "stay in use", self.location, extra={"file": self.location})
                missing = True
                await asyncio.sleep(POLL_WHILE_MISSING_S)
                continue
            if missing:
                logger.info("the profiles directory %s is back", self.location)
                missing = False
                yield
            with contextlib.suppress(FileNotFoundError, RuntimeError):
                # Woken every second without a change too, to notice the directory going away.
                async for changed in watchfiles.awatch(self.directory, watch_filter=_toml_files,
                                                       debounce=200, rust_timeout=1000,
                                                       yield_on_timeout=True):
                    if not self.directory.is_dir():
                        break
                    if changed:
                        yield

    def close(self) -> None:
        pass


def _toml_files(change: watchfiles.Change, path: str) -> bool:
    return path.endswith(SUFFIX)


class _NotRegular(Exception):
    pass


def _read_regular_file(path: Path) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file (links followed); never blocks on a
    FIFO or a device that took the place of a file."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise _NotRegular(kind)
        with os.fdopen(os.dup(descriptor), "rb") as file:
            return file.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(descriptor)


def _size_problem(path: Path, data: bytes) -> ProfileError | None:
    if not data:
        return ProfileError(path, None, "is empty (0 bytes): a write caught half-way, or a "
                            "truncated file; a profile without settings holds a comment")
    if len(data) > MAX_FILE_BYTES:
        return ProfileError(path, None, f"is over {MAX_FILE_BYTES} bytes, the limit of a "
                            "profile file")
    return None


_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL = {errno.ENOSPC, errno.EDQUOT}


@contextlib.contextmanager
def _store_faults(location: str, path: Path) -> Iterator[None]:
    """OSErrors of a write as the store's faults: nothing was written, and why."""
    try:
        yield
    except IsADirectoryError:
        raise StoreConflict(f"{path.name} in the profiles directory is a directory; an "
                            "operator must move it away before this profile is written") from None
    except OSError as exc:
        if exc.errno in _READ_ONLY:
            why = "is read-only for the token server"
        elif exc.errno in _FULL:
            why = "is on a full disk"
        elif exc.errno == errno.ENOENT:
            why = "does not exist"
        else:
            why = f"cannot be written ({exc.strerror})"
        raise StoreUnavailable(f"the profiles directory {location} {why}; nothing was "
                               "written") from None
