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
import os
import warnings

from dotenv import load_dotenv
from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobProcess,
    cli,
    function_tool,
    room_io,
)
from livekit.plugins import deepgram, openai, silero

# The plugin calls itself deprecated in favour of the bundled detector, which is our fallback;
# it still provides the multilingual model, and importing it registers it for download-files.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "`livekit.plugins.turn_detector` is deprecated",
                            DeprecationWarning)
    from livekit.plugins import turn_detector as _turn_detector  # noqa: F401

from voice_settings import ProfileStore, VoiceSettings, resolve
from voice_settings.call import caller_identity, run_while_present, wait_for_caller
from voice_settings.live import LiveSettings, log_resolution
from voice_settings.plugins import (
    agent_session_options,
    deepgram_stt_options,
    openai_llm_options,
    openai_tts_options,
)
from voice_settings.turn_detector import load_turn_detector

load_dotenv(".env.local")
logger = logging.getLogger("settings-agent")

AGENT_NAME = os.environ.get("AGENT_NAME", "settings-agent")


def prewarm(proc: JobProcess) -> None:
    """Once per process: the VAD model, and the operator's profiles (a broken one fails here)."""
    proc.userdata["vad"] = silero.VAD.load()
    proc.userdata["profiles"] = ProfileStore.load()


server = AgentServer(setup_fnc=prewarm)


@server.rtc_session(agent_name=AGENT_NAME)
async def entrypoint(ctx: JobContext) -> None:
    if "vad" not in ctx.proc.userdata:  # run in-process (tests, notebooks): no prewarm happened
        prewarm(ctx.proc)
    profiles: ProfileStore = ctx.proc.userdata["profiles"]

    participant = await wait_for_caller(
        ctx, identity=caller_identity(ctx.job.metadata), timeout=participant_wait_timeout())
    if participant is None:
        ctx.shutdown("no participant")
        return
    identity = participant.identity

    resolution = resolve(participant=participant.metadata, dispatch=ctx.job.metadata,
                         profiles=profiles)
    log_resolution(identity, resolution, "settings resolved")
    live = LiveSettings(identity=identity, resolution=resolution,
                        participant_metadata=participant.metadata,
                        dispatch_metadata=ctx.job.metadata, profiles=profiles,
                        switchable_profiles=switchable_profiles(profiles))
    # Listen before anything awaits, so a change made while the session starts is not lost.
    ctx.room.on("participant_metadata_changed", live.on_metadata_changed)

    agent = SettingsAgent(live)
    session = build_session(resolution.settings, vad=ctx.proc.userdata["vad"])
    started = await run_while_present(ctx.room, identity, session.start(
        agent=agent, room=ctx.room,
        room_options=room_io.RoomOptions(participant_identity=identity)))
    if not started:
        await session.aclose()
        ctx.shutdown("participant gone before the session started")
        return

    live.start(apply_instructions=agent.update_instructions,
               publish=ctx.room.local_participant.set_attributes)
    ctx.add_shutdown_callback(live.aclose)
    if resolution.settings.greeting:
        session.say(resolution.settings.greeting)


def build_session(settings: VoiceSettings, *, vad: silero.VAD) -> AgentSession:
    """Deepgram STT, OpenAI LLM and TTS, and turn handling, all from the caller's settings."""
    turn_detector, _ = load_turn_detector()
    return AgentSession(
        stt=deepgram.STT(**deepgram_stt_options(settings), **deepgram_endpoint()),
        llm=openai.LLM(**openai_llm_options(settings)),
        tts=openai.TTS(**openai_tts_options(settings)),
        vad=vad,
        **agent_session_options(settings, turn_detector=turn_detector),
    )


def deepgram_endpoint() -> dict[str, str]:
    """DEEPGRAM_BASE_URL points the STT at any Deepgram-compatible service (OPENAI_BASE_URL is
    read by the OpenAI client itself)."""
    base_url = os.environ.get("DEEPGRAM_BASE_URL")
    return {"base_url": base_url} if base_url else {}


def participant_wait_timeout() -> float:
    """PARTICIPANT_WAIT_TIMEOUT seconds (default 120): how long a dispatched job waits."""
    raw = os.environ.get("PARTICIPANT_WAIT_TIMEOUT", "120")
    try:
        seconds = float(raw)
        if seconds > 0 and seconds != float("inf"):
            return seconds
    except ValueError:
        pass
    logger.error("PARTICIPANT_WAIT_TIMEOUT=%r is not a positive number of seconds; using 120",
                 raw)
    return 120.0


def switchable_profiles(profiles: ProfileStore) -> list[str]:
    """Profiles the caller may switch to by voice: VOICE_SWITCHABLE_PROFILES, else all."""
    allowed = os.environ.get("VOICE_SWITCHABLE_PROFILES")
    if allowed is None:
        return profiles.names()
    return [name for name in (n.strip() for n in allowed.split(",")) if name in profiles]


class SettingsAgent(Agent):
    """The assistant, started with the caller's instructions and able to switch profile."""

    def __init__(self, live: LiveSettings) -> None:
        tools = [switch_profile_tool(live)] if live.switchable else []
        super().__init__(instructions=live.current.settings.instructions, tools=tools)


def switch_profile_tool(live: LiveSettings):  # noqa: ANN201 - a FunctionTool
    async def switch_profile(profile: str) -> str:
        return live.switch_profile(profile.strip().lower())

    return function_tool(
        switch_profile, name="switch_profile",
        description="Switch the conversation style when the user asks for a mode by name "
        f"(for example 'switch to {live.switchable[0]} mode'). Allowed profiles: "
        f"{', '.join(live.switchable)}. Its instructions apply at once; its timing settings "
        "on the next call.")


if __name__ == "__main__":
    cli.run_app(server)
