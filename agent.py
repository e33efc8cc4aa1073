"""A LiveKit voice agent that takes turns the way each user set it up.

It connects, waits for the participant, validates the settings in their token metadata (over
the dispatch metadata and the operator's profiles), and only then builds the Deepgram STT and the
AgentSession from them. While the call runs, every metadata change is logged; only prompt-level
changes are applied, through `Agent.update_instructions`; timing changes wait for the next
session, because changing Deepgram's endpointing mid-stream loses the utterance in flight.

    python agent.py download-files | console | dev | start
"""

from __future__ import annotations

import logging
import sys

from dotenv import load_dotenv
from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    FunctionTool,
    JobContext,
    JobProcess,
    cli,
    function_tool,
    room_io,
)
from livekit.plugins import deepgram, openai, silero

from voice_settings import VoiceSettings
from voice_settings.runtime.call_settings import CallSettings
from voice_settings.runtime.caller import (
    caller_identity,
    caller_metadata,
    end_job_when_session_closes,
    run_while_present,
    wait_for_caller,
)
from voice_settings.runtime.config import AgentConfig, problem_before_start
from voice_settings.runtime.publisher import SettingsPublisher
from voice_settings.runtime.session_options import (
    agent_session_options,
    deepgram_stt_options,
    openai_llm_options,
    openai_tts_options,
)
from voice_settings.runtime.turn_detector import import_plugin_if_usable, load_turn_detector

load_dotenv(".env.local")
logger = logging.getLogger("settings-agent")
# The multilingual turn-detector plugin, for download-files to fetch its model and for the worker
# to run it; without its files it is left out, or its runners fail at start with tracebacks.
import_plugin_if_usable(sys.argv[1] if len(sys.argv) > 1 else None)


def prewarm(proc: JobProcess) -> None:
    """Once per process: the configuration, the VAD model, and the operator's profiles."""
    config = AgentConfig.from_env()
    for problem in config.problems:
        logger.error(problem)
    proc.userdata["config"] = config
    proc.userdata["vad"] = silero.VAD.load()
    proc.userdata["profiles"] = config.load_profiles()


server = AgentServer(setup_fnc=prewarm)


@server.rtc_session(agent_name=AgentConfig.from_env().agent_name)
async def entrypoint(ctx: JobContext) -> None:
    config: AgentConfig = ctx.proc.userdata["config"]
    profiles = ctx.proc.userdata["profiles"]

    participant = await wait_for_caller(
        ctx, identity=caller_identity(ctx.job.metadata), timeout=config.participant_wait_timeout)
    if participant is None:
        ctx.shutdown("no participant")
        return
    identity = participant.identity

    call = CallSettings(identity=identity, participant_metadata=caller_metadata(ctx, participant),
                        dispatch_metadata=ctx.job.metadata, profiles=profiles,
                        switchable_profiles=config.switchable(profiles))
    publisher = SettingsPublisher(call)
    call.on_change = publisher.notify
    # Listen before anything awaits, so a change made while the session starts is not lost.
    ctx.room.on("participant_metadata_changed", call.on_metadata_changed)

    agent = SettingsAgent(call)
    session = build_session(call.current.settings, config, vad=ctx.proc.userdata["vad"])
    started = await run_while_present(ctx.room, identity, session.start(
        agent=agent, room=ctx.room,
        room_options=room_io.RoomOptions(participant_identity=identity)))
    if not started:
        await session.aclose()
        ctx.shutdown("participant gone before the session started")
        return

    end_job_when_session_closes(ctx, session, identity)
    publisher.start(apply_instructions=agent.update_instructions,
                    publish=ctx.room.local_participant.set_attributes)
    ctx.add_shutdown_callback(publisher.aclose)
    if call.current.settings.greeting:
        session.say(call.current.settings.greeting)


def build_session(settings: VoiceSettings, config: AgentConfig, *,
                  vad: silero.VAD) -> AgentSession:
    """Deepgram STT, OpenAI LLM and TTS, and turn handling, all from the caller's settings."""
    turn_detector, _ = load_turn_detector()
    return AgentSession(
        stt=deepgram.STT(**deepgram_stt_options(settings), **config.deepgram_endpoint()),
        llm=openai.LLM(**openai_llm_options(settings)),
        tts=openai.TTS(**openai_tts_options(settings)),
        vad=vad,
        **agent_session_options(settings, turn_detector=turn_detector),
    )


class SettingsAgent(Agent):
    """The assistant, started with the caller's instructions and able to switch profile."""

    def __init__(self, call: CallSettings) -> None:
        tools = [switch_profile_tool(call)] if call.switchable else []
        super().__init__(instructions=call.current.settings.instructions, tools=tools)


def switch_profile_tool(call: CallSettings) -> FunctionTool:
    async def switch_profile(profile: str) -> str:
        return call.switch_profile(profile.strip().lower())

    return function_tool(
        switch_profile, name="switch_profile",
        description="Switch the conversation style when the user asks for a mode by name "
        f"(for example 'switch to {call.switchable[0]} mode'). Allowed profiles: "
        f"{', '.join(call.switchable)}. Its instructions apply at once; its timing settings "
        "on the next call.")


if __name__ == "__main__":
    # Checked here, in the main process before the worker registers: a broken profile would
    # otherwise fail every job process's prewarm, and the framework restarts those in a loop.
    if (problem := problem_before_start(sys.argv[1] if len(sys.argv) > 1 else None)):
        sys.exit(f"cannot start the agent: {problem}")
    cli.run_app(server)
