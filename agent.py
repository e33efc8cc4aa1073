"""A LiveKit voice agent that takes turns the way each user set it up.

It connects, waits for the participant, validates the settings in their token metadata (over
the dispatch metadata and the operator's profiles), and only then builds the Deepgram STT and the
AgentSession from them. While the call runs, every metadata change is logged; only prompt-level
changes are applied, through `Agent.update_instructions`; timing changes wait for the next
session, because changing Deepgram's endpointing mid-stream loses the utterance in flight.

    python -m livekit.agents download-files      # the multilingual turn-detector model
    lk agent console agent.py                     # talk to it (or: python agent.py console)
    lk agent dev agent.py                         # a development worker
    python -m livekit.agents start agent.py       # production
"""

from __future__ import annotations

import logging
import multiprocessing
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
from livekit.plugins import deepgram, openai

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
from voice_settings.runtime.process_models import ProcessModels
from voice_settings.runtime.profile_watch import ProfileWatch, fresh_profiles
from voice_settings.runtime.publisher import SettingsPublisher
from voice_settings.runtime.session_options import (
    agent_session_options,
    deepgram_stt_options,
    openai_llm_options,
    openai_tts_options,
)
from voice_settings.runtime.turn_detector import import_plugin_if_usable
from voice_settings.runtime.turn_timing import TurnTiming

load_dotenv(".env.local")
logger = logging.getLogger("settings-agent")
COMMAND = sys.argv[1] if len(sys.argv) > 1 else None  # start, dev, console, download-files
# The multilingual turn-detector plugin, for download-files to fetch its model and for the worker
# to run it; without its files it is left out, or its runners fail at start with tracebacks.
import_plugin_if_usable(COMMAND)
# Checked once, in the main process (`python agent.py start` and `python -m livekit.agents start
# agent.py` alike) before the worker registers: a broken profile would otherwise fail every job
# process's setup, and the framework restarts those in a loop.
if multiprocessing.parent_process() is None and (problem := problem_before_start(COMMAND)):
    sys.exit(f"cannot start the agent: {problem}")


def prewarm(proc: JobProcess) -> None:
    """Once per process, before its one job: the configuration, the operator's profiles, and
    what no caller's settings change (VAD, end-of-turn model, the OpenAI client)."""
    config = AgentConfig.from_env()
    for problem in config.problems:
        logger.error(problem)
    proc.userdata["config"] = config
    proc.userdata["profiles"] = config.load_profiles()
    proc.userdata["models"] = ProcessModels.load()


server = AgentServer(setup_fnc=prewarm)


@server.rtc_session(agent_name=AgentConfig.from_env().agent_name)
async def entrypoint(ctx: JobContext) -> None:
    config: AgentConfig = ctx.proc.userdata["config"]
    profiles = fresh_profiles(ctx.proc.userdata["profiles"])  # edits since the process started
    models: ProcessModels = ctx.proc.userdata["models"]
    ctx.add_shutdown_callback(models.aclose)  # the process ends with its one job
    models.connect_openai()  # while the caller is on the way

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
    profile_watch = ProfileWatch(profiles, on_change=call.profiles_changed)
    profile_watch.start()
    ctx.add_shutdown_callback(profile_watch.aclose)

    agent = SettingsAgent(call)
    session = build_session(call.current.settings, config, models)
    timing = TurnTiming(identity, publish=ctx.room.local_participant.set_attributes)
    timing.follow(session)  # every turn: a log line and the voice.timing attribute
    ctx.add_shutdown_callback(timing.aclose)
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


def build_session(settings: VoiceSettings, config: AgentConfig,
                  models: ProcessModels) -> AgentSession:
    """Deepgram STT, OpenAI LLM and TTS, and turn handling, all from the caller's settings,
    on the process's models."""
    turn_detector, _ = models.turn_detector.for_session()
    return AgentSession(
        stt=deepgram.STT(**deepgram_stt_options(settings), **config.deepgram_endpoint()),
        llm=openai.LLM(**openai_llm_options(settings), **models.openai_options()),
        tts=openai.TTS(**openai_tts_options(settings), **models.openai_options()),
        vad=models.vad,
        conn_options=config.session_connect_options(),
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
    cli.run_app(server)
