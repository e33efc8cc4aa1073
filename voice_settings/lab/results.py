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

NOT_COMMITTED = "not_committed"
"""The framework committed no user turn after the caller's end of speech, so the caller got no
answer to it (seen after cut-ins: the rest of the sentence came while the agent answered its
first half)."""


@dataclass(frozen=True)
class TurnTiming:
    """One caller turn of a session."""

    first_audio_ms: float | None
    """The caller's end of speech -> the agent's first audio frame: what the caller hears."""
    llm_request_ms: float | None
    """The caller's end of speech -> the LLM request (early with preemptive generation)."""
    scenario: str = ""
    end_of_turn: dict[str, Any] | None = None
    """{"rule", "probability", "threshold", "waited_ms"}: the framework's decision that ended
    the turn (`voice_settings/runtime/end_of_turn.py`); waited_ms is the framework's own end of
    speech -> commit."""
    user_end: float = 0.0
    """The caller's end of speech, on the session's monotonic clock."""

    def log_entry(self) -> dict[str, Any]:
        """The turn as the lab's JSON `turn_log` shows it."""
        return {"scenario": self.scenario, "first_audio_ms": self.first_audio_ms,
                "llm_request_ms": self.llm_request_ms, "end_of_turn": self.end_of_turn}


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
    recording: dict[str, str] | None = None
    """With --record: {"wav", "timeline", "png"} file paths."""

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


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _repeat_halves(mine: Sequence[tuple[Trial, SessionResult]]) -> list[float | None] | None:
    """First-audio p50 of the first and the second half of the repeats (None for one repeat):
    two identical runs side by side, the lab's own repeatability check."""
    repeats = sorted({trial.repeat for trial, _ in mine})
    if len(repeats) < 2:
        return None
    first = set(repeats[: len(repeats) // 2])
    halves = ([t.first_audio_ms for trial, r in mine for t in r.turns if trial.repeat in first],
              [t.first_audio_ms for trial, r in mine for t in r.turns
               if trial.repeat not in first])
    return [_spread(half)["p50"] for half in halves]


def summarize(settings: SettingsSet, results: Sequence[tuple[Trial, SessionResult]]) -> dict:
    """One entry of the lab's JSON `runs`: the figures of one settings set."""
    mine = [(trial, result) for trial, result in results if trial.settings.label == settings.label]
    turns = [turn for _, result in mine for turn in result.turns]
    pauses = Counter(_pause_key(p) for _, result in mine for p in result.pauses)
    cut = Counter(_pause_key(p) for _, result in mine for p in result.cut_ins)
    played = [result for _, result in mine if result.backchannel_played]
    decided = [t.end_of_turn for t in turns
               if t.end_of_turn and t.end_of_turn.get("probability") is not None]
    return {
        "label": settings.label,
        "profile": settings.profile,
        "settings": settings.timing(),
        "sessions": len(mine),
        "turns": len(turns),
        "first_audio_ms": _spread(t.first_audio_ms for t in turns),
        "llm_request_ms": _spread(t.llm_request_ms for t in turns),
        "repeat_halves": _repeat_halves(mine),
        "end_of_turn_rules": dict(Counter(
            (t.end_of_turn or {}).get("rule") or NOT_COMMITTED for t in turns)),
        "model_probability": {
            "p50": _rounded(percentile([d["probability"] for d in decided], 50), 3),
            "threshold": decided[-1]["threshold"] if decided else None},
        "cut_ins": sum(cut.values()),
        "cut_ins_by_pause": {key: {"pauses": pauses[key], "cut_ins": cut[key]}
                             for key in sorted(pauses, key=float)},
        "backchannels": {
            "played": len(played),
            "interrupted": sum(1 for r in played if r.interrupted),
            "resumed": sum(1 for r in played if r.resumed),
        },
        "errors": [r.error for _, r in mine if r.error],
        "turn_log": [{**turn.log_entry(), "pause_s": trial.pause_s, "session": trial.session}
                     for trial, result in mine for turn in result.turns],
        "recordings": [{"session": trial.session, **result.recording}
                       for trial, result in mine if result.recording],
    }


def _pause_key(seconds: float) -> str:
    return f"{seconds:.2f}"
