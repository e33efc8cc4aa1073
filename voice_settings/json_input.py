"""One reader of JSON objects from untrusted text, with one set of rules for every entry point.

Participant and dispatch metadata (the agent), the settings CLI, `token_tool.py` (mint's
--metadata, update's current metadata) and the token server's request bodies all read JSON
objects through `read_json_object`, so a document one of them accepts, every one accepts:

- at most `max_bytes` of UTF-8 (64 KiB by default: LiveKit's metadata limit in older servers);
- valid UTF-8, and no lone UTF-16 surrogate, raw or escaped (`"\\ud800"`): LiveKit could not
  store or publish it;
- standard JSON numbers only: no `NaN`, `Infinity` or `-Infinity`;
- no key given twice in one object (JavaScript apps never send that; a document that does is
  ambiguous);
- nested at most `MAX_DEPTH` arrays and objects deep;
- an object at the top; empty or blank text reads as `{}`.

A document that breaks a rule raises `JsonInputError`, whose message names what was wrong.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_METADATA_BYTES = 64 * 1024
"""LiveKit's metadata limit in older servers and parts of the docs; we never accept more."""

MAX_DOCUMENT_BYTES = 4 * MAX_METADATA_BYTES
"""For a document that carries metadata values (a request body, an attributes file): JSON
escaping can inflate each value, whose own size is checked as LiveKit counts it."""

MAX_DEPTH = 64
"""Arrays and objects nested deeper are refused (and a parser's recursion is never at stake)."""

_SURROGATE = re.compile(r"[\ud800-\udfff]")


class JsonInputError(ValueError):
    """Text that is not a JSON object these rules accept. `value` shows what was given."""

    def __init__(self, message: str, value: Any) -> None:
        super().__init__(message)
        self.message, self.value = message, value


def refuse_json_constant(name: str) -> Any:
    """`json.loads(..., parse_constant=)`: NaN and the infinities are not JSON numbers."""
    raise ValueError(f"{name} is not a number JSON allows")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {json.dumps(twice)} is given twice")
    return document


def _depth_over(document: Any, limit: int) -> bool:
    """Whether `document` nests arrays and objects more than `limit` deep (no recursion)."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _lone_surrogate(document: Any) -> str | None:
    """A string (key or value) holding a lone surrogate, shown escaped, or None."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return node.encode("utf-8", "backslashreplace").decode("ascii", "replace")[:60]
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def read_json_object(data: str | bytes | bytearray | memoryview, *, what: str = "metadata",
                     max_bytes: int = MAX_METADATA_BYTES) -> dict[str, Any]:
    """The JSON object in `data`, or `JsonInputError` naming the rule it breaks."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise JsonInputError(f"{what} is {len(raw)} bytes, over the {max_bytes} byte limit",
                             f"{len(raw)} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        kind = "a lone UTF-16 surrogate" if exc.reason == "surrogates not allowed" else None
        message = f"{what} is not valid UTF-8" + (f" ({kind})" if kind else "")
        raise JsonInputError(message, f"byte {exc.start}") from None
    if not text.strip():
        return {}
    try:
        document = json.loads(text, parse_constant=refuse_json_constant,
                              object_pairs_hook=_unique_keys)
    except RecursionError:
        raise JsonInputError(f"{what} nests arrays and objects more than {MAX_DEPTH} deep",
                             text[:200]) from None
    except ValueError as exc:
        raise JsonInputError(f"{what} is not valid JSON ({exc})", text[:200]) from None
    if not isinstance(document, dict):
        raise JsonInputError(f"{what} must be a JSON object, got {type(document).__name__}",
                             text[:200])
    if _depth_over(document, MAX_DEPTH):
        raise JsonInputError(f"{what} nests arrays and objects more than {MAX_DEPTH} deep",
                             text[:200])
    if (where := _lone_surrogate(document)) is not None:
        raise JsonInputError(f"{what} holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is "
                             "not text", where)
    return document
