"""Named presets: TOML files in profiles/, written by operators, validated strictly.

Participant metadata is forgiving (a bad field is dropped); a profile is not: a broken profile is an
operator error, so loading fails at start, naming the file, the field and the problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from .errors import allowed
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
    values = {}
    for key, value in document.items():
        if key == DESCRIPTION_KEY:
            continue
        if key not in PROFILE_FIELDS:
            known = ", ".join(sorted(PROFILE_FIELDS))
            raise ProfileError(path, key, f"is not a profile setting. Known settings: {known}")
        valid, message = validate_field(key, value)
        if message is not None:
            raise ProfileError(path, key, message)
        values[key] = valid
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
    """All profiles of one directory, validated, and which one is the operator's default."""

    directory: Path
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    default_name: str | None = None

    @classmethod
    def load(cls, directory: Path | str | None = None,
             default_name: str | None = None) -> ProfileStore:
        """Read every `<name>.toml`; raise ProfileError for the first broken one.

        The default profile is `default_name`, else $VOICE_DEFAULT_PROFILE, else "default" when
        that file exists. A default that was asked for by name must exist.
        """
        asked_dir = directory or os.environ.get(PROFILES_DIR_ENV)
        directory = Path(asked_dir or DEFAULT_PROFILES_DIR)
        if asked_dir and not directory.is_dir():
            raise ProfileError(directory, None, "the profiles directory does not exist")
        profiles, descriptions = {}, {}
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                if not is_profile_name(path.stem):
                    raise ProfileError(path, None, "the file name is not a profile name: "
                                       + allowed("profile"))
                profiles[path.stem], descriptions[path.stem] = load_profile_file(path)
        asked = default_name or os.environ.get(DEFAULT_PROFILE_ENV)
        if asked and asked not in profiles:
            raise ProfileError(directory / f"{asked}.toml", None,
                               f"the default profile {asked!r} does not exist")
        default = asked or ("default" if "default" in profiles else None)
        if default:
            check_over_default(directory, profiles, default)
        return cls(directory, profiles, descriptions, default)

    def names(self) -> list[str]:
        return sorted(self.profiles)

    def values(self, name: str) -> dict[str, Any]:
        return dict(self.profiles[name])

    def __contains__(self, name: object) -> bool:
        return name in self.profiles


def check_over_default(directory: Path, profiles: dict[str, dict[str, Any]],
                       default: str) -> None:
    """A named profile is applied over the default profile: together they must be valid, or
    every call that picks it would report a conflict."""
    for name, values in profiles.items():
        if problem := _settings_problem({**profiles[default], **values}):
            raise ProfileError(directory / f"{name}.toml", None,
                               f"over the default profile {default!r}: {problem}")


def _toml_value(value: Any) -> Any:
    return "off" if value is None else value


def profile_toml(values: dict[str, Any], description: str = "", comment: str = "") -> str:
    """A profile file: an optional comment header, the description, then the values."""
    document: dict[str, Any] = {}
    if description:
        document[DESCRIPTION_KEY] = description
    document.update({k: _toml_value(v) for k, v in values.items() if k in PROFILE_FIELDS})
    header = "".join(f"# {_comment_text(line)}\n".replace("# \n", "#\n")
                     for line in comment.splitlines())
    return header + tomli_w.dumps(document)


_TOML_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _comment_text(line: str) -> str:
    """TOML refuses control characters even in comments; the file must load again."""
    return _TOML_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line)


def settings_to_profile(settings: VoiceSettings) -> dict[str, Any]:
    """Every profile field of `settings`, ready for `profile_toml`."""
    return {k: v for k, v in settings.model_dump().items() if k in PROFILE_FIELDS}
