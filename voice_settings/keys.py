"""How metadata keys name settings: the one place for key aliases.

An app may spell a field in snake_case (`endpointing_ms`) or in the camelCase a JavaScript app
sends (`endpointingMs`); `systemPrompt` and `system_prompt` are the names other LiveKit examples
use for the instructions. Keys that name no field belong to the app and are passed through.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic.alias_generators import to_camel

from .errors import closest
from .model import FIELDS, OPERATOR_FIELDS

_EXTRA_ALIASES = {"systemPrompt": "instructions", "system_prompt": "instructions"}


def _build_aliases() -> dict[str, str]:
    aliases = {}
    for name in FIELDS:
        aliases[name] = name
        aliases.setdefault(to_camel(name), name)
    aliases.update(_EXTRA_ALIASES)
    return aliases


KEY_ALIASES: dict[str, str] = _build_aliases()
"""Every accepted key -> the canonical snake_case field name."""


def canonical_key(key: Any) -> str | None:
    """The field a metadata key names (aliases included), or None for an app's own key."""
    return KEY_ALIASES.get(key) if isinstance(key, str) else None


def split_by_audience(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what a participant may set, what only the operator may set), keys as given."""
    participant, operator = {}, {}
    for key, value in values.items():
        name = canonical_key(key) or key
        (operator if name in OPERATOR_FIELDS else participant)[key] = value
    return participant, operator


def did_you_mean(key: str, names: Collection[str] = FIELDS) -> str:
    """"did you mean X? " for the field among `names` that `key` most likely misspells (any
    spelling of it), or "" when none is close."""
    near = closest(key, [alias for alias, name in KEY_ALIASES.items() if name in names])
    return f"did you mean {KEY_ALIASES[near]}? " if near else ""
