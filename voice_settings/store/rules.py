"""The rules every store follows when profiles change under running workers: a profile that went
bad (or vanished) keeps its last valid version, the default is never lost, and a default must fit
every profile. One vocabulary for the outcome: "profile rejected, last valid version kept".

`load_strict` is the start-up check (a broken store stops the worker before it starts);
`settle` is everything later (never raises: it returns the errors to log).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from ..profiles import DEFAULT_PROFILE_ENV, ProfileError, ProfileStore, check_over_default
from .base import ProfileBackend, StoredProfile

logger = logging.getLogger(__name__)


def empty_store(backend: ProfileBackend) -> ProfileStore:
    return ProfileStore(backend.directory, location=backend.location)


def load_strict(backend: ProfileBackend, default_name: str | None = None) -> ProfileStore:
    """Every profile of the store, all valid: ProfileError for the first broken one (StoreError
    when the store cannot be read).

    The default profile is `default_name`, else $VOICE_DEFAULT_PROFILE, else "default" when that
    profile exists. A default that was asked for by name must exist.
    """
    entries = backend.read_all()
    for entry in entries:
        if entry.problem is not None:
            raise entry.problem
    store = empty_store(backend)
    profiles = {e.name: e.values for e in entries}
    asked = default_name or os.environ.get(DEFAULT_PROFILE_ENV)
    if asked and asked not in profiles:
        raise ProfileError(store.where(asked), None,
                           f"the default profile {asked!r} does not exist")
    default = asked or ("default" if "default" in profiles else None)
    store = ProfileStore(store.directory, profiles, {e.name: e.description for e in entries},
                         default, store.location)
    if default:
        check_over_default(store, profiles, default)
    return store


def load_lenient(backend: ProfileBackend, previous: ProfileStore | None = None,
                 default_name: str | None = None) -> tuple[ProfileStore, list[ProfileError]]:
    """The store as it is now over `previous` (the last valid profiles known), never raising for
    a profile: what a job and a live call use. Without `previous`, a strictly valid store if the
    store is one, else the valid profiles of it."""
    if previous is None:
        try:
            return load_strict(backend, default_name), []
        except ProfileError:
            previous = empty_store(backend)
    asked = default_name or os.environ.get(DEFAULT_PROFILE_ENV)
    store, errors = settle(previous, backend.read_all())
    if store.default_name is None and asked and asked in store:
        store = ProfileStore(store.directory, store.profiles, store.descriptions, asked,
                             store.location)
    return store, errors


# --- Settling: the rules of a reload ------------------------------------------------------------


def store_with(store: ProfileStore, name: str, values: dict, description: str) -> ProfileStore:
    """`store` with profile `name` added or replaced; a new "default" becomes the default when
    there was none, as `load_strict` would decide."""
    default = store.default_name or ("default" if name == "default" else None)
    return ProfileStore(store.directory, {**store.profiles, name: dict(values)},
                        {**store.descriptions, name: description}, default, store.location)


def store_without(store: ProfileStore, name: str) -> ProfileStore:
    profiles = {k: v for k, v in store.profiles.items() if k != name}
    descriptions = {k: v for k, v in store.descriptions.items() if k != name}
    return ProfileStore(store.directory, profiles, descriptions, store.default_name,
                        store.location)


def check_store(store: ProfileStore) -> None:
    """ProfileError unless every profile is valid over the default, as at worker start."""
    if store.default_name:
        check_over_default(store, store.profiles, store.default_name)


def settle(old: ProfileStore, entries: Iterable[StoredProfile],
           names: Iterable[str] | None = None) -> tuple[ProfileStore, list[ProfileError]]:
    """The profiles `names` (default: all) as stored now (`entries`), over `old`; never raises.

    A profile that is new or changed and valid replaces it; a deleted one is removed. One that
    cannot be read, is not valid TOML, holds an invalid value, or is not valid over the default
    profile keeps its last valid version (or is not served, if it never had one), and one error
    names its file (or row), the field and the problem. The default profile is never removed. A
    changed default that some profile is not valid over is refused as a whole, naming it.
    """
    stored = {entry.name: entry for entry in entries}
    names = sorted({*old.profiles, *stored}) if names is None else list(names)
    errors: list[ProfileError] = []
    store = old
    for name in names:
        entry = stored.get(name)
        if entry is None and name == old.default_name:
            errors.append(ProfileError(old.where(name), None, "the default profile is gone; its "
                                       "last valid version stays in use"))
        elif entry is None:
            store = store_without(store, name)
        elif entry.problem is not None:
            errors.append(entry.problem)
        else:
            store = store_with(store, name, entry.values, entry.description)
    store = _settle_default(old, store, errors)
    for name in sorted(store.profiles):
        if problem := _problem_over_default(store, name):
            errors.append(problem)
            store = (store_with(store, name, old.profiles[name], old.descriptions[name])
                     if name in old.profiles else store_without(store, name))
    return store, errors


def _problem_over_default(store: ProfileStore, name: str) -> ProfileError | None:
    default = store.default_name
    if not default or name == default or name not in store.profiles:
        return None
    try:
        check_over_default(store, {default: store.profiles[default],
                                   name: store.profiles[name]}, default)
    except ProfileError as exc:
        return exc
    return None


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
    errors.append(ProfileError(new.where(default), None,
                               f"refused as the default profile: {conflicts[0].path} is not "
                               f"valid over it ({conflicts[0].problem})"))
    if default in old.profiles:
        return store_with(new, default, old.profiles[default], old.descriptions[default])
    without = store_without(new, default)
    return ProfileStore(new.directory, without.profiles, without.descriptions, old.default_name,
                        new.location)


# --- Saying so: one line per decision -----------------------------------------------------------


def log_settled(old: ProfileStore, new: ProfileStore) -> None:
    """One line for the profiles that changed."""
    changed = sorted(n for n in {*old.profiles, *new.profiles}
                     if (old.profiles.get(n), old.descriptions.get(n))
                     != (new.profiles.get(n), new.descriptions.get(n)))
    if changed:
        logger.info("profiles reloaded from %s: changed=%s in_use=%s default=%s",
                    old.location or old.directory, ",".join(changed), ",".join(new.names()),
                    new.default_name)


def log_refused(error: ProfileError, kept: bool) -> None:
    outcome = "last valid version kept" if kept else "not served"
    logger.error("profile rejected, %s: %s", outcome, error,
                 extra={"file": error.path, "field": error.field, "reason": error.problem,
                        "source": "operator"})


def profile_name_of(error: ProfileError) -> str:
    """The profile an error is about: a file's stem, or a row's quoted name."""
    path = error.path
    if path.endswith("'") and " row '" in path:
        return path.rsplit(" row '", 1)[1].rstrip("'")
    return os.path.basename(path).removesuffix(".toml")
