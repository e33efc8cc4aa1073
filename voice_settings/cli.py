"""`python -m voice_settings`: check metadata before a roll-out, explain values, export the schema,
manage profiles.

Exit codes: 0 clean, 1 when anything in the input was dropped or adjusted, 2 usage errors
(bad arguments, unreadable files, broken profiles).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from . import profile_commands
from .json_input import MAX_METADATA_BYTES
from .model import FIELDS
from .profiles import (
    ProfileError,
    ProfileStore,
)
from .resolution import Resolution, resolve
from .schema import participant_schema, reference_markdown, settings_schema
from .store import (
    StoreError,
    directory_backend,
    load_strict,
    open_backend,
)
from .tool_errors import (
    EXIT_FAILURE,
    EXIT_OK,
    ToolError,
    UsageError,
    print_error,
    read_at_most,
)


def _argument_bytes(text: str) -> bytes:
    """An argument's bytes as the shell passed them (argv decodes undecodable bytes to surrogate
    escapes); a raw lone surrogate, which no byte gives, keeps its UTF-8-like form."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


@contextlib.contextmanager
def _open_input(args: argparse.Namespace) -> Iterator[tuple[BinaryIO, str]]:
    """(the metadata as bytes, what to call it in an error): the argument, a file or stdin."""
    if args.metadata is not None and args.file is not None:
        raise UsageError("give the metadata as an argument or with --file, not both")
    if args.metadata is not None:
        yield io.BytesIO(_argument_bytes(args.metadata)), "the metadata argument"
        return
    if args.file is not None and args.file != "-":
        try:
            stream = open(args.file, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
        with stream:
            yield stream, args.file
        return
    if args.file is None and sys.stdin.isatty():
        raise UsageError("no metadata: pass JSON as an argument, with --file PATH, or on stdin")
    # Metadata is UTF-8 whatever the locale: read bytes; undecodable ones are reported.
    stream = getattr(sys.stdin, "buffer", None)
    yield (stream if stream is not None else io.BytesIO(_argument_bytes(sys.stdin.read()))), \
        "stdin"


def jsonl_records(stream: BinaryIO, what: str,
                  limit: int = MAX_METADATA_BYTES) -> Iterator[tuple[int, bytes]]:
    """(line number, record) of each non-blank JSON Lines record: a record ends at "\n", with
    an optional "\r" before it. A lone "\r" (like U+2028 or \x1c) is part of its record. Each
    record is read at most `limit` + 2 bytes, so a file with no newline cannot fill memory."""
    for number, line in enumerate(iter(lambda: stream.readline(limit + 2), b""), start=1):
        record = line.removesuffix(b"\n").removesuffix(b"\r")
        if len(record) > limit:
            raise UsageError(f"line {number} of {what} is over the {limit} byte limit "
                             "(stopped reading there)")
        if record.decode("utf-8", "surrogateescape").strip():
            yield number, record


def _payloads(args: argparse.Namespace) -> Iterator[tuple[int | None, bytes]]:
    """The argument, a file and stdin give the same records for the same bytes."""
    with _open_input(args) as (stream, what):
        if args.jsonl:
            yield from jsonl_records(stream, what)
        else:
            yield None, read_at_most(stream, what, MAX_METADATA_BYTES)


def _resolve(payload: bytes, args: argparse.Namespace, store: ProfileStore) -> Resolution:
    if args.source == "dispatch":
        return resolve(dispatch=payload, profiles=store)
    return resolve(participant=payload, dispatch=args.dispatch, profiles=store)


def _report(resolution: Resolution, line: int | None, args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    if line is not None:
        report["line"] = line
    report["settings"] = resolution.settings.model_dump(mode="json")
    if args.command == "explain":
        report["sources"] = {k: v.value for k, v in resolution.sources.items()}
    report["errors"] = [e.to_dict() for e in resolution.errors]
    if args.unknown:
        report["unknown_keys"] = [{"source": s.value, "key": k} for s, k in resolution.unknown_keys]
    return report


def _print_text(resolution: Resolution, line: int | None, args: argparse.Namespace) -> None:
    if line is not None:
        print(f"--- line {line}")
    width = max(map(len, FIELDS))
    for name, value, source in resolution.explain():
        shown = json.dumps(value, ensure_ascii=False)
        if len(shown) > 70:
            shown = shown[:67] + '..."'
        suffix = f"  ({source.value})" if args.command == "explain" else ""
        print(f"{name:<{width}}  {shown}{suffix}")
    for error in resolution.errors:
        print(f"error: {error}", file=sys.stderr)
    if args.unknown and resolution.unknown_keys:
        keys = ", ".join(f"{k} ({s.value})" for s, k in resolution.unknown_keys)
        print(f"unknown keys (ignored): {keys}")


def cmd_validate(args: argparse.Namespace, store: ProfileStore) -> int:
    status = EXIT_OK
    for line, payload in _payloads(args):
        resolution = _resolve(payload, args, store)
        if resolution.errors:
            status = EXIT_FAILURE
        if args.json:
            # ASCII: valid JSON whatever stdout's encoding (a lone surrogate becomes \ud800).
            print(json.dumps(_report(resolution, line, args)))
        else:
            _print_text(resolution, line, args)
    return status


def cmd_schema(args: argparse.Namespace, store: ProfileStore) -> int:
    if args.markdown:
        print(reference_markdown(), end="")
        return EXIT_OK
    schema = settings_schema() if args.all else participant_schema()
    print(json.dumps(schema, indent=2, ensure_ascii=False))
    return EXIT_OK


def _input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("metadata", nargs="?", help="metadata JSON (default: read stdin)")
    parser.add_argument("-f", "--file", help="read the metadata from a file ('-' for stdin)")
    parser.add_argument("--jsonl", action="store_true",
                        help="one payload per line; report each (with --json, one line each)")
    parser.add_argument("--source", choices=["participant", "dispatch"], default="participant",
                        help="validate as participant metadata (default) or as dispatch "
                        "metadata, where operator-only fields are allowed")
    parser.add_argument("--dispatch", metavar="JSON",
                        help="dispatch metadata to resolve beneath participant metadata")
    parser.add_argument("--json", action="store_true",
                        help='machine output: {"settings": {...}, "errors": [...]}')
    parser.add_argument("--unknown", action="store_true", help="also list keys that were ignored")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m voice_settings", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles-dir", help="profiles directory (default: the database of "
                        "$VOICE_PROFILES_URL when set, else $VOICE_PROFILES_DIR, else the "
                        "project's profiles/)")
    parser.add_argument("--default-profile", help="the operator's default profile (default: "
                        "$VOICE_DEFAULT_PROFILE or 'default')")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    validate = commands.add_parser(
        "validate", help="effective settings and errors for metadata; exit 1 if anything dropped")
    _input_arguments(validate)
    explain = commands.add_parser("explain", help="effective settings with each value's source")
    _input_arguments(explain)
    schema = commands.add_parser("schema", help="JSON Schema of participant metadata")
    schema.add_argument("--all", action="store_true",
                        help="every field, including operator-only ones")
    schema.add_argument("--markdown", action="store_true",
                        help="the settings reference table, as in docs/settings.md")
    profile_commands.add_arguments(commands.add_parser(
        "profiles", help="list, show, create, export or import profiles"))
    commands.add_parser("lab", help="measure what timing settings do to a conversation, offline",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        arguments_when_parsing=_lab_arguments)
    return parser


class _CommandParser(argparse.ArgumentParser):
    """A command's parser whose arguments may be added only when the command is parsed: the
    lab's, so that the lab (and the agent stack under it) loads only for `lab`."""

    def __init__(self, *args: Any,
                 arguments_when_parsing: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arguments_when_parsing = arguments_when_parsing

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._arguments_when_parsing is not None:
            self._arguments_when_parsing(self)
            self._arguments_when_parsing = None
        return super().parse_known_args(args, namespace)


def _lab_arguments(parser: argparse.ArgumentParser) -> None:
    from .lab import cli as lab_cli

    parser.description = lab_cli.__doc__
    lab_cli.add_arguments(parser)


def cmd_lab(args: argparse.Namespace, store: ProfileStore) -> int:
    from .lab import cli as lab_cli

    return lab_cli.cmd_lab(args, store)


COMMANDS = {"validate": cmd_validate, "explain": cmd_validate, "schema": cmd_schema,
            "profiles": profile_commands.cmd_profiles, "lab": cmd_lab}


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # hostile input may hold lone surrogates
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        args.backend = (directory_backend(args.profiles_dir) if args.profiles_dir
                        else open_backend())
        store = load_strict(args.backend, args.default_profile)
        status = COMMANDS[args.command](args, store)
        sys.stdout.flush()  # a closed pipe must show here, not in the flush at exit
        return status
    except ToolError as exc:
        return print_error(exc)
    except ProfileError as exc:
        return print_error(UsageError(str(exc)))
    except StoreError as exc:  # a directory or URL that is wrong: usage; a database down: 1
        database = getattr(args, "backend", None) is not None and args.backend.directory is None
        return print_error((ToolError if database else UsageError)(exc.message))
    except BrokenPipeError:  # `... | head` closed the pipe: not an error of ours
        _discard_stdout()
        return EXIT_OK


def _discard_stdout() -> None:
    """Send what is still buffered to /dev/null, so the interpreter's exit stays quiet (the
    recipe in Python's signal docs; replacing sys.stdout alone leaves the old buffer to fail)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (an in-memory stream)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit
