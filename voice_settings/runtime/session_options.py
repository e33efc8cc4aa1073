"""How settings map onto the framework: keyword arguments for the plugins and the AgentSession.

Pure functions, no network: the agent calls them and passes the result straight through. Turn
handling is typed with the non-deprecated `TurnHandlingOptions`, `EndpointingOptions` and
`InterruptionOptions` of livekit-agents 1.8.9; those TypedDicts do no range checking, so
`VoiceSettings` is the only validator.
"""

from __future__ import annotations

from typing import Any

from livekit.agents import (
    EndpointingOptions,
    InterruptionOptions,
    PreemptiveGenerationOptions,
    TurnHandlingOptions,
)

from ..model import VoiceSettings


def deepgram_stt_options(settings: VoiceSettings) -> dict[str, Any]:
    """For `deepgram.STT(**options)`. `utterance_end_ms` needs interim results, so they stay on."""
    return {
        "model": settings.stt_model,
        "language": settings.stt_language,
        "endpointing_ms": settings.endpointing_ms,
        "utterance_end_ms": settings.utterance_end_ms,
        "interim_results": True,
    }


def openai_llm_options(settings: VoiceSettings) -> dict[str, Any]:
    """For `openai.LLM(**options)`."""
    return {"model": settings.llm_model}


def openai_tts_options(settings: VoiceSettings) -> dict[str, Any]:
    """For `openai.TTS(**options)`; raw PCM avoids decoding and is what the harness speaks."""
    return {"model": settings.tts_model, "voice": settings.tts_voice, "response_format": "pcm"}


def turn_handling_options(settings: VoiceSettings, *, turn_detector: Any) -> TurnHandlingOptions:
    """`TurnHandlingOptions` for `AgentSession(turn_handling=...)`.

    `turn_detector` is the detector object used when `turn_detection == "model"` (the agent picks
    the multilingual model or its offline fallback); "vad" and "stt" map to those modes.
    """
    detection = turn_detector if settings.turn_detection == "model" else settings.turn_detection
    endpointing = EndpointingOptions(
        mode=settings.endpointing_mode,
        min_delay=settings.min_endpointing_delay,
        max_delay=settings.max_endpointing_delay,
    )
    interruption = InterruptionOptions(
        enabled=settings.allow_interruptions,
        min_duration=settings.min_interruption_duration,
        min_words=settings.min_interruption_words,
        false_interruption_timeout=settings.false_interruption_timeout,
        resume_false_interruption=settings.resume_false_interruption,
    )
    return TurnHandlingOptions(
        turn_detection=detection,
        endpointing=endpointing,
        interruption=interruption,
        preemptive_generation=PreemptiveGenerationOptions(enabled=settings.preemptive_generation),
    )


def agent_session_options(settings: VoiceSettings, *, turn_detector: Any) -> dict[str, Any]:
    """For `AgentSession(**options, stt=..., llm=..., tts=..., vad=...)`."""
    return {
        "turn_handling": turn_handling_options(settings, turn_detector=turn_detector),
        "user_away_timeout": settings.user_away_timeout,
    }
