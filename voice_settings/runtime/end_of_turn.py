"""Why each user turn ended when it did, as the framework decided it.

livekit-agents 1.8.9 (`voice/audio_recognition.py`, `_bounce_eou_task`) ends a user turn after
a wait counted from the caller's end of speech:

- turn detection "vad": `min_endpointing_delay` after Silero's end of speech (silence only);
- "stt": `min_endpointing_delay` after the STT's end of speech (its final transcript);
- "model": it asks the end-of-turn model for P(turn ended), compares it with the model's
  threshold for the turn's language (`unlikely_threshold(language)`), and waits
  `max_endpointing_delay` when P is below it ("unfinished"), `min_endpointing_delay` otherwise
  ("done"). The bundled `v1-mini` detector judges the last ~1.2 s of caller audio; the
  multilingual model judges the transcript.

The detector given to `AgentSession` is wrapped (`EndOfTurnLog.detector`), so every verdict the
framework obtained, with the very threshold it compared it with, is recorded at the moment it
was made: nothing is recomputed. `EndOfTurnLog.explain` then names the rule of the turn the
framework just committed:

| rule               | meaning                                                            |
|--------------------|--------------------------------------------------------------------|
| `vad`              | silence only: `min_endpointing_delay` after Silero's end of speech |
| `stt`              | the STT's end of speech, then `min_endpointing_delay`              |
| `model_done`       | the model judged the turn done (P >= threshold): min delay         |
| `model_unfinished` | the model judged it unfinished (P < threshold): max delay          |
| `no_verdict`       | "model" mode, but no verdict for this turn (language unsupported,  |
|                    | prediction timed out, nothing transcribed): min delay              |
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from livekit.agents import inference

RULES = ("vad", "stt", "model_done", "model_unfinished", "no_verdict")


@dataclass(frozen=True)
class EndOfTurn:
    """Which rule ended a turn; `probability`/`threshold` only where a model decided."""

    rule: str
    probability: float | None = None
    threshold: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "probability": _rounded(self.probability),
                "threshold": _rounded(self.threshold)}


@dataclass(frozen=True)
class Verdict:
    """One prediction the framework compared with its threshold, at `at` (`time.time()`)."""

    probability: float
    threshold: float
    at: float

    def end_of_turn(self) -> EndOfTurn:
        rule = "model_unfinished" if self.probability < self.threshold else "model_done"
        return EndOfTurn(rule, self.probability, self.threshold)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


class EndOfTurnLog:
    """The end-of-turn verdicts of one session, for its turn detection mode."""

    def __init__(self, turn_detection: str) -> None:
        self.turn_detection = turn_detection
        self.verdicts: list[Verdict] = []

    def detector(self, inner: Any) -> Any:
        """`inner` wrapped so that each verdict the framework asks it for is recorded here."""
        if isinstance(inner, RecordingTurnDetector):
            inner.record_into(self)
            return inner
        return RecordingTextDetector(inner, self)

    def add(self, probability: float, threshold: float | None) -> None:
        if threshold is not None:
            self.verdicts.append(Verdict(float(probability), float(threshold), time.time()))
            del self.verdicts[:-20]  # only the latest ones can explain a turn

    def explain(self, stopped_speaking_at: float | None = None) -> EndOfTurn:
        """The rule that ended the turn just committed.

        In "model" mode, the latest verdict made after the turn's end of speech
        (`stopped_speaking_at`, the framework's own anchor, `time.time()`), when given: a
        verdict from an earlier pause of the same turn did not end it.
        """
        if self.turn_detection in ("vad", "stt"):
            return EndOfTurn(self.turn_detection)
        fresh = [v for v in self.verdicts
                 if stopped_speaking_at is None or v.at >= stopped_speaking_at]
        self.verdicts.clear()
        return fresh[-1].end_of_turn() if fresh else EndOfTurn("no_verdict")


class _Forwarding:
    """What a recording wrapper passes through to the object it wraps, unchanged."""

    def __init__(self, inner: Any, log: EndOfTurnLog) -> None:
        self._inner = inner
        self._log = log

    @property
    def model(self) -> str:
        return self._inner.model

    @property
    def provider(self) -> str:
        return self._inner.provider

    async def supports_language(self, language: Any) -> bool:
        return await self._inner.supports_language(language)

    def __getattr__(self, name: str) -> Any:  # e.g. describe_options for the session report
        return getattr(self._inner, name)


class RecordingTextDetector(_Forwarding):
    """A text end-of-turn model (the multilingual plugin) that records its verdicts.

    The framework calls `predict_end_of_turn(chat_ctx)` and then `unlikely_threshold(language)`
    (and nothing else between them) to decide; the pair is one verdict. The model's own internal
    calls (e.g. `supports_language`) go to the model itself and are not recorded.
    """

    def __init__(self, inner: Any, log: EndOfTurnLog) -> None:
        super().__init__(inner, log)
        self._probability: float | None = None

    async def predict_end_of_turn(self, chat_ctx: Any, **kwargs: Any) -> float:
        self._probability = None
        self._probability = await self._inner.predict_end_of_turn(chat_ctx, **kwargs)
        return self._probability

    async def unlikely_threshold(self, language: Any) -> float | None:
        threshold = await self._inner.unlikely_threshold(language)
        if self._probability is not None:
            self._log.add(self._probability, threshold)
            self._probability = None
        return threshold


class RecordingTurnDetector(inference.TurnDetector):
    """The bundled audio detector (`inference.TurnDetector`) recording its verdicts.

    A subclass rather than a wrapper: the framework treats an `inference.TurnDetector`
    specially (it subscribes to its metrics), and that must not change. Its streams are
    wrapped: the framework awaits the future `predict()` returned, then asks the stream for
    `unlikely_threshold(language)`; that pair is one verdict.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._log: EndOfTurnLog | None = None

    def record_into(self, log: EndOfTurnLog) -> None:
        """Streams made from now on (one per session activity) record into `log`."""
        self._log = log

    def stream(self, **kwargs: Any) -> Any:
        inner = super().stream(**kwargs)
        return inner if self._log is None else RecordingStream(inner, self._log)


class RecordingStream(_Forwarding):
    """A streaming detector's stream (`_StreamingTurnDetectorStream`) recording verdicts.

    Every member of the framework's protocol is spelled out (here or in `_Forwarding`): the
    framework checks the stream with a runtime protocol, and Python 3.12+ checks members
    without `__getattr__`.
    """

    def __init__(self, inner: Any, log: EndOfTurnLog) -> None:
        super().__init__(inner, log)
        self._prediction: asyncio.Future[Any] | None = None

    @property
    def is_fallback(self) -> bool:
        return self._inner.is_fallback

    @property
    def prediction_timeout(self) -> float:
        return self._inner.prediction_timeout

    async def unlikely_threshold(self, language: Any) -> float | None:
        threshold = await self._inner.unlikely_threshold(language)
        prediction = self._prediction
        if prediction is not None and prediction.done() and not prediction.cancelled():
            self._log.add(prediction.result().end_of_turn_probability, threshold)
            self._prediction = None
        return threshold

    async def backchannel_threshold(self, language: Any) -> float | None:
        return await self._inner.backchannel_threshold(language)

    def predict(self) -> asyncio.Future[Any]:
        self._prediction = self._inner.predict()
        return self._prediction

    def cancel_inference(self, *, timed_out: bool = False) -> None:
        self._inner.cancel_inference(timed_out=timed_out)

    def flush(self, reason: str | None = None) -> None:
        self._inner.flush(reason)

    def push_audio(self, frame: Any) -> None:
        self._inner.push_audio(frame)

    def end_input(self) -> None:
        self._inner.end_input()

    async def aclose(self) -> None:
        await self._inner.aclose()
