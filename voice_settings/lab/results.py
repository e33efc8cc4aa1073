"""What one lab session measured, and the figures per settings set.

A session reports, per user turn, the user's end of speech (audio time of the scenario), when the
LLM request arrived and when the agent's first audio frame was played, all on one clock; cut-ins
(the agent took the turn inside a mid-utterance pause); and, for the backchannel scenario,
whether the agent's speech was interrupted by the "mm-hm" and whether it resumed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .plan import SettingsSet, Trial


@dataclass(frozen=True)
class TurnTiming:
    response_delay_ms: float | None
    """The user's end of speech -> the LLM request."""
    first_audio_ms: float | None
    """The user's end of speech -> the agent's first audio frame."""


@dataclass(frozen=True)
class SessionResult:
    """What the child process running one trial reports."""

    turns: list[TurnTiming] = field(default_factory=list)
    cut_ins: list[float] = field(default_factory=list)
    """Length of each mid-utterance pause the agent answered in (s)."""
    pauses: list[float] = field(default_factory=list)
    """Every mid-utterance pause the user made (s)."""
    backchannel_played: bool = False
    interrupted: bool | None = None
    resumed: bool | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionResult:
        turns = [TurnTiming(**turn) for turn in data.get("turns", [])]
        return cls(**{**data, "turns": turns})


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between closest ranks; None for no values."""
    ordered = sorted(v for v in values if v is not None and math.isfinite(v))
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _spread(values: Iterable[float | None]) -> dict[str, float | None]:
    present = [v for v in values if v is not None]
    return {"p50": _rounded(percentile(present, 50)), "p90": _rounded(percentile(present, 90))}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def summarize(settings: SettingsSet, results: Sequence[tuple[Trial, SessionResult]]) -> dict:
    """One entry of the lab's JSON `runs`: the figures of one settings set."""
    mine = [(trial, result) for trial, result in results if trial.settings.label == settings.label]
    turns = [turn for _, result in mine for turn in result.turns]
    pauses = Counter(_pause_key(p) for _, result in mine for p in result.pauses)
    cut = Counter(_pause_key(p) for _, result in mine for p in result.cut_ins)
    played = [result for _, result in mine if result.backchannel_played]
    return {
        "label": settings.label,
        "profile": settings.profile,
        "settings": settings.timing(),
        "sessions": len(mine),
        "turns": len(turns),
        "response_delay_ms": _spread(t.response_delay_ms for t in turns),
        "first_audio_ms": _spread(t.first_audio_ms for t in turns),
        "cut_ins": sum(cut.values()),
        "cut_ins_by_pause": {key: {"pauses": pauses[key], "cut_ins": cut[key]}
                             for key in sorted(pauses, key=float)},
        "backchannels": {
            "played": len(played),
            "interrupted": sum(1 for r in played if r.interrupted),
            "resumed": sum(1 for r in played if r.resumed),
        },
        "errors": [r.error for _, r in mine if r.error],
    }


def _pause_key(seconds: float) -> str:
    return f"{seconds:.2f}"
