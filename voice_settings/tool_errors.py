"""How the command-line tools fail, `python -m voice_settings` and `token_tool.py` alike: one
exception tree, printed as `error: ...` lines, and one set of exit statuses.

    ToolError(message, code=EXIT_FAILURE)        a failure the user can act on
     └── UsageError(message)                     code EXIT_USAGE: bad arguments or input
          └── SettingsRejected(errors, consequence)
                                                 invalid settings, and what was not done

Exit statuses: EXIT_OK (0) clean; EXIT_FAILURE (1) something was dropped or adjusted (validate,
explain) or failed (credentials, server, token); EXIT_USAGE (2) bad arguments, unreadable input,
invalid settings given to a command, broken profiles.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import BinaryIO

from .errors import SettingsError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class ToolError(Exception):
    """A failure the user can act on; `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


class UsageError(ToolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class SettingsRejected(UsageError):
    """Settings given to a command were invalid, so `consequence` (e.g. "nothing was signed")."""

    def __init__(self, errors: Sequence[SettingsError], consequence: str) -> None:
        lines = [f"{e.field} = {json.dumps(e.to_dict()['value'])}: {e.message}" for e in errors]
        super().__init__(f"invalid settings, {consequence}:\n  " + "\n  ".join(lines))
        self.errors = list(errors)


def print_error(error: ToolError) -> int:
    """Print `error` as the tools do (`error: ...` on stderr); the exit status it means."""
    print(f"error: {error}", file=sys.stderr)
    return error.code


def read_at_most(stream: BinaryIO, what: str, limit: int) -> bytes:
    """All of `stream`, reading at most `limit` + 1 bytes (a file may be /dev/zero): more, or a
    read that fails, is a usage error naming `what`."""
    try:
        data = stream.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror}") from None
    if len(data) > limit:
        raise UsageError(f"{what} is over the {limit} byte limit (stopped reading there)")
    return data


def read_file_at_most(path: str, what: str, limit: int) -> bytes:
    """The bytes of the file at `path` as `read_at_most` reads them."""
    try:
        with open(path, "rb") as stream:
            return read_at_most(stream, what, limit)
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path}: {exc.strerror}") from None
