"""`python -m voice_settings profiles ...`: list, show, create, export and import the profiles of
the store (the database of $VOICE_PROFILES_URL, else the profiles directory, else --profiles-dir).

Every write goes through the store: conditional, atomic, under the directory's lock or in one
database statement, so it never races `serve` replicas or another CLI.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .errors import allowed
from .model import PROFILE_FIELDS
from .parsing import parse_assignment
from .profiles import (
    ProfileStore,
    derived_comment,
    is_profile_name,
    profile_toml,
    validate_profile,
)
from .store import (
    DirectoryBackend,
    Expect,
    ProfileBackend,
    VersionMismatch,
    check_store,
    load_strict,
    store_with,
)
from .tool_errors import EXIT_OK, UsageError


def add_arguments(profiles: argparse.ArgumentParser) -> None:
    actions = profiles.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="profile names and descriptions")
    show = actions.add_parser("show", help="print a profile file")
    show.add_argument("name")
    new = actions.add_parser("new", help="write a new profile (validated) as TOML")
    new.add_argument("name")
    new.add_argument("--from", dest="base", metavar="BASE", help="start from this profile")
    new.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="a setting; VALUE is JSON when it parses, else text (repeatable)")
    new.add_argument("--description", help="one line saying who the profile is for")
    new.add_argument("--force", action="store_true", help="replace an existing profile")
    export = actions.add_parser("export", help="write every profile of the store as "
                                "DIR/<name>.toml (to keep them in git, or move them)")
    export.add_argument("directory", metavar="DIR")
    load = actions.add_parser("import", help="add or replace the store's profiles with those "
                              "in DIR/*.toml (all valid, or nothing is written)")
    load.add_argument("directory", metavar="DIR")


def cmd_profiles(args: argparse.Namespace, store: ProfileStore) -> int:
    backend = args.backend
    if args.action == "list":
        for name in store.names():
            marker = " (default)" if name == store.default_name else ""
            print(f"{name}{marker}: {store.descriptions[name]}")
        return EXIT_OK
    if args.action == "show":
        return _show_profile(backend, store, args.name)
    if args.action == "export":
        return _export(backend, store, Path(args.directory))
    if args.action == "import":
        return _import(backend, store, Path(args.directory))
    return _new_profile(backend, store, args)


def _show_profile(backend: ProfileBackend, store: ProfileStore, name: str) -> int:
    if name not in store:
        raise UsageError(f"unknown profile {name!r}; known: {', '.join(store.names())}")
    if backend.directory is not None:  # the file as written, comments included
        print(Path(store.where(name)).read_text(encoding="utf-8"), end="")
    else:
        print(profile_toml(store.values(name), store.descriptions[name]), end="")
    return EXIT_OK


def _new_profile(backend: ProfileBackend, store: ProfileStore, args: argparse.Namespace) -> int:
    if not is_profile_name(args.name):  # a path, or a file name the store would refuse to load
        raise UsageError(f"{args.name!r} is not a profile name: {allowed('profile')}")
    where = store.where(args.name)
    if args.name in store and not args.force:
        raise UsageError(f"{where} exists; use --force to replace it")
    values: dict[str, Any] = {}
    if args.base:
        if args.base not in store:
            known = ", ".join(store.names())
            raise UsageError(f"unknown base profile {args.base!r}; known: {known}")
        values.update(store.values(args.base))
    for assignment in args.set:
        try:
            name, value = parse_assignment(assignment)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if name not in PROFILE_FIELDS:
            raise UsageError(f"{name} is chosen per call and cannot be part of a profile")
        values[name] = value
    description = args.description or (store.descriptions.get(args.base, "") if args.base else "")
    values, _ = validate_profile(where, {"description": description, **values})  # or raises
    # The store checks every profile over the default one: never write one it would refuse.
    check_store(store_with(store, args.name, values, description))
    comment = _new_profile_comment(backend, store, args, values, description)
    expect = Expect(versions=frozenset({"*"})) if args.name in store else Expect(absent=True)
    if backend.directory is not None:
        backend.directory.mkdir(parents=True, exist_ok=True)
    try:
        backend.write(args.name, values, description, comment, expect)
    except VersionMismatch:
        raise UsageError(f"{where} changed while this command ran; run it again") from None
    print(f"wrote {where}")
    return EXIT_OK


def _new_profile_comment(backend: ProfileBackend, store: ProfileStore, args: argparse.Namespace,
                         values: dict[str, Any], description: str) -> str:
    """What a new profile's file says first: what it derives from and what changed, over the
    base profile's own comment (who it is for, why its values)."""
    if not args.base:
        return f"{args.name}: written by python -m voice_settings profiles new."
    before = {"description": store.descriptions[args.base], **store.values(args.base)}
    after = {"description": description, **values}
    changed = sorted(name for name in after if name not in before or before[name] != after[name])
    base = backend.read(args.base)
    base_where = store.where(args.base)
    if backend.directory is not None:
        base_where = f"{backend.directory.name}/{Path(base_where).name}"
    return derived_comment(args.name, args.base, base_where, changed,
                           base.comment if base else "")


def _export(backend: ProfileBackend, store: ProfileStore, directory: Path) -> int:
    """Every profile of the store as `<name>.toml` in `directory` (for git, or another store)."""
    if backend.directory is not None and directory.resolve() == backend.directory.resolve():
        raise UsageError(f"{directory} is the store itself")
    directory.mkdir(parents=True, exist_ok=True)
    target = DirectoryBackend(directory)
    comments = {entry.name: entry.comment for entry in backend.read_all()}
    for name in store.names():
        comment = comments.get(name) or f"{name}: exported from {backend.location}."
        target.write(name, store.values(name), store.descriptions[name], comment, Expect.ANY)
    print(f"exported {len(store.names())} profiles from {backend.location} to {directory}")
    return EXIT_OK


def _import(backend: ProfileBackend, store: ProfileStore, directory: Path) -> int:
    """Every profile in `directory` into the store, added or replaced (others stay); nothing is
    written unless all of them are valid, also over the store's default profile."""
    if backend.directory is not None and directory.resolve() == backend.directory.resolve():
        raise UsageError(f"{directory} is the store itself")
    source = DirectoryBackend(directory)
    incoming = load_strict(source)
    merged = store
    for name in incoming.names():
        merged = store_with(merged, name, incoming.values(name), incoming.descriptions[name])
    check_store(merged)
    comments = {entry.name: entry.comment for entry in source.read_all()}
    for name in incoming.names():
        backend.write(name, incoming.values(name), incoming.descriptions[name],
                      comments.get(name, ""), Expect.ANY)
    print(f"imported {len(incoming.names())} profiles from {directory} into {backend.location}")
    return EXIT_OK
