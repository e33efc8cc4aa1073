"""Named presets (assistants): TOML files in profiles/ or rows of a database, written by
operators, validated strictly.

Participant metadata is forgiving (a bad field is dropped); a profile is not: a broken profile is an
operator error, so loading fails at start, naming the file (or row), the field and the problem.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from .keys import canonical_key, did_you_mean
from .model import PROFILE_FIELDS, PROFILE_NAME_PATTERN, VoiceSettings
from .parsing import validate_field

PROFILES_DIR_ENV = "VOICE_PROFILES_DIR"
DEFAULT_PROFILE_ENV = "VOICE_DEFAULT_PROFILE"
DEFAULT_PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"
DESCRIPTION_KEY = "description"


class ProfileError(Exception):
    """A profile that cannot be used: names the file, the field and the problem."""

    def __init__(self, path: Path | str, field: str | None, problem: str) -> None:
        self.path, self.field, self.problem = str(path), field, problem
        super().__init__(f"{path}: {field + ': ' if field else ''}{problem}")


def is_profile_name(name: Any) -> bool:
    return isinstance(name, str) and re.fullmatch(PROFILE_NAME_PATTERN, name) is not None


def validate_profile(path: Path | str, document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(validated values, description) of one profile document, or ProfileError."""
    description = document.get(DESCRIPTION_KEY, "")
    if not isinstance(description, str):
        raise ProfileError(path, DESCRIPTION_KEY, "must be text")
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key == DESCRIPTION_KEY:
            continue
        name = canonical_key(key)  # any spelling metadata accepts: minEndpointingDelay too
        if name not in PROFILE_FIELDS:
            known = ", ".join(sorted(PROFILE_FIELDS))
            raise ProfileError(path, key, f"is not a profile setting; "
                               f"{did_you_mean(key, PROFILE_FIELDS)}known settings: {known}")
        if name in values:
            raise ProfileError(path, name, "is given twice, in two spellings")
        valid, message = validate_field(name, value)
        if message is not None:
            raise ProfileError(path, name, message)
        values[name] = valid
    if problem := _settings_problem(values):
        raise ProfileError(path, None, problem)
    return values, description


def _settings_problem(values: dict[str, Any]) -> str | None:
    """Why `values` (over the built-in defaults) are not valid settings together, or None."""
    try:
        VoiceSettings.model_validate(values)
    except ValidationError as exc:
        return exc.errors()[0]["msg"].removeprefix("Value error, ")
    return None


def load_profile_file(path: Path) -> tuple[dict[str, Any], str]:
    return profile_from_bytes(path, path.read_bytes())


def profile_from_bytes(path: Path | str, data: bytes) -> tuple[dict[str, Any], str]:
    """(values, description) of a profile file's bytes, or ProfileError naming `path`."""
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(path, None, f"is not valid TOML: {exc}") from None
    return validate_profile(path, document)


@dataclass(frozen=True)
class ProfileStore:
    """The valid profiles of one store (a directory or a database), and which one is the
    operator's default. What calls resolve against; the store itself, and loading one
    (`load_directory`, `load_strict`), are in `voice_settings.store`.
    """

    directory: Path | None
    """The profiles directory; None for a database store (then `location` names it)."""
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    default_name: str | None = None
    location: str = ""

    def where(self, name: str) -> str:
        """The file (or database row) of profile `name`, for errors and log lines."""
        if self.directory is not None:
            return str(self.directory / f"{name}.toml")
        return f"{self.location} row {name!r}"

    def names(self) -> list[str]:
        return sorted(self.profiles)

    def values(self, name: str) -> dict[str, Any]:
        return dict(self.profiles[name])

    def __contains__(self, name: object) -> bool:
        return name in self.profiles


def check_over_default(store: ProfileStore, profiles: dict[str, dict[str, Any]],
                       default: str) -> None:
    """A named profile is applied over the default profile: together they must be valid, or
    every call that picks it would report a conflict. ProfileError names `store.where(name)`."""
    for name, values in profiles.items():
        if problem := _settings_problem({**profiles[default], **values}):
            raise ProfileError(store.where(name), None,
                               f"over the default profile {default!r}: {problem}")


def _toml_value(value: Any) -> Any:
    return "off" if value is None else value


TOML_LINE_WIDTH = 100
"""Text longer than a line of this many characters is written folded, as the shipped profiles
are written by hand."""


def profile_toml(values: dict[str, Any], description: str = "", comment: str = "") -> str:
    """A profile file: an optional comment header, the description, then the values; text that
    would not fit on a line is a multi-line string folded at spaces. It loads back to exactly
    `values` and `description`."""
    document: dict[str, Any] = {}
    if description:
        document[DESCRIPTION_KEY] = description
    document.update({k: _toml_value(v) for k, v in values.items() if k in PROFILE_FIELDS})
    header = "".join(f"# {_comment_text(line)}\n".replace("# \n", "#\n")
                     for line in comment.splitlines())
    body = "".join(_toml_line(key, value) for key, value in document.items())
    # Never 0 bytes: an empty file is what a write caught half-way looks like, and is refused.
    return (header + body) or EMPTY_PROFILE_COMMENT


EMPTY_PROFILE_COMMENT = "# No settings of its own: the defaults.\n"


def _toml_line(key: str, value: Any) -> str:
    line = tomli_w.dumps({key: value})
    if not isinstance(value, str) or ("\n" not in value and len(line) <= TOML_LINE_WIDTH + 1):
        return line
    # A newline right after the opening quotes would be dropped: that one is escaped.
    head = "\\n" if value.startswith("\n") else ""
    lines = value.removeprefix("\n" if head else "").split("\n")
    first_room = TOML_LINE_WIDTH - len(f'{key} = """{head}')
    text = "\n".join(_folded(_escaped(line), first_room if number == 0 else TOML_LINE_WIDTH)
                     for number, line in enumerate(lines))
    return f'{key} = """{head}{text}"""\n'


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\f": "\\f", "\r": "\\r",
            "\n": "\\n"}


def _escaped(text: str) -> str:
    """`text` inside a TOML basic string: quotes, backslashes and control characters escaped."""
    return "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if c < " " or c == "\x7f" else c)
                   for c in text)


def _folded(escaped: str, room: int) -> str:
    """One line of escaped text in lines of at most `room` characters (the first) and
    TOML_LINE_WIDTH (the others), a line-ending backslash on each but the last. TOML drops such a
    backslash with all the whitespace after it, so a line is cut only after a space that a
    non-space follows; a word longer than a line stays whole."""
    cuts = [i for i in range(1, len(escaped)) if escaped[i - 1] == " " != escaped[i]]
    lines, start, limit = [], 0, room - 3  # room for a backslash, or for the closing quotes
    for cut, following in zip(cuts, [*cuts[1:], len(escaped)], strict=False):
        if following - start > limit:
            lines.append(escaped[start:cut])
            start, limit = cut, TOML_LINE_WIDTH - 3
    lines.append(escaped[start:])
    return "\\\n".join(lines)


_TOML_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _comment_text(line: str) -> str:
    """TOML refuses control characters even in comments; the file must load again."""
    return _TOML_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line)


def leading_comment(data: bytes) -> str:
    """The comment block a profile file starts with, without the `# ` markers."""
    lines = []
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return "\n".join(lines)


def derived_comment(name: str, base: str, base_file: str, changed: list[str],
                    base_comment: str) -> str:
    """The header of profile `name` made from profile `base`: what it derives from and what
    changed, then the base's own comment (who it is for and why its values)."""
    what = f" with {', '.join(changed)} changed" if changed else ", unchanged"
    head = f"{name}: derived from {base} ({base_file}){what}."
    return f"{head}\n\n{base_comment}" if base_comment else head


def settings_to_profile(settings: VoiceSettings) -> dict[str, Any]:
    """Every profile field of `settings`, ready for `profile_toml`."""
    return {k: v for k, v in settings.model_dump().items() if k in PROFILE_FIELDS}
