"""End to end: a scenario played as the user's mic reaches the real agent's LLM request.

The audio goes FakeRoom mic -> RoomIO -> Silero VAD and the deepgram plugin -> the
listening stand-in, whose endpointing final (with the scenario's words) ends the turn.
"""

from __future__ import annotations

import pytest

import agent
from voice_settings.harness import DeepgramStandIn, OfflineStack
from voice_settings.harness.speech import make_scenario

T = 20.0


async def test_a_played_question_reaches_the_llm_through_the_real_pipeline() -> None:
    scenario = make_scenario("question")
    [question] = scenario.words
    async with OfflineStack(deepgram=DeepgramStandIn(listen=True)) as stack:
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        await stack.room.join("alice", metadata='{"endpointingMs": 300}')
        conn = await stack.deepgram.wait_for_connection(timeout=T)
        stack.deepgram.expect_words(scenario.words)
        playback = stack.room.play("alice", scenario.samples)
        request = await stack.openai.wait_for_chat_request(timeout=T)
        await playback

    assert request.last_user_text == question.text
    assert conn.params["endpointing"] == "300"
    [heard] = conn.listener.heard  # the played speech, and nothing else, was heard
    assert heard.end_s - heard.start_s == pytest.approx(question.duration_s, abs=0.06)
    [final] = [m for m in conn.finals if m.speech_final]
    assert final.transcript == question.text
    # the final waited for the endpointing silence after the speech the agent received
    assert final.audio_s - heard.end_s == pytest.approx(0.3, abs=0.06)
    assert playback.started_at is not None
    assert final.monotonic_s > playback.started_at + question.end_s
