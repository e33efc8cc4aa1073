"""`voice.timing` from real turns: the real agent, framework, Silero VAD and plugins, offline.

The user's microphone plays speech-like sound, so the real VAD finds where their speech ends,
then the Deepgram stand-in sends the transcript, as a real final follows the audio.
"""

from __future__ import annotations

import json
import logging

import pytest

from tests.agent_helpers import published, running_agent, until
from tests.speech_like import speech_like
from voice_settings.harness import OfflineStack
from voice_settings.harness.speech import make_scenario
from voice_settings.runtime.turn_timing import TIMING

SPEECH = speech_like(1.2)
TOLERANCE_MS = 50  # timer granularity; the framework's wait itself is exact


def caller(turn_detection: str, min_delay_s: float) -> str:
    return json.dumps({"turnDetection": turn_detection, "minEndpointingDelay": min_delay_s,
                       "greeting": ""})


async def turn(stack: OfflineStack, text: str, *, speaks: bool = True, number: int = 1) -> dict:
    """The user says `text` (audibly when `speaks`); returns `voice.timing` after that turn."""
    if speaks:
        await stack.room.play_audio("alice", SPEECH)
    await stack.deepgram.say(text)
    return await until(lambda: (t := published(stack, TIMING)) and t["turns"] >= number and t,
                       f"voice.timing after turn {number}")


@pytest.mark.parametrize("turn_detection, speaks", [("vad", True), ("stt", False)])
async def test_the_response_waits_at_least_the_callers_delay(caplog, turn_detection, speaks):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    async with running_agent(caller(turn_detection, 0.6)) as stack:
        timing = await turn(stack, "what's the weather like", speaks=speaks)
        raw = stack.room.local_participant.attributes[TIMING]

    last = timing["last"]
    assert timing["turns"] == 1 and timing["p50"] == last
    assert last["response_ms"] >= 600 - TOLERANCE_MS
    assert last["response_ms"] >= last["end_of_turn_ms"] >= 600 - TOLERANCE_MS
    assert {"transcription_delay_ms", "llm_ttft_ms", "tts_ttfb_ms"} <= last.keys()
    assert len(raw.encode("utf-8")) < 1024
    lines = [r for r in caplog.records if r.getMessage().startswith("turn timing")]
    assert [(r.participant, r.turn, r.response_ms) for r in lines] == [
        ("alice", 1, last["response_ms"])]
    usage = [r for r in caplog.records if r.getMessage().startswith("session usage for alice")]
    assert len(usage) == 1 and usage[0].participant == "alice"
    assert {"llm_usage", "tts_usage"} <= {entry["type"] for entry in usage[0].usage}


async def test_a_longer_configured_delay_gives_a_longer_response():
    response_ms = {}
    for min_delay_s in (0.6, 1.6):
        async with running_agent(caller("vad", min_delay_s)) as stack:
            response_ms[min_delay_s] = (await turn(stack, "hello"))["last"]["response_ms"]

    assert response_ms[1.6] >= 1600 - TOLERANCE_MS
    assert response_ms[1.6] > response_ms[0.6] >= 600 - TOLERANCE_MS


async def test_without_a_speech_end_the_figures_that_need_one_are_left_out():
    # VAD turn detection, but the VAD hears only silence while the STT transcribes: the
    # framework has no speech end (its EOUMetrics would say 0.0), so none is invented here.
    async with running_agent(caller("vad", 0.6)) as stack:
        first = await turn(stack, "hello", speaks=False)
        second = await turn(stack, "are you there", number=2)

    assert first["last"].keys() == {"llm_ttft_ms", "tts_ttfb_ms"}
    assert second["last"]["response_ms"] >= 600 - TOLERANCE_MS
    assert second["p50"]["response_ms"] == second["last"]["response_ms"]
    assert second["turns"] == 2


async def test_with_the_default_profile_voice_timing_says_why_the_turn_ended():
    # the default profile's turn detection is "model": the bundled v1-mini judges the audio
    question = make_scenario("question", tail_s=0.3)
    async with running_agent(json.dumps({"greeting": ""})) as stack:
        await stack.room.play("alice", question.samples)
        await stack.deepgram.say(question.text)
        timing = await until(lambda: (t := published(stack, TIMING)) and t["turns"] and t,
                             "voice.timing after the question")
        raw = stack.room.local_participant.attributes[TIMING]

    explained = timing["last_end_of_turn"]
    assert explained["rule"] in ("model_done", "model_unfinished")
    assert explained["threshold"] == 0.36  # v1-mini's threshold for English
    assert (explained["probability"] < explained["threshold"]) == (
        explained["rule"] == "model_unfinished")
    assert len(raw.encode("utf-8")) < 1024
