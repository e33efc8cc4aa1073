"""What the agent tells the app: participant attributes on the agent's own participant.

A settings screen reads these to show "saved, applies on your next call" or
"endpointing_ms: 90000 is above the 5000 ms limit". Each value is a JSON string, kept small
(LiveKit caps all attributes together at 64 KiB): the instructions are summarised, not copied.
Every key and value, also inside the JSON, is text UTF-8 can carry, whatever the input: a lone
surrogate (a JSON escape such as `"\\ud800"` decodes to one) is written out as its escape, so
the publication never fails and the app's JSON decoder never meets one.

| attribute        | JSON shape                                                              |
|------------------|-------------------------------------------------------------------------|
| `voice.settings` | `{field: value, ...}` in force now; `instructions` replaced by          |
|                  | `instructions_chars` and `instructions_sha256` (first 16 hex digits)    |
| `voice.pending`  | `{field: value, ...}` changed but waiting for the next session; `{}`    |
| `voice.errors`   | `[{"field", "value", "message", "source"}, ...]` from the last change;  |
|                  | `[]` when it was clean; at most 10 entries                              |
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SettingsError, encodable, shown
from ..model import VoiceSettings

SETTINGS = "voice.settings"
PENDING = "voice.pending"
ERRORS = "voice.errors"

MAX_ERRORS = 10
_MAX_MESSAGE = 300


def instructions_digest(text: str) -> str:
    """What the app compares with its own copy to know its instructions are in force."""
    return hashlib.sha256(encodable(text).encode("utf-8")).hexdigest()[:16]


def settings_summary(settings: VoiceSettings) -> dict[str, Any]:
    summary = settings.model_dump(mode="json")
    instructions = summary.pop("instructions")
    summary["instructions_chars"] = len(instructions)
    summary["instructions_sha256"] = instructions_digest(instructions)
    return summary


def _error(error: SettingsError) -> dict[str, Any]:
    entry = error.to_dict()
    entry["message"] = entry["message"][:_MAX_MESSAGE]
    if isinstance(entry["value"], str) and len(entry["value"]) > 100:
        entry["value"] = entry["value"][:100] + "..."
    return entry


def agent_attributes(settings: VoiceSettings, pending: Mapping[str, Any],
                     errors: Iterable[SettingsError]) -> dict[str, str]:
    """All three attributes, as LiveKit wants them: str -> str, each encodable as UTF-8."""
    pending_json = {k: (len(v) if k == "instructions" and isinstance(v, str) else v)
                    for k, v in pending.items()}
    return {
        SETTINGS: _json(settings_summary(settings)),
        PENDING: _json(pending_json),
        ERRORS: _json([_error(e) for e in list(errors)[:MAX_ERRORS]]),
    }


def _json(value: Any) -> str:
    return json.dumps(_encodable(value), separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=shown)


def _encodable(value: Any) -> Any:
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, Mapping):
        return {encodable(str(k)): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN or Infinity
    return value
