"""The real agent entrypoint, framework and plugins, against the offline stand-ins.

What a caller chose must be on the wire: the Deepgram query string, the LLM's system message.
"""

from __future__ import annotations

import json
import logging

import pytest

import agent
from tests.agent_helpers import TIMEOUT, published, running_agent, settled, until, user_turn
from voice_settings.harness import DeepgramStandIn, OfflineStack
from voice_settings.runtime import attributes

ALICE = {"endpointingMs": 300, "utteranceEndMs": 1200, "minEndpointingDelay": 0.8,
         "maxEndpointingDelay": 4.0, "allowInterruptions": False, "minInterruptionWords": 2,
         "userAwayTimeout": 40, "systemPrompt": "You are Ada, a cheerful librarian.",
         "greeting": "Hi, Ada here."}
OPERATOR = {"stt_model": "nova-2", "stt_language": "de", "llm_model": "gpt-4o",
            "tts_model": "tts-1", "tts_voice": "nova", "participant_identity": "alice"}


async def test_the_callers_settings_are_on_the_wire_and_in_the_session():
    async with running_agent(json.dumps(ALICE), job_metadata=json.dumps(OPERATOR)) as stack:
        params = (await stack.deepgram.wait_for_connection()).params
        assert params["endpointing"] == "300"
        assert params["utterance_end_ms"] == "1200"
        assert params["interim_results"] == "true"
        assert (params["model"], params["language"]) == ("nova-2", "de")

        options = stack.ctx.primary_session.options
        assert options.endpointing["min_delay"] == 0.8
        assert options.endpointing["max_delay"] == 4.0
        assert options.interruption["enabled"] is False
        assert options.interruption["min_words"] == 2
        assert options.user_away_timeout == 40

        greeting = await stack.openai.wait_for_speech_request()
        assert greeting.input == "Hi, Ada here."
        assert (greeting.body["model"], greeting.body["voice"]) == ("tts-1", "nova")

        request = await user_turn(stack, "Any good books?")
        assert request.system == "You are Ada, a cheerful librarian."
        assert request.body["model"] == "gpt-4o"


async def test_an_instructions_change_reaches_the_very_next_llm_request():
    async with running_agent(json.dumps(ALICE)) as stack:
        assert (await user_turn(stack, "hello")).system == ALICE["systemPrompt"]

        stack.room.set_metadata("alice", json.dumps({**ALICE, "systemPrompt": "You are Bob."}))
        await settled(stack, "You are Bob.")

        assert (await user_turn(stack, "who are you?")).system == "You are Bob."


async def test_a_burst_of_changes_ends_with_the_last_in_force():
    async with running_agent(json.dumps(ALICE)) as stack:
        for n in range(12):
            stack.room.set_metadata("alice", json.dumps({**ALICE, "systemPrompt": f"Version {n}."}))
        await settled(stack, "Version 11.")

        assert (await user_turn(stack, "which version?")).system == "Version 11."


async def test_a_timing_change_is_pending_not_applied(caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    async with running_agent(json.dumps(ALICE)) as stack:
        await stack.deepgram.wait_for_connection()
        options_before = stack.ctx.primary_session.options.endpointing.copy()

        stack.room.set_metadata("alice", json.dumps({**ALICE, "endpointingMs": 900}))
        await until(lambda: published(stack, attributes.PENDING), "pending published")

        assert published(stack, attributes.PENDING) == {"endpointing_ms": 900}
        assert published(stack, attributes.SETTINGS)["endpointing_ms"] == 900
        await user_turn(stack, "still there?")
        assert len(stack.deepgram.connections) == 1, "Deepgram must not reconnect"
        assert stack.ctx.primary_session.options.endpointing == options_before
        deferred = [r for r in caplog.records if r.getMessage().startswith("change deferred")]
        assert [(r.participant, r.field, r.old, r.new) for r in deferred] == [
            ("alice", "endpointing_ms", 300, 900)]


@pytest.mark.parametrize("bad_metadata, field", [
    ("{not json", "(metadata)"),
    (json.dumps({**ALICE, "systemPrompt": "", "endpointingMs": 90000}), "endpointing_ms"),
])
async def test_invalid_input_mid_call_keeps_the_last_valid_settings(caplog, bad_metadata, field):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    async with running_agent(json.dumps(ALICE)) as stack:
        stack.room.set_metadata("alice", bad_metadata)
        await until(lambda: published(stack, attributes.ERRORS), "errors published")

        errors = published(stack, attributes.ERRORS)
        assert field in [e["field"] for e in errors]
        assert published(stack, attributes.PENDING) == {}
        assert (await user_turn(stack, "hello?")).system == ALICE["systemPrompt"]
        rejected = [r for r in caplog.records if r.getMessage().startswith("input rejected")]
        assert rejected and all(r.participant == "alice" for r in rejected)
        assert field in {r.field for r in rejected}


async def test_a_change_made_while_the_session_starts_is_not_lost():
    async with running_agent(json.dumps(ALICE), wait_for_start=False) as stack:
        # The models request is sent while AgentSession.start() is under way.
        await until(lambda: any(r.path.endswith("/models") for r in stack.openai.requests),
                    "session starting")
        stack.room.set_metadata("alice", json.dumps({**ALICE, "systemPrompt": "Changed early."}))
        await settled(stack, "Changed early.")

        assert (await user_turn(stack, "hi")).system == "Changed early."


async def test_other_participants_changes_are_ignored():
    async with running_agent(json.dumps(ALICE)) as stack:
        await stack.room.join("bob", metadata=json.dumps({"systemPrompt": "Bob's prompt."}),
                              publish_audio=False)
        updates = ours(stack)
        stack.room.set_metadata("bob", json.dumps({"systemPrompt": "Bob rules now."}))

        assert (await user_turn(stack, "hello")).system == ALICE["systemPrompt"]
        assert ours(stack) == updates


def ours(stack: OfflineStack) -> list[dict[str, str]]:
    """The agent's attribute updates about settings (the framework publishes its state too)."""
    return [u for u in stack.room.local_participant.attribute_updates
            if any(key.startswith("voice.") for key in u)]


async def test_the_agent_serves_the_participant_named_in_the_dispatch():
    job = json.dumps({"participant_identity": "carol"})
    async with OfflineStack(job_metadata=job) as stack:
        import agent

        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        await stack.room.join("dave", metadata=json.dumps({"systemPrompt": "Dave's."}),
                              publish_audio=False)
        await stack.room.join("carol", metadata=json.dumps({"systemPrompt": "Carol's."}))
        await until(lambda: published(stack, attributes.SETTINGS), "session started")

        assert (await user_turn(stack, "hi")).system == "Carol's."


async def test_a_participant_who_leaves_before_the_start_ends_the_job_cleanly():
    async with OfflineStack() as stack:
        import agent

        task = stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        await stack.room.join("alice", metadata=json.dumps(ALICE))
        await stack.room.leave("alice")

        reason = await stack.wait_for_shutdown_request()
        assert "participant gone" in reason
        await until(task.done, "entrypoint returned")
        assert task.exception() is None
        assert stack.openai.speech_requests == [], "no greeting to an empty room"


async def test_nobody_joining_ends_the_job_after_the_configured_wait():
    async with OfflineStack(env={"PARTICIPANT_WAIT_TIMEOUT": "0.3"}) as stack:
        import agent

        task = stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        assert await stack.wait_for_shutdown_request() == "no participant"
        await until(task.done, "entrypoint returned")
        assert task.exception() is None


async def test_a_profile_switch_by_voice_applies_instructions_now_and_timing_later():
    async with running_agent(json.dumps({"profile": "snappy"})) as stack:
        stack.openai.script_tool_call("switch_profile", {"profile": "dictation"})
        request = await user_turn(stack, "switch to dictation mode")
        assert "switch_profile" in request.tool_names

        await until(lambda: published(stack, attributes.SETTINGS)["profile"] == "dictation",
                    "profile switched")
        pending = published(stack, attributes.PENDING)
        assert pending["allow_interruptions"] is False and pending["endpointing_ms"] == 1500
        follow_up = await stack.openai.wait_for_chat_request(2)
        assert follow_up.system.startswith("You take dictation.")


async def test_a_profile_outside_the_allowed_list_is_refused_by_voice():
    env = {"VOICE_SWITCHABLE_PROFILES": "default,patient"}
    async with running_agent(json.dumps({"profile": "snappy"}), env=env) as stack:
        stack.openai.script_tool_call("switch_profile", {"profile": "dictation"})
        await user_turn(stack, "switch to dictation mode")

        await until(lambda: published(stack, attributes.ERRORS), "refusal published")
        assert published(stack, attributes.ERRORS)[0]["field"] == "profile"
        assert published(stack, attributes.SETTINGS)["profile"] == "snappy"
        follow_up = await stack.openai.wait_for_chat_request(2)
        assert "Cannot switch" in follow_up.tool_results[0]["content"]


async def test_a_lone_surrogate_from_a_repaired_tool_call_is_still_published():
    # `"\ud800"` in the tool-call arguments is refused by the strict parser; the framework's
    # json_repair fallback then decodes it to a lone surrogate, which reaches switch_profile.
    async with running_agent(json.dumps({"profile": "snappy"})) as stack:
        stack.openai.script_tool_call("switch_profile", {"profile": "\ud800"})
        await user_turn(stack, "switch to whatever mode")

        await until(lambda: published(stack, attributes.ERRORS), "refusal published")
        errors = published(stack, attributes.ERRORS)
        assert [(e["field"], e["value"]) for e in errors] == [("profile", "\\ud800")]
        assert published(stack, attributes.SETTINGS)["profile"] == "snappy"


async def test_a_caller_who_leaves_after_the_start_ends_the_job(caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    async with running_agent(json.dumps(ALICE)) as stack:
        await stack.room.leave("alice")

        reason = await stack.wait_for_shutdown_request(timeout=TIMEOUT)
        assert "participant_disconnected" in reason
        ended = [r for r in caplog.records if "ending the job" in r.getMessage()]
        assert [r.participant for r in ended] == ["alice"]


async def test_a_session_closed_by_an_unrecoverable_stt_error_ends_the_job(caplog):
    # A 400 at the handshake is not retryable: the framework opens a new stream after each
    # refusal and closes the session after its fourth failure in a row (about 3 s here).
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    refusing = DeepgramStandIn(refuse_with="No such model/language/tier combination found.")
    async with OfflineStack(deepgram=refusing) as stack:
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        await stack.room.join("alice", metadata=json.dumps(ALICE))

        reason = await stack.wait_for_shutdown_request(timeout=120)  # a safety net only
        assert reason.startswith("session closed: error (stt_error: ")
        assert "400" in reason
        assert len(refusing.connections) > 1 and all(c.rejected for c in refusing.connections)
        ended = [r for r in caplog.records if "ending the job" in r.getMessage()]
        assert [(r.participant, r.levelname) for r in ended] == [("alice", "WARNING")]
