"""What the call actually does: the timing of every user turn, as the framework measured it.

Each figure is in milliseconds and comes from livekit-agents' own per-turn measurements, the
`metrics` of the user and assistant `ChatMessage`s that `conversation_item_added` carries (the
framework deprecates `metrics_collected` in their favour, and logs a warning for every
subscriber). They are all counted from one instant, the **speech end**: the framework's
`stopped_speaking_at`, the anchor its end-of-turn wait counts from. With a VAD (turn detection
"vad" or "model") it is Silero's end of speech, backdated by the silence Silero waited for;
in "stt" mode it is the STT provider's last word end (the final transcript's arrival when the
provider gives no word times).

| figure                   | from                        | to                                      |
|--------------------------|-----------------------------|-----------------------------------------|
| `response_ms`            | speech end                  | the reply's first audio frame played    |
|                          |                             | (when `agent_state` becomes "speaking") |
| `end_of_turn_ms`         | speech end                  | end of turn decided                     |
| `transcription_delay_ms` | speech end                  | last final transcript (0 when it came   |
|                          |                             | before the speech end)                  |
| `llm_ttft_ms`            | the reply's LLM request     | its first token                         |
| `tts_ttfb_ms`            | first text sent to the TTS  | its first audio                         |

`response_ms` is the delay the caller hears. The framework waits at least the caller's
`min_endpointing_delay` after the speech end before it decides the end of turn, and plays
nothing before that, so `response_ms >= end_of_turn_ms >= min_endpointing_delay` whenever
both are given. With preemptive generation the LLM request may go out before the end of turn,
so `llm_ttft_ms` can overlap `end_of_turn_ms`.

A turn is a user message and the reply that answers it; it is recorded when the reply's
message is added (after its playout, or its interruption), or, unanswered, when the next user
message comes or the session closes. A figure the framework did not give for a turn is left
out, never invented: without a speech end (e.g. a VAD that heard nothing while the STT
transcribed) there is no `response_ms`, `end_of_turn_ms` or `transcription_delay_ms`.

Each turn is also explained (`end_of_turn.py`): the rule that ended it (`vad`, `stt`,
`model_done`, `model_unfinished`, `no_verdict`) and, where the end-of-turn model decided, the
probability it gave and the threshold the framework compared it with.

After each turn: one log line with the figures, the end-of-turn rule and the participant
identity, and the `voice.timing` attribute on the agent's participant, `{"turns": N,
"last": {...}, "last_end_of_turn": {"rule", "probability", "threshold"}, "p50": {...}}`, p50
being each figure's median over those of the last `WINDOW_TURNS` turns that gave it.
A failed publication is logged; the next turn publishes again. When the session closes, the
turn still open is only logged, and so is the session's usage (tokens, characters, audio per
model).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import statistics
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from livekit.agents import AgentSession, CloseEvent, ConversationItemAddedEvent, llm

from .end_of_turn import RULES, EndOfTurn, EndOfTurnLog

logger = logging.getLogger(__name__)

TIMING = "voice.timing"
WINDOW_TURNS = 50
MAX_MS = 86_400_000
"""A figure beyond a day is not a measurement of a turn: it is left out."""

# (figure, the ChatMessage.metrics key it comes from, whose message carries it)
_SOURCES = (
    ("response_ms", "e2e_latency", "assistant"),
    ("end_of_turn_ms", "end_of_turn_delay", "user"),
    ("transcription_delay_ms", "transcription_delay", "user"),
    ("llm_ttft_ms", "llm_node_ttft", "assistant"),
    ("tts_ttfb_ms", "tts_node_ttfb", "assistant"),
)
FIGURES = tuple(figure for figure, _, _ in _SOURCES)

Figures = dict[str, float]
PublishAttributes = Callable[[dict[str, str]], Awaitable[None]]


def turn_figures(user: Mapping[str, Any] | None, reply: Mapping[str, Any] | None) -> Figures:
    """The figures (ms) of one turn from its messages' metrics (seconds); absent stays absent."""
    messages = {"user": user or {}, "assistant": reply or {}}
    figures: Figures = {}
    for figure, key, role in _SOURCES:
        seconds = messages[role].get(key)
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            figures[figure] = seconds * 1000
    return figures


def medians(turns: Iterable[Mapping[str, float]]) -> Figures:
    """Each figure's median over the turns that gave it."""
    turns = list(turns)
    values = {figure: [t[figure] for t in turns if figure in t] for figure in FIGURES}
    return {figure: statistics.median(v) for figure, v in values.items() if v}


def _whole_ms(figures: Mapping[str, Any]) -> dict[str, int]:
    """Known figures as whole milliseconds; non-numbers, NaN and absurd values left out."""
    out: dict[str, int] = {}
    for figure in FIGURES:
        value = figures.get(figure)
        if (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value) and abs(value) <= MAX_MS):
            out[figure] = round(value)
    return out


def timing_json(turns: int, last: Mapping[str, Any], p50: Mapping[str, Any],
                end_of_turn: EndOfTurn | None = None) -> str:
    """The `voice.timing` attribute: ASCII JSON, at most a few hundred bytes for any input."""
    document: dict[str, Any] = {"turns": max(int(turns), 0), "last": _whole_ms(last)}
    if end_of_turn is not None:
        document["last_end_of_turn"] = _end_of_turn_json(end_of_turn)
    document["p50"] = _whole_ms(p50)
    return json.dumps(document, separators=(",", ":"))


def _end_of_turn_json(end_of_turn: EndOfTurn) -> dict[str, Any]:
    """Its rule (one of `RULES`) and finite probability/threshold, or null."""
    shown = end_of_turn.to_json()
    if shown["rule"] not in RULES:
        shown["rule"] = "no_verdict"
    for key in ("probability", "threshold"):
        if shown[key] is not None and not (math.isfinite(shown[key]) and 0 <= shown[key] <= 1):
            shown[key] = None
    return shown


def _log_fields(figures: Mapping[str, Any], shown: Mapping[str, Any] | None) -> str:
    """The log line's fields; `shown`: the turn's `_end_of_turn_json`, if any."""
    measured = (" ".join(f"{k}={v}" for k, v in _whole_ms(figures).items())
                or "unanswered, nothing measured (the call ended or the turn was cut off)")
    return measured + ("" if shown is None else " " + _end_of_turn_words(shown))


def _end_of_turn_words(shown: Mapping[str, Any]) -> str:
    if shown["probability"] is None or shown["threshold"] is None:
        return f"end_of_turn={shown['rule']}"
    return (f"end_of_turn={shown['rule']} probability={shown['probability']:.3f} "
            f"threshold={shown['threshold']:.3f}")


class TurnTiming:
    """Follows one AgentSession: records each turn, logs it and publishes `voice.timing`."""

    def __init__(self, identity: str, publish: PublishAttributes,
                 window: int = WINDOW_TURNS, *, turn_detection: str | None = None) -> None:
        self.identity = identity
        self.end_of_turn = EndOfTurnLog(turn_detection) if turn_detection else None
        """Give it the session's detector (`end_of_turn.detector(...)`) to explain each turn."""
        self.turns = 0
        self.recent: deque[Figures] = deque(maxlen=window)
        self._publish = publish
        self._session: AgentSession | None = None
        self._unanswered: Mapping[str, Any] | None = None  # metrics of a user message
        self._unanswered_end: EndOfTurn | None = None  # and why that turn ended
        self._unpublished: str | None = None
        self._publishing: asyncio.Task[None] | None = None

    def follow(self, session: AgentSession) -> None:
        """Listen to the session's events; call it before `session.start()`."""
        self._session = session
        session.on("conversation_item_added", self._on_item_added)
        session.on("close", self._on_close)

    async def aclose(self) -> None:
        """Stop publishing (for the job's shutdown callbacks)."""
        if self._publishing is not None:
            self._publishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publishing

    def record(self, figures: Figures, end_of_turn: EndOfTurn | None = None, *,
               publish: bool = True) -> None:
        """One turn is over: count it, log it, publish the attribute."""
        self.turns += 1
        self.recent.append(figures)
        shown = None if end_of_turn is None else _end_of_turn_json(end_of_turn)
        explained = {} if shown is None else {"end_of_turn": shown}
        logger.info("turn timing for %s: turn %d %s", self.identity, self.turns,
                    _log_fields(figures, shown),
                    extra={"participant": self.identity, "turn": self.turns,
                           **_whole_ms(figures), **explained})
        if not publish:
            return
        self._unpublished = timing_json(self.turns, figures, medians(self.recent), end_of_turn)
        if self._publishing is None or self._publishing.done():
            self._publishing = asyncio.create_task(self._publish_latest(),
                                                   name="turn-timing-publisher")

    def _on_item_added(self, event: ConversationItemAddedEvent) -> None:
        item = event.item
        if not isinstance(item, llm.ChatMessage):
            return
        if item.role == "user":
            if self._unanswered is not None:
                self.record(turn_figures(self._unanswered, None), self._unanswered_end)
            self._unanswered = dict(item.metrics)
            self._unanswered_end = self._explain(self._unanswered)
        elif item.role == "assistant" and self._unanswered is not None:
            # a reply to no user message (the greeting, a tool's follow-up) is not a turn
            user, self._unanswered = self._unanswered, None
            self.record(turn_figures(user, item.metrics), self._unanswered_end)

    def _explain(self, user: Mapping[str, Any]) -> EndOfTurn | None:
        """Why the turn the framework just committed ended (its message was just added)."""
        if self.end_of_turn is None:
            return None
        stopped = user.get("stopped_speaking_at")
        return self.end_of_turn.explain(stopped if isinstance(stopped, int | float) else None)

    def _on_close(self, event: CloseEvent) -> None:
        if self._unanswered is not None:  # logged; the app is leaving, nothing to publish to
            user, self._unanswered = self._unanswered, None
            self.record(turn_figures(user, None), self._unanswered_end, publish=False)
        if self._session is not None:
            log_usage(self.identity, self._session.usage.model_usage)

    async def _publish_latest(self) -> None:
        while self._unpublished is not None:
            value, self._unpublished = self._unpublished, None
            try:
                await self._publish({TIMING: value})
            except Exception:
                logger.exception("could not publish turn timing for %s", self.identity,
                                 extra={"participant": self.identity})


def log_usage(identity: str, model_usage: Iterable[Any]) -> None:
    """One line: what each model of the session consumed (its non-zero counters)."""
    entries = [u.model_dump() for u in model_usage]
    parts = []
    for entry in entries:
        counts = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in entry.items()
                          if k not in ("type", "provider", "model") and v)
        parts.append(f"{entry.get('type')} {entry.get('model')} {counts}".strip())
    logger.info("session usage for %s: %s", identity, "; ".join(parts) or "nothing used",
                extra={"participant": identity, "usage": entries})
