"""The listening Deepgram stand-in driven by the real deepgram plugin, audio in real time.

Streams run side by side on one stand-in, fed the same audio at the same moments, so
their timings can be compared within one run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import stt, utils
from livekit.plugins import deepgram

from voice_settings.harness import DeepgramConnection, DeepgramStandIn
from voice_settings.harness.speech import Scenario, make_scenario

T = 10.0
FRAME_SAMPLES = 160  # 10 ms at 16 kHz


@dataclass
class Listening:
    """One plugin stream, the connection it opened and the events the plugin emitted."""

    stream: stt.RecognizeStream
    conn: DeepgramConnection
    scenario: Scenario
    events: list[stt.SpeechEvent] = field(default_factory=list)
    flush_at_s: float | None = None

    def texts(self, kind: stt.SpeechEventType) -> list[str]:
        return [e.alternatives[0].text for e in self.events if e.type == kind]

    def has(self, kind: stt.SpeechEventType) -> bool:
        return any(e.type == kind for e in self.events)


async def open_streams(dg: DeepgramStandIn, configs: list[tuple[Scenario, dict]]
                       ) -> list[Listening]:
    out = []
    for index, (scenario, options) in enumerate(configs):
        plugin = deepgram.STT(base_url=dg.url, api_key="k", **options)
        stream = plugin.stream()
        conn = await dg.wait_for_connection(index=index, timeout=T)
        dg.expect_words(scenario.words, connection=conn)
        out.append(Listening(stream, conn, scenario))
    return out


async def play_in_real_time(streams: list[Listening]) -> None:
    """Push every stream's scenario in 10 ms frames, paced by the event loop clock."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    longest = max(len(s.scenario.samples) for s in streams)
    for first in range(0, longest, FRAME_SAMPLES):
        for s in streams:
            chunk = s.scenario.samples[first : first + FRAME_SAMPLES]
            if len(chunk) < FRAME_SAMPLES:
                chunk = np.zeros(FRAME_SAMPLES, np.int16)
            s.stream.push_frame(rtc.AudioFrame(chunk.tobytes(), 16000, 1, FRAME_SAMPLES))
            if s.flush_at_s is not None and first / 16000 >= s.flush_at_s:
                s.stream.flush()
                s.flush_at_s = None
        await asyncio.sleep(max(0.0, start + (first + FRAME_SAMPLES) / 16000 - loop.time()))


async def collect(s: Listening) -> None:
    async for event in s.stream:
        s.events.append(event)


async def run(dg: DeepgramStandIn, configs: list[tuple[Scenario, dict]],
              flush_at_s: dict[int, float] | None = None) -> list[Listening]:
    streams = await open_streams(dg, configs)
    for index, at in (flush_at_s or {}).items():
        streams[index].flush_at_s = at
    readers = [asyncio.create_task(collect(s)) for s in streams]
    await play_in_real_time(streams)
    await asyncio.sleep(0.2)  # the last messages reach the plugin
    for s in streams:
        await s.stream.aclose()
    await asyncio.gather(*readers, return_exceptions=True)
    return streams


async def test_endpointing_utterance_end_vad_events_and_finalize_follow_the_audio() -> None:
    question = make_scenario("question", tail_s=1.4)
    words = question.words[0].text
    async with DeepgramStandIn(listen=True) as dg, utils.http_context.open():
        fast, slow, no_endpointing, finalized = await run(dg, [
            (question, {"endpointing_ms": 100}),
            (question, {"endpointing_ms": 800}),
            (question, {"endpointing_ms": 0, "utterance_end_ms": 1000, "vad_events": False}),
            (question, {"endpointing_ms": 0}),
        ], flush_at_s={3: question.words[0].start_s + 1.0})

    final = stt.SpeechEventType.FINAL_TRANSCRIPT
    end = stt.SpeechEventType.END_OF_SPEECH
    for s in (fast, slow):
        [speech_final] = [m for m in s.conn.finals if m.speech_final]
        assert speech_final.transcript == words
        assert s.texts(final) == [words] and s.has(end)
        assert len(s.conn.of_type("SpeechStarted")) == 1
    fast_final = fast.conn.finals[0]
    slow_final = slow.conn.finals[0]
    # endpointing 800 vs 100 ms: the final comes ~700 ms later, on both clocks
    assert slow_final.audio_s - fast_final.audio_s == pytest.approx(0.7, abs=0.06)
    assert slow_final.monotonic_s - fast_final.monotonic_s == pytest.approx(0.7, abs=0.25)

    # endpointing=false: finalized without speech_final; UtteranceEnd ends the speech
    assert not any(m.speech_final for m in no_endpointing.conn.timeline)
    assert [m.transcript for m in no_endpointing.conn.finals] == [words]
    [utterance_end] = no_endpointing.conn.of_type("UtteranceEnd")
    assert utterance_end.audio_s - slow_final.audio_s == pytest.approx(0.2, abs=0.06)
    assert no_endpointing.texts(final) == [words] and no_endpointing.has(end)
    assert no_endpointing.conn.of_type("SpeechStarted") == []  # vad_events=false

    # Finalize (the plugin's flush) mid-speech: a final of the words so far, at once
    first = finalized.conn.finals[0]
    assert first.message["from_finalize"] and first.transcript == words
    assert first.audio_s < fast_final.audio_s - 0.5
    assert finalized.texts(final)[0] == words
    assert finalized.conn.count("Finalize") == 1


async def test_a_pause_longer_than_endpointing_splits_the_utterance() -> None:
    async with DeepgramStandIn(listen=True) as dg, utils.http_context.open():
        short, long = await run(dg, [
            (make_scenario("hesitation", 0.3, tail_s=0.8), {"endpointing_ms": 500}),
            (make_scenario("hesitation", 1.0, tail_s=0.8), {"endpointing_ms": 500}),
        ])
    final = stt.SpeechEventType.FINAL_TRANSCRIPT
    assert short.texts(final) == ["I would like to book a table for two"]
    assert long.texts(final) == ["I would like to book", "a table for two"]
    ends = [e for e in long.events if e.type == stt.SpeechEventType.END_OF_SPEECH]
    assert len(ends) == 2
    assert [h.text for h in long.conn.listener.heard] == ["I would like to book",
                                                          "a table for two"]
