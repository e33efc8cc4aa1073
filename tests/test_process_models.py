"""The agent's session runs on what the job process built before the caller joined.

One OpenAI client, pointed at OPENAI_BASE_URL, serves the LLM and the TTS, connects while the
caller is on the way, and is closed when the job ends; the end-of-turn model is the process's.
"""

from __future__ import annotations

import gc
import json
import threading
import warnings

import agent
from tests.agent_helpers import running_agent, until, user_turn
from voice_settings.harness import OfflineStack


def models_of(stack: OfflineStack):
    return stack.ctx.proc.userdata["models"]


async def test_the_llm_and_tts_use_the_process_client_at_openai_base_url():
    async with running_agent(json.dumps({"greeting": "Hi there."})) as stack:
        client = models_of(stack).openai_client
        session = stack.ctx.primary_session

        assert session.llm._client is client and session.tts._client is client
        assert str(client.base_url) == stack.openai.base_url + "/"
        assert (await stack.openai.wait_for_speech_request()).input == "Hi there."
        assert (await user_turn(stack, "hello")).last_user_text == "hello"


async def test_the_client_connects_before_the_caller_joins():
    async with OfflineStack() as stack:
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)

        await until(lambda: [r for r in stack.openai.requests if r.path == "/v1/models"],
                    "the model list requested by the process's client")
        assert not stack.room.remote_participants
        assert stack.openai.chat_requests == [] and stack.openai.speech_requests == []


async def test_the_client_is_closed_when_the_job_ends():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with running_agent() as stack:
            client = models_of(stack).openai_client
            await user_turn(stack, "hello")
            assert not client.is_closed()
        del stack
        gc.collect()

    assert client.is_closed()
    unclosed = [w for w in caught if "nclosed" in str(w.message)]
    assert unclosed == []


async def test_the_client_is_closed_when_nobody_joins():
    async with OfflineStack(env={"PARTICIPANT_WAIT_TIMEOUT": "0.3"}) as stack:
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        client = models_of(stack).openai_client
        assert await stack.wait_for_shutdown_request() == "no participant"

    assert client.is_closed()


async def test_model_turn_detection_uses_the_process_detector_and_vad_does_not():
    async with running_agent(json.dumps({"turnDetection": "model"})) as stack:
        detector, _ = models_of(stack).turn_detector.for_session()
        assert stack.ctx.primary_session.turn_detection is detector

    async with running_agent(json.dumps({"turnDetection": "vad"})) as stack:
        assert stack.ctx.primary_session.turn_detection == "vad"


async def test_models_built_where_there_is_no_event_loop_serve_the_session():
    # A job process runs the setup function before it creates its event loop.
    def setup_without_a_loop(proc) -> None:
        thread = threading.Thread(target=agent.server.setup_fnc, args=(proc,))
        thread.start()
        thread.join()

    async with OfflineStack() as stack:
        stack.start(agent.entrypoint, setup=setup_without_a_loop)
        await stack.room.join("alice", metadata=json.dumps({"greeting": "Hi there."}))

        assert (await stack.openai.wait_for_speech_request()).input == "Hi there."
        assert (await user_turn(stack, "hello")).last_user_text == "hello"
