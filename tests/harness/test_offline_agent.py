"""End-to-end: a small example entrypoint run by the REAL framework against the harness.

The entrypoint below is a throwaway stand-in for our agent.py, shaped like it: it
reads the job metadata, waits for the participant, builds Deepgram STT (base_url
from DEEPGRAM_BASE_URL), OpenAI LLM/TTS (OPENAI_BASE_URL from the environment),
Silero VAD, starts an AgentSession on ``ctx.room`` with RoomIO, follows
``participant_metadata_changed`` with ``agent.update_instructions`` and greets.
Nothing in it knows about the harness.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, RunContext, function_tool
from livekit.plugins import deepgram, openai, silero

from voice_settings.harness import OfflineStack

USER = "user-1"
GREETING = "Hello! How can I help you today?"
T = 20.0  # generous per-step timeout; nothing here asserts on wall-clock time

_VAD: silero.VAD | None = None


def _vad() -> silero.VAD:
    global _VAD
    if _VAD is None:
        _VAD = silero.VAD.load()
    return _VAD


def instructions_for(metadata: str) -> str:
    try:
        style = json.loads(metadata).get("style", "friendly")
    except (ValueError, AttributeError):
        style = "friendly"
    return f"You are a {style} voice assistant."


class ExampleAgent(Agent):
    def __init__(self, *, instructions: str, observed: dict) -> None:
        super().__init__(instructions=instructions)
        self.observed = observed

    @function_tool
    async def get_weather(self, context: RunContext, city: str) -> str:
        """Look up the weather for a city."""
        self.observed.setdefault("tool_calls", []).append(city)
        return f"It is sunny in {city}."


def make_entrypoint(observed: dict):
    async def entrypoint(ctx: JobContext) -> None:
        settings = json.loads(ctx.job.metadata or "{}")
        await ctx.connect()
        participant = await ctx.wait_for_participant(identity=USER)
        agent = ExampleAgent(instructions=instructions_for(participant.metadata), observed=observed)
        session = AgentSession(
            stt=deepgram.STT(
                base_url=os.environ["DEEPGRAM_BASE_URL"],
                endpointing_ms=settings.get("endpointingMs", 25),
                utterance_end_ms=settings.get("utteranceEndMs"),
            ),
            llm=openai.LLM(model="gpt-4o-mini"),
            tts=openai.TTS(response_format="pcm"),
            vad=_vad(),
            turn_handling={
                "turn_detection": "stt",
                "endpointing": {"min_delay": 0.2, "max_delay": 1.0},
            },
        )

        def on_metadata(p: rtc.Participant, old: str, new: str) -> None:
            if p.identity != participant.identity:
                return
            observed.setdefault("metadata_changes", []).append(new)
            task = asyncio.create_task(agent.update_instructions(instructions_for(new)))
            observed.setdefault("tasks", []).append(task)

        def on_left(p: rtc.RemoteParticipant) -> None:
            observed.setdefault("left", []).append(p.identity)

        ctx.room.on("participant_metadata_changed", on_metadata)
        ctx.room.on("participant_disconnected", on_left)
        session.on("close", lambda ev: observed.setdefault("closed", []).append(ev.reason))
        await session.start(room=ctx.room, agent=agent)
        await ctx.room.local_participant.set_attributes(
            {"voice_settings.endpointing_ms": str(settings.get("endpointingMs", 25))}
        )
        session.say(GREETING)

    return entrypoint


async def _wait(pred, timeout: float = T) -> None:
    async def loop() -> None:
        while not pred():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), timeout)


async def test_full_conversation_through_real_framework() -> None:
    observed: dict = {}
    env_before = os.environ.get("DEEPGRAM_BASE_URL")
    meta = json.dumps({"endpointingMs": 300, "utteranceEndMs": 1000})
    async with OfflineStack(job_metadata=meta) as stack:
        stack.start(make_entrypoint(observed))
        await stack.room.join(USER, name="Ada", metadata=json.dumps({"style": "friendly"}))

        # Deepgram sees the plugin's real query string, with the job's endpointing
        conn = await stack.deepgram.wait_for_connection(timeout=T)
        assert conn.params["endpointing"] == "300"
        assert conn.params["utterance_end_ms"] == "1000"
        assert conn.params["model"] == "nova-3"
        assert conn.authorization_present and conn.auth_scheme == "Token"
        # the user's (silent) microphone really streams through RoomIO into the STT
        await stack.deepgram.wait_for_audio(3200, timeout=T)

        # the greeting goes through the TTS stand-in and is played on the agent's track
        greeting = await stack.openai.wait_for_speech_request(
            lambda r: "How can I help" in r.input, timeout=T
        )
        assert greeting.body["response_format"] == "pcm"
        lp = stack.room.local_participant
        await _wait(lambda: lp.agent_audio_voiced_seconds > 0.05)
        assert [p.track.name for p in lp.published_tracks] == ["roomio_audio"]

        # attributes the agent sets are recorded and kept current via the echo
        await _wait(lambda: "voice_settings.endpointing_ms" in lp.attributes)
        assert lp.attributes["voice_settings.endpointing_ms"] == "300"
        assert {"voice_settings.endpointing_ms": "300"} in lp.attribute_updates
        assert "lk.agent.state" in lp.attributes  # set by RoomIO itself

        # a scripted utterance becomes a user turn and an LLM request
        await stack.deepgram.say("what's the weather in Paris", timeout=T)
        first = await stack.openai.wait_for_chat_request(1, timeout=T)
        assert first.system == "You are a friendly voice assistant."
        assert first.last_user_text == "what's the weather in Paris"
        assert first.tool_names == ["get_weather"]
        assert first.body["stream"] is True

        # the user's settings change: new metadata -> update_instructions -> next request
        stack.room.set_metadata(USER, json.dumps({"style": "terse"}))
        assert observed["metadata_changes"] == [json.dumps({"style": "terse"})]
        await asyncio.gather(*observed["tasks"])
        await stack.deepgram.say("and tomorrow?", timeout=T)
        second = await stack.openai.wait_for_chat_request(2, timeout=T)
        assert second.system == "You are a terse voice assistant."
        assert second.user_texts[-1] == "and tomorrow?"

        # the agent's speech is published as transcription text streams
        await _wait(lambda: any("You said" in s.text for s in lp.streams_on("lk.transcription")))

        # the participant leaves: the entrypoint sees it and RoomIO closes the session
        await stack.room.leave(USER)
        assert observed["left"] == [USER]
        await _wait(lambda: observed.get("closed"))
        # closing the session ends the STT stream the way the plugin does it
        await _wait(lambda: conn.closed)
        assert conn.count("CloseStream") == 1
    # after exit: environment restored, nothing left open
    assert os.environ.get("DEEPGRAM_BASE_URL") == env_before
    assert not stack.deepgram.open_connections


async def test_scripted_tool_call_round_trip() -> None:
    observed: dict = {}
    async with OfflineStack(job_metadata=json.dumps({"endpointingMs": 500})) as stack:
        stack.openai.script_tool_call("get_weather", {"city": "Oslo"})
        stack.openai.script_reply("It is sunny in Oslo.")
        stack.start(make_entrypoint(observed))
        await stack.room.join(USER)
        await stack.deepgram.wait_for_connection(timeout=T)
        await stack.openai.wait_for_speech_request(lambda r: "How can I help" in r.input)

        await stack.deepgram.say("weather in Oslo?", timeout=T)
        await stack.openai.wait_for_chat_request(2, timeout=T)
        assert observed["tool_calls"] == ["Oslo"]
        follow_up = stack.openai.chat_requests[1]
        assert "sunny in Oslo" in json.dumps(follow_up.tool_results)
        spoken = await stack.openai.wait_for_speech_request(
            lambda r: "sunny in Oslo" in r.input, timeout=T
        )
        assert spoken.audio_bytes > 0


@pytest.mark.parametrize("utterance_end_ms", [500])
async def test_deepgram_refuses_bad_params_at_handshake(utterance_end_ms: int) -> None:
    observed: dict = {}
    meta = json.dumps({"endpointingMs": 300, "utteranceEndMs": utterance_end_ms})
    async with OfflineStack(job_metadata=meta) as stack:
        stack.start(make_entrypoint(observed))
        await stack.room.join(USER)
        await _wait(lambda: any(c.rejected for c in stack.deepgram.connections))
        refused = stack.deepgram.connections[0]
        assert "utterance_end_ms" in refused.rejected
        assert refused.params["utterance_end_ms"] == str(utterance_end_ms)
        assert not stack.deepgram.open_connections
