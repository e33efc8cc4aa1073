"""How token_tool fails: a message the user can act on, and the exit status it means."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .errors import SettingsError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# What did not happen because settings were invalid: mint signs, update sends.
NOTHING_SIGNED, NOTHING_SENT = "nothing was signed", "nothing was sent"


class ToolError(Exception):
    """A failure the user can act on; printed as `error: ...` lines, `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def usage_error(message: str) -> ToolError:
    return ToolError(message, EXIT_USAGE)


def settings_rejected(errors: Sequence[SettingsError],
                      consequence: str = NOTHING_SIGNED) -> ToolError:
    lines = [f"{e.field} = {json.dumps(e.to_dict()['value'])}: {e.message}" for e in errors]
    return usage_error(f"invalid settings, {consequence}:\n  " + "\n  ".join(lines))
