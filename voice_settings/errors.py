"""What went wrong with an input, and where the input came from.

Every rejected value becomes one `SettingsError` naming the field, the value given and what is
allowed, with a hint where a unit mix-up is likely ("did you mean 0.5?").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, get_args

import annotated_types as at

from .model import VoiceSettings, policy
from .sources import Source

METADATA = "(metadata)"
"""The `field` of an error about the metadata as a whole (not JSON, too large, ...)."""


@dataclass(frozen=True)
class SettingsError:
    field: str
    value: Any
    message: str
    source: Source | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": _jsonable(self.value),
            "message": self.message,
            "source": self.source.value if self.source else None,
        }

    def __str__(self) -> str:
        where = f" (from {self.source.value})" if self.source else ""
        return f"{self.field}: {self.message}{where}"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):  # huge ints cannot even be printed as JSON
        return value if abs(value) < 2**63 else shown(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if isinstance(value, list | dict):
        try:  # strict JSON: 1e999 inside a list decodes to inf, which JSON cannot hold
            text = json.dumps(value, allow_nan=False)
        except (ValueError, TypeError, RecursionError):
            return shown(value)
        return value if len(text) <= 200 else text[:200] + "..."
    return shown(value)


def encodable(text: str) -> str:
    """`text` as UTF-8 can carry it: a lone surrogate (what a JSON escape such as "\\ud800"
    decodes to; no log, protobuf or app can encode it) is written out as the escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown(value: Any) -> str:
    """A value as the user wrote it, shortened for messages and logs."""
    if isinstance(value, str):
        text = encodable(value if len(value) <= 60 else value[:57] + "...")
        return f'"{text}"' if len(value) <= 60 else f'"{text}" ({len(value)} characters)'
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    try:
        text = repr(value)
    except ValueError:  # e.g. an int past Python's digit limit
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _bounds(field: str) -> tuple[Any, Any, Any, Any]:
    info = VoiceSettings.model_fields[field]
    ge = le = min_len = max_len = None
    for item in info.metadata:
        if isinstance(item, at.Ge):
            ge = item.ge
        elif isinstance(item, at.Le):
            le = item.le
        elif isinstance(item, at.MinLen):
            min_len = item.min_length
        elif isinstance(item, at.MaxLen):
            max_len = item.max_length
    return ge, le, min_len, max_len


def _is_optional(field: str) -> bool:
    return type(None) in get_args(VoiceSettings.model_fields[field].annotation)


def _with_unit(number: Any, unit: str | None) -> str:
    return f"{number:g} {unit}" if unit else f"{number:g}"


def allowed(field: str) -> str:
    """What a field accepts, in words: "0 to 5000 ms", "one of fixed, dynamic", ..."""
    info = VoiceSettings.model_fields[field]
    unit = policy(field).get("unit")
    ge, le, min_len, max_len = _bounds(field)
    off = 'null or "off" (disabled), or ' if _is_optional(field) and ge is not None else ""
    annotation = info.annotation
    literal = list(get_args(annotation)) if "Literal" in str(annotation) else []
    if annotation is bool:
        return "true or false"
    if literal:
        return "one of " + ", ".join(literal)
    if ge is not None and le is not None:
        kind = "a whole number" if unit in ("ms", "words") else "a number"
        return f"{off}{kind} from {_with_unit(ge, unit)} to {_with_unit(le, unit)}"
    if field == "profile":
        return "the name of a profile: lowercase letters, digits, - and _ (at most 64)"
    if max_len is not None:
        least = "non-empty " if min_len else ""
        return f"{least}text of at most {max_len} characters"
    if any(getattr(m, "pattern", None) for m in info.metadata):
        return "an identifier of letters, digits and . _ : / - (no spaces)"
    return "a value of the right type"


def _unit_hint(field: str, value: Any) -> str:
    """A likely unit mix-up: 500 given for seconds, or 0.3 given for milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    unit = policy(field).get("unit")
    ge, le, _, _ = _bounds(field)
    if ge is None or le is None:
        return ""
    # Compare before dividing or converting: a huge int cannot become a float.
    # 100 and up reads as milliseconds; 7 for a 5 s limit is more likely a too-long wait.
    if unit == "s" and value > le and value >= 100 and ge * 1000 <= value <= le * 1000:
        return f" Did you mean {value / 1000:g}? This field is in seconds."
    fractional = isinstance(value, float) and not value.is_integer()
    if unit == "ms" and (value < ge or fractional) and ge <= value * 1000 <= le:
        return f" Did you mean {value * 1000:g}? This field is in milliseconds."
    return ""


def describe(field: str, value: Any, error_type: str) -> str:
    """One readable sentence for a pydantic error on one field."""
    unit = policy(field).get("unit")
    ge, le, _, max_len = _bounds(field)
    if error_type in ("less_than_equal", "less_than") and le is not None:
        problem = f"{shown(value)} is above the {_with_unit(le, unit)} limit"
    elif error_type in ("greater_than_equal", "greater_than") and ge is not None:
        problem = f"{shown(value)} is below the {_with_unit(ge, unit)} minimum"
    elif error_type == "string_too_long":
        problem = f"{len(value)} characters is over the {max_len} character limit"
    elif error_type in ("string_too_short", "string_pattern_mismatch") and field == "instructions":
        problem = "instructions must not be empty"
    elif error_type == "finite_number":
        problem = f"{shown(value)} is not a finite number"
    elif isinstance(value, bool) and error_type in ("int_type", "float_type"):
        problem = f"{shown(value)} is a boolean, not a number"
    elif isinstance(value, str) and error_type in ("int_type", "float_type"):
        problem = f"{shown(value)} is text, not a number"
    elif isinstance(value, float) and error_type == "int_type":
        problem = f"{shown(value)} is not a whole number"
    elif error_type == "string_type":
        problem = f"{shown(value)} is not text"
    elif error_type == "bool_type":
        problem = f"{shown(value)} is not true or false"
    else:
        problem = f"{shown(value)} is not allowed"
    hint = _unit_hint(field, value)
    if value is False and _is_optional(field):
        hint = ' Use null or "off" to disable it.'
    return f"{problem}. Allowed: {allowed(field)}.{hint}"
