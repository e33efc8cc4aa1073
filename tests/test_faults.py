"""Each fault a call can meet, through the real entrypoint: what the framework does, what the log
says, what the caller hears. docs/RELIABILITY.md quotes these results. Covered elsewhere:
the caller leaving before the start and after it, nobody joining, Deepgram refusing the
handshake (tests/test_agent.py); a publication that fails for good (tests/runtime/
test_publisher.py).

Real time: the framework retries a failed LLM or TTS request after 0.1 s, then (by default) 2 s,
then 2 s; an LLM request that gets no answer times out after (by default) 10 s. The agent reads
both from its environment (`LLM_TTS_RETRY_INTERVAL`, `LLM_TIMEOUT`): these tests set them short,
so they wait for the same steps in less time.
"""

from __future__ import annotations

import json
import logging

import pytest

import agent
from tests.agent_helpers import TIMEOUT, published, running_agent, settled, until, user_turn
from voice_settings.harness import OfflineStack
from voice_settings.harness.stack import ROOM_DISCONNECTED
from voice_settings.runtime import attributes

CALLER = json.dumps({"systemPrompt": "You are Ada.", "greeting": ""})
RETRIES = "failed to generate LLM completion"
LLM_TIMEOUT_S = 1.0
RETRY_INTERVAL_S = 0.3
FAST_FAILURES = {"LLM_TIMEOUT": str(LLM_TIMEOUT_S), "LLM_TTS_RETRY_INTERVAL": str(RETRY_INTERVAL_S)}


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


def heard(stack: OfflineStack, text: str) -> bool:
    """Whether the agent synthesized speech containing `text` (what the caller hears)."""
    return any(text in r.input and r.audio_bytes for r in stack.openai.speech_requests)


# --- The caller and the room ----------------------------------------------------------------

async def test_a_caller_who_leaves_while_the_session_starts_ends_the_job(logs):
    async with running_agent(CALLER, wait_for_start=False) as stack:
        await until(lambda: any(r.path.endswith("/models") for r in stack.openai.requests),
                    "session starting")
        await stack.room.leave("alice")

        reason = await stack.wait_for_shutdown_request(timeout=TIMEOUT)
        assert reason in ("participant gone before the session started",
                          "session closed: participant_disconnected")
        assert lines(logs, "ending the job")
        assert stack.openai.speech_requests == []


async def test_a_room_that_closes_before_the_caller_joins_ends_the_job(logs):
    async with OfflineStack() as stack:
        task = stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        await until(lambda: stack.room.isconnected(), "connected")
        await stack.room.disconnect()

        await until(task.done, "entrypoint returned")
        assert task.exception() is None
        assert stack.shutdown_reasons == [ROOM_DISCONNECTED, "no participant"]
        [line] = lines(logs, "room closed while waiting for the participant")
        assert line.levelname == "INFO"


async def test_a_room_that_closes_mid_call_ends_the_job_without_an_error(logs):
    # The job process ends the job on the room's `disconnected` event (so while the session
    # starts too, whichever of the two notices first); the session then closes for the job's
    # shutdown, which the agent does not report again.
    async with running_agent(CALLER) as stack:
        await stack.room.disconnect()

        assert stack.shutdown_reasons == [ROOM_DISCONNECTED]
        assert not lines(logs, "ending the job")
        assert not [r for r in logs.records
                    if r.levelno >= logging.ERROR and r.name.startswith("voice_settings")]


# --- Deepgram ---------------------------------------------------------------------------------

async def test_deepgram_dropping_the_connection_mid_call_reconnects_at_once(logs):
    async with running_agent(CALLER) as stack:
        first = await stack.deepgram.wait_for_connection()
        await stack.deepgram.drop(code=1011)

        second = await stack.deepgram.wait_for_connection(index=1)
        assert first.dropped == 1011 and second.is_open
        assert (await user_turn(stack, "are you still there?")).last_user_text == \
            "are you still there?"
        [retry] = lines(logs, "failed to recognize speech")
        assert "retrying in 0.1s" in retry.getMessage() and retry.levelname == "WARNING"
        assert stack.shutdown_reasons == []


# --- The LLM ----------------------------------------------------------------------------------

async def test_llm_errors_are_retried_and_the_caller_gets_the_answer(logs):
    async with running_agent(CALLER, env=FAST_FAILURES) as stack:
        stack.openai.script_error(500, "The server had an error")
        stack.openai.script_error(429, "Rate limit reached")
        await user_turn(stack, "hello")

        await stack.openai.wait_for_chat_request(3, timeout=TIMEOUT)
        await until(lambda: heard(stack, "You said: hello"), "the answer played")
        retries = lines(logs, RETRIES)
        # status_code=, not the bare number: the random request id may contain "429"
        assert [("status_code=500" in r.getMessage(), "status_code=429" in r.getMessage())
                for r in retries] == [
            (True, False), (False, True)]
        assert ["retrying in 0.1s" in r.getMessage() for r in retries] == [True, False]
        assert stack.shutdown_reasons == []


async def test_an_llm_or_tts_that_fails_every_retry_loses_that_reply_only(logs):
    async with running_agent(CALLER, env=FAST_FAILURES) as stack:
        for _ in range(4):  # the first request and the framework's 3 retries
            stack.openai.script_error(500, "The server had an error")
        await user_turn(stack, "first question")
        [given_up] = await until(lambda: lines(logs, "Error in _llm_inference_task"),
                                 "the LLM given up", timeout=TIMEOUT)
        assert "after 4 attempts" in str(given_up.exc_info[1])
        assert len(stack.openai.chat_requests) == 4 and len(lines(logs, RETRIES)) == 3

        for _ in range(4):
            stack.openai.script_speech_error(500, "The server had an error")
        await user_turn(stack, "second question")
        await until(lambda: lines(logs, "Error in _tts_inference_task"), "the TTS given up",
                    timeout=TIMEOUT)
        assert len(lines(logs, "failed to synthesize speech")) == 3

        await user_turn(stack, "third question")
        await until(lambda: heard(stack, "third question"), "the next answer played")
        assert not heard(stack, "first question") and not heard(stack, "second question")
        assert stack.shutdown_reasons == []


async def test_an_llm_that_refuses_every_turn_closes_the_session_and_ends_the_job(logs):
    async with running_agent(CALLER) as stack:
        for turn in range(4):  # 401 is not retried; the 4th unrecoverable error in a row closes
            stack.openai.script_error(401, "Incorrect API key provided")
            await user_turn(stack, f"turn {turn}")

        reason = await stack.wait_for_shutdown_request(timeout=TIMEOUT)
        assert reason.startswith("session closed: error (llm_error: ")
        assert lines(logs, "AgentSession is closing due to unrecoverable error")
        assert stack.openai.speech_requests == []


async def test_a_hanging_llm_times_out_after_llm_timeout_and_is_retried(logs):
    # Real time: the framework's request timeout (APIConnectOptions.timeout), from LLM_TIMEOUT.
    async with running_agent(CALLER, env=FAST_FAILURES) as stack:
        stack.openai.script_hang()
        await user_turn(stack, "hello")

        await stack.openai.wait_for_chat_request(2, timeout=30)
        first, second = stack.openai.chat_requests[:2]
        waited = second.received_at - first.received_at
        # the retry waited for the timeout: the request was not refused
        assert waited > LLM_TIMEOUT_S * 0.9
        await until(lambda: heard(stack, "You said: hello"), "the late answer played")
        [retry] = lines(logs, RETRIES)
        assert "retrying in 0.1s" in retry.getMessage()


async def test_a_stream_that_breaks_off_is_retried_until_part_of_the_answer_is_out(logs):
    async with running_agent(CALLER) as stack:
        stack.openai.script_broken_stream("")  # nothing out yet: retried, and answered
        await user_turn(stack, "hello")
        await until(lambda: heard(stack, "You said: hello"), "the answer played")
        assert len(stack.openai.chat_requests) == 2 and len(lines(logs, RETRIES)) == 1

        stack.openai.script_broken_stream("Let me check")  # the caller hears that much
        await user_turn(stack, "and now?")
        await until(lambda: heard(stack, "Let me check"), "the partial answer played")
        await until(lambda: lines(logs, "Error in _llm_inference_task"), "the stream given up")
        assert len(stack.openai.chat_requests) == 3 and len(lines(logs, RETRIES)) == 1
        assert stack.shutdown_reasons == []


# --- What the agent tells the app -------------------------------------------------------------

async def test_a_failed_publication_is_retried_with_the_latest_state(logs):
    async with running_agent(CALLER) as stack:
        local = stack.room.local_participant
        local.fail_attribute_updates(2)
        stack.room.set_metadata("alice", json.dumps({"systemPrompt": "You are Bob.",
                                                     "greeting": ""}))

        await settled(stack, "You are Bob.")
        assert [attributes.SETTINGS in u for u in local.failed_attribute_updates] == [True, True]
        [warning] = lines(logs, "could not publish settings attributes")
        assert warning.levelname == "WARNING" and "retrying in 0.5 s" in warning.getMessage()
        assert (await user_turn(stack, "who are you?")).system == "You are Bob."
        assert published(stack, attributes.ERRORS) == []
