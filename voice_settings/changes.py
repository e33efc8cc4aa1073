"""What a change means: which fields changed, and whether each applies now or next session.

Only prompt-level fields (`applies == "live"`, today just `instructions`) change during a call.
Everything else is fixed when the session starts: changing Deepgram's endpointing reconnects the
stream and loses the utterance in flight, so timing changes wait for the next session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import FIELDS, LIVE, VoiceSettings, policy


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    applies: str
    """"live" (applied now) or "next_session" (pending until the next session starts)."""

    @property
    def live(self) -> bool:
        return self.applies == LIVE


def diff(old: VoiceSettings, new: VoiceSettings) -> list[FieldChange]:
    """Every changed field, in model order, with old and new value and when it applies."""
    return [
        FieldChange(name, getattr(old, name), getattr(new, name), policy(name)["applies"])
        for name in FIELDS
        if getattr(old, name) != getattr(new, name)
    ]


def pending_fields(started: VoiceSettings, current: VoiceSettings) -> dict[str, Any]:
    """Session-start fields whose current value differs from what the session started with."""
    return {c.field: c.new for c in diff(started, current) if not c.live}
