"""The profiles directory as the store: versions, atomic writes, and reloads that keep the last
valid version of a profile whose file went bad.

A profile's version is a hash of its file's bytes, so an edit by hand changes it exactly as an
edit through the profile API does. Writes go to a temporary file in the same directory, are
fsynced, then renamed over the old file: a reader (a worker, the token server) sees the old file
or the new one, never a part. Reloads never raise for a bad file: the store they return keeps
the last valid version of that profile and the error says why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import allowed
from .profiles import (
    ProfileError,
    ProfileStore,
    check_over_default,
    is_profile_name,
    profile_from_bytes,
)

logger = logging.getLogger(__name__)

PROFILE_SUFFIX = ".toml"
NEW_FILE_MODE = 0o644
"""Workers often run as another user than the API: a new profile must be readable by them."""


def version_of(data: bytes) -> str:
    """A profile's version: the first 128 bits of the SHA-256 of its file's bytes, in hex."""
    return hashlib.sha256(data).hexdigest()[:32]


def profile_path(directory: Path, name: str) -> Path:
    return directory / f"{name}{PROFILE_SUFFIX}"


@dataclass(frozen=True)
class ProfileFile:
    """One profile file as it is on disk now, valid or not."""

    name: str
    data: bytes = field(repr=False)
    version: str
    values: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    problem: ProfileError | None = None
    """Why the file is not a valid profile on its own; `values` is then empty."""


def read_profile_file(directory: Path, name: str) -> ProfileFile | None:
    """The file of profile `name`, or None when there is none. Never raises for bad content."""
    path = profile_path(directory, name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return ProfileFile(name, b"", "", problem=ProfileError(path, None, f"unreadable: {exc}"))
    try:
        values, description = profile_from_bytes(path, data)
    except ProfileError as exc:
        return ProfileFile(name, data, version_of(data), problem=exc)
    return ProfileFile(name, data, version_of(data), values, description)


def names_on_disk(directory: Path) -> list[str]:
    """The stem of every `*.toml` file, profile name or not."""
    return sorted(p.name.removesuffix(PROFILE_SUFFIX) for p in directory.glob(f"*{PROFILE_SUFFIX}"))


# --- Stores built from files -------------------------------------------------------------------


def store_with(store: ProfileStore, name: str, values: dict[str, Any],
               description: str) -> ProfileStore:
    """`store` with profile `name` added or replaced; a new "default" becomes the default when
    there was none, as `ProfileStore.load` would decide."""
    profiles = {**store.profiles, name: dict(values)}
    descriptions = {**store.descriptions, name: description}
    default = store.default_name or ("default" if name == "default" else None)
    return ProfileStore(store.directory, profiles, descriptions, default)


def store_without(store: ProfileStore, name: str) -> ProfileStore:
    profiles = {k: v for k, v in store.profiles.items() if k != name}
    descriptions = {k: v for k, v in store.descriptions.items() if k != name}
    return ProfileStore(store.directory, profiles, descriptions, store.default_name)


def check_store(store: ProfileStore) -> None:
    """ProfileError unless every profile is valid over the default, as at worker start."""
    if store.default_name:
        check_over_default(store.directory, store.profiles, store.default_name)


def _problem_over_default(store: ProfileStore, name: str) -> ProfileError | None:
    default = store.default_name
    if not default or name == default or name not in store.profiles:
        return None
    pair = {default: store.profiles[default], name: store.profiles[name]}
    try:
        check_over_default(store.directory, pair, default)
    except ProfileError as exc:
        return exc
    return None


# --- Reloading: what the token server and the workers call ------------------------------------


def reload_store(store: ProfileStore) -> tuple[ProfileStore, list[ProfileError]]:
    """Every profile of `store`'s directory read again; never raises.

    A file that is new or changed and valid replaces that profile; a deleted file removes it. A
    file that cannot be read, is not valid TOML, holds an invalid value, or is not valid over
    the default profile leaves the last valid version of that profile in the returned store
    (or no profile, if it never had a valid version), and one error in the list names the file,
    the field and the problem. The default profile is never removed: a deleted or broken default
    keeps its last valid version. A changed default that some profile is not valid over is
    refused as a whole, and that profile is named. A missing directory changes nothing.
    """
    if not store.directory.is_dir():
        return store, [ProfileError(store.directory, None, "the profiles directory is gone; "
                                    "the last valid profiles stay in use")]
    return _reload(store, sorted({*store.profiles, *names_on_disk(store.directory)}))


def reload_profile(store: ProfileStore, name: str) -> tuple[ProfileStore, ProfileError | None]:
    """Profile `name` read again, by the rules of `reload_store`; never raises."""
    if not store.directory.is_dir():
        new, errors = reload_store(store)
    else:
        new, errors = _reload(store, [name])
    return new, (errors[0] if errors else None)


def _reload(old: ProfileStore, names: list[str]) -> tuple[ProfileStore, list[ProfileError]]:
    errors: list[ProfileError] = []
    store = old
    for name in names:
        path = profile_path(old.directory, name)
        if not is_profile_name(name):
            errors.append(ProfileError(path, None, "the file name is not a profile name: "
                                       + allowed("profile")))
            continue
        file = read_profile_file(old.directory, name)
        if file is None and name == old.default_name:
            errors.append(ProfileError(path, None, "the default profile's file is gone; its last "
                                       "valid version stays in use"))
        elif file is None:
            store = store_without(store, name)
        elif file.problem is not None:
            errors.append(file.problem)
        else:
            store = store_with(store, file.name, file.values, file.description)
    store = _settle_default(old, store, errors)
    for name in sorted(store.profiles):
        if problem := _problem_over_default(store, name):
            errors.append(problem)
            store = (store_with(store, name, old.profiles[name], old.descriptions[name])
                     if name in old.profiles else store_without(store, name))
    return store, errors


def _settle_default(old: ProfileStore, new: ProfileStore,
                    errors: list[ProfileError]) -> ProfileStore:
    """`new`, or `new` with the old default profile back when some profile of `new` is not
    valid over its new version: a default changes every call, so it must fit every profile."""
    default = new.default_name
    if not default or new.profiles[default] == old.profiles.get(default):
        return new
    conflicts = [p for name in sorted(new.profiles) if (p := _problem_over_default(new, name))]
    if not conflicts:
        return new
    errors.append(ProfileError(profile_path(new.directory, default), None,
                               f"refused as the default profile: {conflicts[0].path} is not "
                               f"valid over it ({conflicts[0].problem})"))
    if default in old.profiles:
        return store_with(new, default, old.profiles[default], old.descriptions[default])
    without = store_without(new, default)
    return ProfileStore(new.directory, without.profiles, without.descriptions, old.default_name)


def _directory_state(directory: Path) -> tuple[tuple[Any, ...], ...] | None:
    """What changes when a profile file is written, replaced or deleted (cheap: stat only)."""
    try:
        entries = [e for e in os.scandir(directory) if e.name.endswith(PROFILE_SUFFIX)]
        stats = [(e.name, e.stat()) for e in entries]
    except OSError:
        return None
    return tuple(sorted((name, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns)
                        for name, s in stats))


_NEVER_SEEN = object()


class ProfileLibrary:
    """The last valid profiles of one directory, reloaded (with `reload_store`) whenever a file
    in it was written, replaced or deleted since the last call of `current()`."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self.problems: dict[str, ProfileError] = {}
        """The files refused by the last reload, by profile name (file stem)."""
        self._seen: object = _NEVER_SEEN

    def current(self) -> ProfileStore:
        seen = _directory_state(self.store.directory)
        if seen == self._seen:
            return self.store
        self._seen = seen
        old = self.store
        self.store, errors = reload_store(old)
        self.problems = {Path(e.path).name.removesuffix(PROFILE_SUFFIX): e for e in errors}
        _log_reload(old, self.store, errors)
        return self.store


def _log_reload(old: ProfileStore, new: ProfileStore, errors: list[ProfileError]) -> None:
    changed = sorted(n for n in {*old.profiles, *new.profiles}
                     if (old.profiles.get(n), old.descriptions.get(n))
                     != (new.profiles.get(n), new.descriptions.get(n)))
    if changed:
        logger.info("profiles reloaded from %s: changed=%s in_use=%s default=%s", new.directory,
                    ",".join(changed), ",".join(new.names()), new.default_name)
    for error in errors:
        logger.warning("profile refused, last valid version kept: %s", error)


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
