"""Each turn's end-of-turn rule, from the verdicts the framework got from the session's detector."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from livekit import rtc
from livekit.agents import inference
from livekit.agents.voice.turn import _StreamingTurnDetector, _StreamingTurnDetectorStream

from voice_settings.harness.speech import load_clip
from voice_settings.runtime.end_of_turn import (
    EndOfTurn,
    EndOfTurnLog,
    RecordingTextDetector,
    RecordingTurnDetector,
)


def test_without_a_model_the_mode_is_the_rule():
    assert EndOfTurnLog("vad").explain() == EndOfTurn("vad")
    assert EndOfTurnLog("stt").explain(time.time()) == EndOfTurn("stt")


def test_a_verdict_below_the_threshold_is_unfinished_and_above_it_done():
    log = EndOfTurnLog("model")
    log.add(0.2, 0.36)
    assert log.explain() == EndOfTurn("model_unfinished", 0.2, 0.36)
    log.add(0.36, 0.36)
    assert log.explain().rule == "model_done"
    assert log.explain() == EndOfTurn("no_verdict"), "a verdict explains one turn"


def test_a_verdict_from_before_the_turns_end_of_speech_did_not_end_it():
    log = EndOfTurnLog("model")
    log.add(0.1, 0.36)  # at a pause the caller then spoke through
    assert log.explain(stopped_speaking_at=time.time() + 1).rule == "no_verdict"


class TextModel:
    """A text end-of-turn model as the framework sees one (`voice/turn.py`'s `_TurnDetector`)."""

    model, provider = "text-model", "test"

    async def predict_end_of_turn(self, chat_ctx, *, timeout=None) -> float:
        return 0.7

    async def unlikely_threshold(self, language) -> float | None:
        return 0.5

    async def supports_language(self, language) -> bool:
        return await self.unlikely_threshold(language) is not None


async def test_a_text_model_verdict_is_the_prediction_and_the_threshold_asked_after_it():
    log = EndOfTurnLog("model")
    detector = log.detector(TextModel())
    assert isinstance(detector, RecordingTextDetector)
    assert not isinstance(detector, _StreamingTurnDetector), "still a text detector"
    assert await detector.supports_language(None)
    assert log.verdicts == [], "the model's own threshold lookups are not verdicts"
    assert await detector.predict_end_of_turn(None) == 0.7
    assert await detector.unlikely_threshold(None) == 0.5
    assert log.explain() == EndOfTurn("model_done", 0.7, 0.5)
    assert detector.model == "text-model"


async def test_the_bundled_detector_records_what_its_stream_predicted():
    detector = RecordingTurnDetector(version="v1-mini")
    log = EndOfTurnLog("model")
    assert log.detector(detector) is detector, "the framework's own type, kept"
    assert isinstance(detector, inference.TurnDetector | _StreamingTurnDetector)
    stream = detector.stream()
    assert isinstance(stream, _StreamingTurnDetectorStream)
    samples = np.concatenate([load_clip("question").samples, np.zeros(4000, np.int16)])
    for first in range(0, len(samples) - 160, 160):
        stream.push_audio(rtc.AudioFrame(samples[first:first + 160].tobytes(), 16000, 1, 160))
    prediction = await asyncio.wait_for(stream.predict(), 10)
    threshold = await stream.unlikely_threshold(None)  # English, as the framework asks
    await stream.aclose()

    [verdict] = log.verdicts
    assert verdict.probability == prediction.end_of_turn_probability
    assert verdict.threshold == threshold == 0.36
