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

import asyncio
import logging
import sys

from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    FunctionTool,
    JobContext,
    JobProcess,
    cli,
    function_tool,
)
from livekit.plugins import deepgram, openai

from voice_settings import VoiceSettings
from voice_settings.runtime.call_follower import CallFollower
from voice_settings.runtime.call_settings import CallSettings
from voice_settings.runtime.caller import caller_identity, wait_for_caller
from voice_settings.runtime.config import AgentConfig
from voice_settings.runtime.end_of_turn import EndOfTurnLog
from voice_settings.runtime.process_models import ProcessModels
from voice_settings.runtime.profile_watch import CallProfiles
from voice_settings.runtime.session_options import (
    agent_session_options,
    deepgram_stt_options,
    openai_llm_options,
    openai_tts_options,
)
from voice_settings.runtime.startup import start_up

AGENT_NAME = start_up(sys.argv)  # .env.local, the turn-detector plugin, the profiles checked
logger = logging.getLogger("settings-agent")


def prewarm(proc: JobProcess) -> None:
    """Once per process, before its one job: the configuration, the profile store (read when
    the job starts: nothing here fails because of a profile), and what no caller's settings
    change (VAD, end-of-turn model, the OpenAI client)."""
    config = AgentConfig.from_env()
    for problem in config.problems:
        logger.error(problem)
    proc.userdata["config"] = config
    proc.userdata["profile_store"] = config.profile_backend()
    proc.userdata["models"] = ProcessModels.load()


server = AgentServer(setup_fnc=prewarm)


@server.rtc_session(agent_name=AGENT_NAME)
async def entrypoint(ctx: JobContext) -> None:
    config: AgentConfig = ctx.proc.userdata["config"]
    models: ProcessModels = ctx.proc.userdata["models"]
    models.serve(ctx)  # connects while the caller is on the way
    reading = asyncio.create_task(CallProfiles.read(ctx.proc.userdata["profile_store"], config))

    participant = await wait_for_caller(
        ctx, identity=caller_identity(ctx.job.metadata), timeout=config.participant_wait_timeout)
    if participant is None:
        reading.cancel()
        ctx.shutdown("no participant")
        return
    # The caller's settings, validated; from here the call listens for changes.
    call = CallFollower(ctx, participant, config=config, profiles=await reading)
    agent = SettingsAgent(call.settings)
    session = build_session(call.settings.current.settings, config, models, call.end_of_turn)
    if await call.start(session, agent):
        call.follow(session, agent)


def build_session(settings: VoiceSettings, config: AgentConfig, models: ProcessModels,
                  end_of_turn: EndOfTurnLog | None = None) -> AgentSession:
    """Deepgram STT, OpenAI LLM and TTS, and turn handling, all from the caller's settings,
    on the process's models; the end-of-turn model's verdicts are recorded in `end_of_turn`."""
    turn_detector, _ = models.turn_detector.for_session(end_of_turn)
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
