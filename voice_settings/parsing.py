"""Untrusted metadata in, validated values out. Never raises.

Metadata can be anything: JSON text, bytes, None, an empty string, or (in console mode) a
MagicMock. Each field is validated on its own: a bad value is dropped (so the next lower source
supplies it) and recorded as a `SettingsError`; the good values beside it are kept. Metadata that
is not a JSON object, not UTF-8, or over 64 KiB is rejected whole with one error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from .errors import METADATA, SettingsError, describe, shown
from .json_input import JsonInputError, read_json_object, refuse_json_constant
from .keys import KEY_ALIASES, canonical_key, did_you_mean
from .model import FIELDS, MAX_DELAY, MIN_DELAY, OPERATOR_FIELDS, VoiceSettings
from .sources import Source


@dataclass(frozen=True)
class ParsedMetadata:
    values: dict[str, Any] = field(default_factory=dict)
    """Valid values, by canonical field name."""
    errors: tuple[SettingsError, ...] = ()
    unknown_keys: tuple[str, ...] = ()
    rejected_fields: frozenset[str] = frozenset()
    """Fields that were given but refused: a running call keeps their last valid value."""
    rejected_whole: bool = False
    """True when nothing could be read (not JSON, not an object, too large, not UTF-8)."""


def _adapter(name: str) -> TypeAdapter[Any]:
    info = VoiceSettings.model_fields[name]
    if not info.metadata:
        return TypeAdapter(info.annotation)
    return TypeAdapter(Annotated[(info.annotation, *info.metadata)])


# Built at import, so a mistake here fails loudly at start, not per value during a call.
_ADAPTERS = {name: _adapter(name) for name in FIELDS}


def validate_field(name: str, value: Any) -> tuple[Any, str | None]:
    """(validated value, None), or (None, a sentence saying what is wrong and what is allowed)."""
    try:
        return _ADAPTERS[name].validate_python(value, strict=True), None
    except ValidationError as exc:
        first = exc.errors()[0]
        return None, describe(name, value, first["type"])
    except Exception as exc:  # a value pydantic cannot even inspect; still not our crash
        return None, f"{shown(value)} could not be read ({type(exc).__name__})."


def decode(raw: Any) -> tuple[dict[str, Any] | None, SettingsError | None]:
    """Metadata as a dict of raw values; (None, error) when it cannot be one."""
    if raw is None:
        return {}, None
    if isinstance(raw, Mapping):
        return dict(raw), None
    if not isinstance(raw, str | bytes | bytearray | memoryview):
        return None, SettingsError(
            METADATA, type(raw).__name__,
            f"metadata must be JSON text, got a {type(raw).__name__}; ignored.")
    try:
        return read_json_object(raw), None
    except JsonInputError as exc:
        return None, SettingsError(METADATA, exc.value, f"{exc.message}; nothing was applied.")


def _canonical_items(document: dict[Any, Any]) -> tuple[dict[str, tuple[str, Any]], list[str],
                                                         list[SettingsError]]:
    """Map keys onto fields. The canonical spelling wins over an alias given beside it."""
    chosen: dict[str, tuple[str, Any]] = {}
    unknown, errors = [], []
    ordered = sorted(document.items(), key=lambda kv: (KEY_ALIASES.get(kv[0]) != kv[0],))
    for key, value in ordered:
        name = canonical_key(key)
        if name is None:
            unknown.append(str(key))
        elif name in chosen:
            errors.append(SettingsError(
                name, value,
                f"given twice, as {chosen[name][0]} and as {key}; the value of "
                f"{chosen[name][0]} was used."))
        else:
            chosen[name] = (key, value)
    return chosen, unknown, errors


def parse_metadata(raw: Any, source: Source = Source.PARTICIPANT) -> ParsedMetadata:
    """Validate one source's metadata field by field. Never raises."""
    try:
        return _parse(raw, source)
    except Exception as exc:  # defence in depth: a parser bug must not end a call
        error = SettingsError(METADATA, type(raw).__name__,
                              f"metadata could not be read ({type(exc).__name__}).", source)
        return ParsedMetadata(errors=(error,), rejected_whole=True)


def _parse(raw: Any, source: Source) -> ParsedMetadata:
    document, problem = decode(raw)
    if document is None:
        assert problem is not None
        problem = SettingsError(problem.field, problem.value, problem.message, source)
        return ParsedMetadata(errors=(problem,), rejected_whole=True)
    chosen, unknown, errors = _canonical_items(document)
    values: dict[str, Any] = {}
    rejected: set[str] = set()
    for name, (_key, value) in chosen.items():
        if source is Source.PARTICIPANT and name in OPERATOR_FIELDS:
            errors.append(SettingsError(
                name, value,
                f"{name} can only be set by the operator (a profile or the agent dispatch "
                "metadata), not by participant metadata; ignored."))
            continue
        valid, message = validate_field(name, value)
        if message is None:
            values[name] = valid
        else:
            errors.append(SettingsError(name, value, message))
            rejected.add(name)
    errors.extend(_drop_contradictory_bounds(values, rejected))
    errors = [SettingsError(e.field, e.value, e.message, source) for e in errors]
    return ParsedMetadata(values, tuple(errors), tuple(unknown), frozenset(rejected))


def _drop_contradictory_bounds(values: dict[str, Any], rejected: set[str]) -> list[SettingsError]:
    """min > max from one source: neither is trustworthy, so both are refused like bad values
    (the next lower source supplies them; a running call keeps what it had)."""
    low, high = values.get(MIN_DELAY), values.get(MAX_DELAY)
    if low is None or high is None or low <= high:
        return []
    del values[MIN_DELAY], values[MAX_DELAY]
    rejected.update((MIN_DELAY, MAX_DELAY))
    return [SettingsError(MIN_DELAY, low, f"min_endpointing_delay {low:g} s is above "
                          f"max_endpointing_delay {high:g} s given beside it; both were ignored.")]


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` from a command line: the value is JSON when it parses, else plain text."""
    key, sep, raw_value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"expected key=value, got {text!r}")
    name = KEY_ALIASES.get(key)
    if name is None:
        raise ValueError(f"unknown setting {key!r}; {did_you_mean(key)}known settings: "
                         f"{', '.join(FIELDS)}")
    try:
        value = json.loads(raw_value, parse_constant=refuse_json_constant)
    except ValueError:
        value = raw_value
    return name, value
