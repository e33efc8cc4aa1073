"""Metadata documents for tokens: JSON objects read from a command line or a file, keys that spell
the same field differently merged as one, and the encoded text checked against LiveKit's size
limit."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..json_input import MAX_DOCUMENT_BYTES, MAX_METADATA_BYTES, JsonInputError, read_json_object
from ..keys import canonical_key
from ..tool_errors import UsageError, read_file_at_most


def with_values(document: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """`document` with `values` set; a key spelling the same field differently is replaced."""
    names = {canonical_key(k) or k for k in values}
    kept = {k: v for k, v in document.items() if (canonical_key(k) or k) not in names}
    return {**kept, **values}


def without_fields(document: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    dropped = set(names)
    return {k: v for k, v in document.items() if (canonical_key(k) or k) not in dropped}


def json_object(text: str | bytes, what: str,
                max_bytes: int = MAX_METADATA_BYTES) -> dict[str, Any]:
    try:
        return read_json_object(text, what=what, max_bytes=max_bytes)
    except JsonInputError as exc:
        raise UsageError(exc.message) from None


def json_file(path: str, what: str) -> dict[str, Any]:
    """The JSON object in a file, read at most MAX_DOCUMENT_BYTES + 1 bytes."""
    return json_object(read_file_at_most(path, what, MAX_DOCUMENT_BYTES), what, MAX_DOCUMENT_BYTES)


def over_limit(what: str, value: str | Mapping[str, str]) -> str | None:
    """Why a metadata value or a participant's attributes cannot travel (too large, not UTF-8),
    or None when they fit.

    Measured as LiveKit does: the UTF-8 bytes of the metadata; for attributes, of every key and
    value together (LiveKit stores the map, not the JSON it travels in)."""
    parts = [value] if isinstance(value, str) else [*value.keys(), *value.values()]
    try:
        size = sum(len(part.encode("utf-8")) for part in parts)
    except UnicodeEncodeError:  # a lone surrogate: a Python str, but no text LiveKit can carry
        return f"{what} is not valid UTF-8 text (it holds a lone surrogate)"
    if size > MAX_METADATA_BYTES:
        return f"{what} is {size} bytes, over the {MAX_METADATA_BYTES} byte limit"
    return None


def encode(document: Mapping[str, Any], what: str) -> str:
    if not document:
        return ""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if problem := over_limit(what, text):
        raise UsageError(problem)
    return text
