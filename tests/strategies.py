"""Shared hypothesis strategies and checks for the voice_settings tests.

Value strategies are derived from the model's own field metadata (bounds, patterns, literals), so
they follow the model; the documented ranges themselves are pinned in test_settings_model.py.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any, Literal, get_args, get_origin
from unittest.mock import MagicMock

import annotated_types as at
from hypothesis import strategies as st

from voice_settings.errors import METADATA, SettingsError
from voice_settings.json_input import MAX_METADATA_BYTES
from voice_settings.keys import KEY_ALIASES
from voice_settings.model import (
    FIELDS,
    OPERATOR_FIELDS,
    PARTICIPANT_FIELDS,
    PROFILE_FIELDS,
    VoiceSettings,
    silent_turn_end,
)

MIN, MAX = "min_endpointing_delay", "max_endpointing_delay"
ALIASES_OF: dict[str, list[str]] = {}
for _key, _name in KEY_ALIASES.items():
    ALIASES_OF.setdefault(_name, []).append(_key)


# --- What the model says about a field --------------------------------------------------------

def info(field: str) -> Any:
    return VoiceSettings.model_fields[field]


def ge(field: str) -> Any:
    return next((m.ge for m in info(field).metadata if isinstance(m, at.Ge)), None)


def le(field: str) -> Any:
    return next((m.le for m in info(field).metadata if isinstance(m, at.Le)), None)


def max_len(field: str) -> Any:
    return next((m.max_length for m in info(field).metadata if isinstance(m, at.MaxLen)), None)


def pattern(field: str) -> str | None:
    return next((m.pattern for m in info(field).metadata if getattr(m, "pattern", None)), None)


def base_type(field: str) -> Any:
    args = [a for a in get_args(info(field).annotation) if a is not type(None)]
    annotation = info(field).annotation
    return args[0] if get_origin(annotation) is not Literal and args else annotation


def is_optional(field: str) -> bool:
    return type(None) in get_args(info(field).annotation)


def is_literal(field: str) -> bool:
    return get_origin(info(field).annotation) is Literal


NUMBER_FIELDS = tuple(f for f in FIELDS if ge(f) is not None)
INT_FIELDS = tuple(f for f in NUMBER_FIELDS if base_type(f) is int)
FLOAT_FIELDS = tuple(f for f in NUMBER_FIELDS if base_type(f) is float)
OPTIONAL_NUMBER_FIELDS = tuple(f for f in NUMBER_FIELDS if is_optional(f))
BOOL_FIELDS = tuple(f for f in FIELDS if info(f).annotation is bool)
LITERAL_FIELDS = tuple(f for f in FIELDS if is_literal(f))


# --- Valid values -----------------------------------------------------------------------------

def _some_text(max_size: int) -> st.SearchStrategy[str]:
    """Non-blank text: arbitrary characters around at least one letter or digit."""
    around = st.text(max_size=min(max_size, 80) // 2 - 1)
    return st.builds(lambda a, b, c: a + b + c, around,
                     st.characters(categories=("L", "N")), around)


@functools.cache
def valid_value(field: str) -> st.SearchStrategy[Any]:
    """Any value the model accepts for `field`, in its canonical Python type."""
    if field in NUMBER_FIELDS:
        low, high = ge(field), le(field)
        if base_type(field) is int:
            numbers: st.SearchStrategy[Any] = st.integers(low, high)
        else:
            numbers = st.floats(low, high, allow_nan=False, allow_infinity=False)
        return st.one_of(st.none(), numbers) if is_optional(field) else numbers
    if field in BOOL_FIELDS:
        return st.booleans()
    if field in LITERAL_FIELDS:
        return st.sampled_from(get_args(info(field).annotation))
    if field == "instructions":
        return st.one_of(_some_text(8000), st.just("x" * 8000), st.just(" \n  y"))
    if field == "greeting":
        return st.one_of(st.text(max_size=120), st.just(""), st.just("g" * 500))
    regex = pattern(field)
    assert regex is not None, field
    names = st.from_regex(regex, fullmatch=True)
    return st.one_of(st.none(), names) if is_optional(field) else names


def _ordered(values: dict[str, Any]) -> dict[str, Any]:
    """Make one source's values consistent: min <= max, and an "stt" turn that can end."""
    if MIN in values and MAX in values and values[MIN] > values[MAX]:
        # both ranges allow the swap: [0, 5] and [0.2, 10]
        values[MIN], values[MAX] = values[MAX], values[MIN]
    if silent_turn_end(values.get("turn_detection"), values.get("endpointing_ms"),
                       values.get("utterance_end_ms")):
        values["endpointing_ms"] = 25
    return values


@st.composite
def valid_settings(draw: st.DrawFn, **fixed: Any) -> VoiceSettings:
    """Any valid VoiceSettings; keyword arguments pin fields (a value or a strategy)."""
    values = {}
    for name in FIELDS:
        given = fixed.get(name, valid_value(name))
        values[name] = draw(given) if isinstance(given, st.SearchStrategy) else given
    return VoiceSettings.model_validate(_ordered(values))


def spelling(name: str) -> st.SearchStrategy[str]:
    """Any accepted key for a field: snake_case, camelCase, or an extra alias."""
    return st.sampled_from(sorted(ALIASES_OF[name]))


@st.composite
def valid_values(draw: st.DrawFn, fields: frozenset[str] | tuple[str, ...]) -> dict[str, Any]:
    """A subset of `fields` with valid values, canonical names; min <= max when both given."""
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True))
    return _ordered({name: draw(valid_value(name)) for name in chosen})


@st.composite
def participant_metadata(draw: st.DrawFn,
                         fields: frozenset[str] = PARTICIPANT_FIELDS - {"profile"}
                         ) -> dict[str, Any]:
    """A valid participant metadata dict: valid values, in any accepted spelling, plus keys
    the rest of the app uses (which must be ignored)."""
    values = draw(valid_values(fields))
    document = {draw(spelling(name)): value for name, value in values.items()}
    for key, value in draw(st.dictionaries(st.sampled_from(["theme", "userName", "plan"]),
                                           st.text(max_size=5), max_size=2)).items():
        document[key] = value
    return document


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """A metadata dict with known keys renamed to their field and unknown keys removed."""
    return {KEY_ALIASES[k]: v for k, v in document.items() if k in KEY_ALIASES}


# --- Arbitrary and hostile input --------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
"""Any JSON document, as Python values (what json.loads can return)."""


def _near_bounds(field: str) -> list[Any]:
    low, high = ge(field), le(field)
    near = [low, high, low - 1, high + 1, low - 0.001, high + 0.001, high * 1000, high / 1000,
            low * 1000, (low + high) / 2, (low + high) / 2 * 1000, (low + high) / 2000]
    return near + [float(low), float(high), -high]


hostile_scalars = st.one_of(
    json_scalars,
    st.floats(),  # NaN, infinities, -0.0, subnormals
    st.integers(min_value=2**63), st.just(10**400), st.just(-(10**400)),
    st.sampled_from(["off", "OFF", " Off ", "on", "", " ", "null", "300", "0.5", "NaN",
                     "false", "../x", "a/b", "\ud800", "x" * 9000, "DEFAULT", "default "]),
    st.sampled_from([v for f in NUMBER_FIELDS for v in _near_bounds(f)]),
)
hostile_values = st.one_of(
    hostile_scalars,
    st.lists(hostile_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), hostile_scalars, max_size=3),
    json_values,
)
"""Values a broken or malicious app might put under a settings key."""

any_key = st.one_of(st.sampled_from(sorted(KEY_ALIASES)), st.text(max_size=12))
metadata_dicts = st.dictionaries(any_key, hostile_values, max_size=8)
"""Decoded metadata objects with known and unknown keys and hostile values."""


def _as_text(value: Any) -> str:
    return json.dumps(value)  # NaN and Infinity become the NaN/Infinity literals


def _oversized(document: dict[str, Any]) -> str:
    document = {**document, "padding": "p" * MAX_METADATA_BYTES}
    return json.dumps(document)


def _mock() -> MagicMock:
    return MagicMock()


hostile_metadata = st.one_of(
    json_values,                                  # already decoded, any JSON value
    json_values.map(json.dumps),                  # as text
    metadata_dicts,
    metadata_dicts.map(_as_text),
    metadata_dicts.map(_as_text).map(str.encode),
    st.text(), st.binary(), st.none(), st.just(""), st.just(b""), st.just("   "),
    st.builds(_mock),
    st.sampled_from([
        "9" * 5000, '{"endpointing_ms": ' + "9" * 5000 + "}",
        "[" * 60_000, '{"a": ' * 50_000, '{"endpointing_ms": ' + "[" * 900 + "]" * 900 + "}",
        '{"min_endpointing_delay": NaN}', '{"max_endpointing_delay": Infinity}',
        '{"user_away_timeout": -Infinity, "endpointing_ms": 300}',
        '{"endpointing_ms": 1e999}', '{"endpointing_ms": [1e999]}',
        b'{"endpointing_ms": 300, "greeting": "\xff\xfe"}', b"\xc3\x28", "\ud800",
        '{"instructions": "\\ud800"}', '{"endpointing_ms": 300}\x00',
        bytearray(b'{"endpointing_ms": 300}'), memoryview(b'{"endpointing_ms": 300}'),
        '{"endpointing_ms": true, "minEndpointingDelay": false, "utterance_end_ms": false}',
        '{"min_endpointing_delay": 4, "max_endpointing_delay": 1}',
    ]),
    metadata_dicts.map(_oversized),
    metadata_dicts.map(_oversized).map(str.encode),
)
"""Anything that can arrive as metadata: any JSON value (decoded or as text), any text, any
bytes, None, "", a MagicMock, huge ints, deep nesting, NaN/Infinity, invalid UTF-8, > 64 KiB."""


_profile_keys = st.one_of(st.sampled_from(sorted(PROFILE_FIELDS | {"description", "profile"})),
                          st.text(max_size=10))
hostile_profile_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.dictionaries(_profile_keys, hostile_values, max_size=6).map(
        lambda d: json.dumps(d).encode()),
    st.sampled_from([b"", b"null", b"[]", b'"x"', b"1e999", b'{"a": 1e999}', b"{" * 5000,
                     b'{"description": ' + b"[" * 100 + b"]" * 100 + b"}",
                     b'{"endpointing_ms": NaN}', b'{"x": 1, "x": 1}',
                     b'{"description": "x"}' + b" " * 70_000]),
)
"""What a broken or malicious admin screen might PUT as a profile."""


# --- Checks shared by the property tests ------------------------------------------------------

BUG_MARKERS = ("could not be read", "internal error")
"""Messages that only appear when the parser or resolver itself failed."""


def assert_within_bounds(settings: VoiceSettings) -> None:
    """Every value is of its type and in its range, min <= max; re-validation agrees."""
    assert isinstance(settings, VoiceSettings)
    assert VoiceSettings.model_validate(settings.model_dump()) == settings
    for name in FIELDS:
        value = getattr(settings, name)
        if value is None:
            assert is_optional(name), name
            continue
        if name in NUMBER_FIELDS:
            assert type(value) is base_type(name), (name, value)
            assert math.isfinite(value), (name, value)
            assert ge(name) <= value <= le(name), (name, value)
        elif name in BOOL_FIELDS:
            assert type(value) is bool, (name, value)
        elif name in LITERAL_FIELDS:
            assert value in get_args(info(name).annotation), (name, value)
        else:
            assert isinstance(value, str), (name, value)
            if max_len(name) is not None:
                assert len(value) <= max_len(name), name
            if pattern(name):
                assert re.search(pattern(name), value), (name, value)
    assert settings.min_endpointing_delay <= settings.max_endpointing_delay
    assert settings.instructions.strip()


def assert_errors_are_reports(errors: tuple[SettingsError, ...]) -> None:
    """Errors are well-formed, printable, strict-JSON-serializable, and none reveals a bug."""
    for error in errors:
        assert isinstance(error, SettingsError)
        assert error.field in FIELDS or error.field == METADATA, error
        assert not any(marker in error.message for marker in BUG_MARKERS), error
        str(error).encode("utf-8")  # printable to a UTF-8 log or terminal
        json.dumps(error.to_dict(), allow_nan=False)


__all__ = [
    "ALIASES_OF", "BOOL_FIELDS", "FLOAT_FIELDS", "INT_FIELDS", "LITERAL_FIELDS", "MAX", "MIN",
    "NUMBER_FIELDS", "OPERATOR_FIELDS", "OPTIONAL_NUMBER_FIELDS", "PARTICIPANT_FIELDS",
    "assert_errors_are_reports", "assert_within_bounds", "canonical", "ge", "hostile_metadata",
    "hostile_profile_bodies",
    "hostile_values", "json_values", "le", "metadata_dicts", "participant_metadata",
    "spelling", "valid_settings", "valid_value", "valid_values",
]
