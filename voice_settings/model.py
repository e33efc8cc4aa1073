"""The settings model: every value a call runs with, its unit, default, range and policy.

`VoiceSettings` is immutable and always valid. Each field says, in its `json_schema_extra`:
- `applies`: "live" (may change during a call) or "next_session" (fixed when the session starts);
- `set_by`: "participant" (the user's app, and operators) or "operator" (profiles and dispatch
  metadata only, so a user cannot pick an expensive model by editing their own settings);
- `unit`: "ms", "s", "words" or absent.
Numbers are strict: a JSON `true` is not a number, `"300"` is not 300. The reason for every bound
is written next to it.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

LIVE = "live"
NEXT_SESSION = "next_session"
PARTICIPANT = "participant"
OPERATOR = "operator"

PROFILE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

DEFAULT_INSTRUCTIONS = (
    "You are a friendly voice assistant. Answer in one or two short spoken sentences, "
    "without lists, markdown or emoji."
)
DEFAULT_GREETING = "Hello! How can I help you today?"

# At least one character that is not whitespace as Python's str.isspace() sees it, spelled out
# so that every regex engine (pydantic's, JSON Schema validators', a browser's) agrees.
NOT_BLANK = r"[^\t-\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _off_to_none(value: Any) -> Any:
    """`"off"` is how TOML (which has no null) and forms spell "disabled"; JSON may use null."""
    return None if isinstance(value, str) and value.strip().lower() == "off" else value


def _whole_float_to_int(value: Any) -> Any:
    """300.0 from a JSON encoder means 300; 300.5 stays a float and is refused as not whole."""
    if type(value) is float and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


Off = BeforeValidator(_off_to_none)
Whole = BeforeValidator(_whole_float_to_int)


def _policy(applies: str, set_by: str, unit: str | None = None) -> dict[str, str]:
    extra = {"applies": applies, "set_by": set_by}
    if unit:
        extra["unit"] = unit
    return extra


def _seconds(default: float | None, ge: float, le: float, applies: str = NEXT_SESSION) -> Any:
    return Field(default, ge=ge, le=le, allow_inf_nan=False,
                 json_schema_extra=_policy(applies, PARTICIPANT, "s"))


def _whole(default: int | None, ge: int, le: int, unit: str) -> Any:
    return Field(default, ge=ge, le=le, json_schema_extra=_policy(NEXT_SESSION, PARTICIPANT, unit))


def _choice(default: Any) -> Any:
    return Field(default, json_schema_extra=_policy(NEXT_SESSION, PARTICIPANT))


def _operator_name(default: str, pattern: str) -> Any:
    return Field(default, pattern=pattern, json_schema_extra=_policy(NEXT_SESSION, OPERATOR))


# Model and voice names: provider ids such as "nova-3", "gpt-4o-mini", "openai/gpt-4.1".
_MODEL_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"


class VoiceSettings(BaseModel):
    """The effective settings of one call. Construct through `voice_settings.resolve`."""

    model_config = ConfigDict(
        frozen=True, strict=True, extra="forbid", use_attribute_docstrings=True
    )

    # --- Speech-to-text (Deepgram), fixed at session start ----------------------------------
    # 0 turns Deepgram endpointing off. 5000 ms: Deepgram advises 300-500 ms for speakers who
    # pause; dictation wants more; past 5 s the turn logic below has long since decided.
    endpointing_ms: Annotated[int, Whole] = _whole(25, ge=0, le=5000, unit="ms")
    """Silence (ms) Deepgram waits before it finalizes a transcript; 0 disables endpointing."""

    # Deepgram refuses values below 1000 ms at the handshake; 5000 ms matches endpointing_ms.
    utterance_end_ms: Annotated[int | None, Off, Whole] = _whole(None, ge=1000, le=5000, unit="ms")
    """Gap in words (ms) after which Deepgram sends UtteranceEnd; null or "off" disables."""

    # --- Turn taking (LiveKit AgentSession), fixed at session start -------------------------
    # 5 s: Vapi's waitSeconds tops out at 5; a longer fixed wait makes callers think the
    # line dropped.
    min_endpointing_delay: float = _seconds(0.5, ge=0.0, le=5.0)
    """Seconds the agent waits after the user stops before it takes its turn."""

    # 0.2 s: below that the agent cuts words off. 10 s: above OpenAI's patient semantic VAD
    # (8 s max wait); LiveKit's own 3 s default covers p95 mid-turn pauses of 2.5 s.
    max_endpointing_delay: float = _seconds(3.0, ge=0.2, le=10.0)
    """Longest wait (seconds) when the turn detector thinks the user will continue."""

    endpointing_mode: Literal["fixed", "dynamic"] = _choice("fixed")
    """"fixed" uses the delays as given; "dynamic" adapts them to the user's pauses."""

    turn_detection: Literal["model", "vad", "stt"] = _choice("model")
    """What decides the user's turn is over: the turn-detector model, voice activity, or the STT."""

    # --- Interruptions, fixed at session start -----------------------------------------------
    allow_interruptions: bool = _choice(True)
    """Whether the user can barge in while the agent speaks."""

    # 3 s: someone talking over the agent that long is interrupting; to make the agent
    # uninterruptible use allow_interruptions=false instead.
    min_interruption_duration: float = _seconds(0.5, ge=0.0, le=3.0)
    """Seconds of user speech needed to interrupt the agent."""

    # 10 words: the top of Vapi's numWords range; more means the agent cannot be stopped.
    min_interruption_words: Annotated[int, Whole] = _whole(0, ge=0, le=10, unit="words")
    """Words the user must say to interrupt the agent (0: any speech long enough)."""

    # 0.5 s: shorter makes every breath a false interruption. 10 s: Vapi's backoff maximum.
    false_interruption_timeout: Annotated[float | None, Off] = _seconds(2.0, ge=0.5, le=10.0)
    """Seconds of quiet after an interruption before it counts as false; null or "off" disables."""

    resume_false_interruption: bool = _choice(True)
    """Whether the agent resumes speaking after a false interruption."""

    preemptive_generation: bool = _choice(True)
    """Whether the LLM starts on the final transcript, before the turn is confirmed."""

    # 5 s: shorter marks normal thinking pauses as "away". 600 s: Retell's default for ending
    # a silent call.
    user_away_timeout: Annotated[float | None, Off] = _seconds(15.0, ge=5.0, le=600.0)
    """Seconds of mutual silence before the user counts as away; null or "off" disables."""

    # --- What the agent is told: the only fields that change during a call --------------------
    # 8000 characters (~2000 tokens, at most 32 KiB of UTF-8) keeps metadata under 64 KiB.
    instructions: str = Field(
        DEFAULT_INSTRUCTIONS, min_length=1, max_length=8000, pattern=NOT_BLANK,
        json_schema_extra=_policy(LIVE, PARTICIPANT),
    )
    """The system prompt (alias systemPrompt); applied live, on the next LLM request."""

    # --- Fixed at session start: the conversation ---------------------------------------------
    # 500 characters: about 30 seconds of speech, more than any opening line needs.
    greeting: str = Field(
        DEFAULT_GREETING, max_length=500, json_schema_extra=_policy(NEXT_SESSION, PARTICIPANT)
    )
    """What the agent says first, verbatim; empty to wait for the user to speak."""

    profile: str | None = Field(
        None, pattern=PROFILE_NAME_PATTERN, json_schema_extra=_policy(NEXT_SESSION, PARTICIPANT)
    )
    """Name of the operator preset the values start from (a file in profiles/)."""

    assistant_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._:@/-]{1,128}$",
        json_schema_extra=_policy(NEXT_SESSION, PARTICIPANT),
    )
    """Opaque id of the app's assistant, passed through to logs and attributes."""

    # --- Operator-only: which (paid) models run ------------------------------------------------
    stt_model: str = _operator_name("nova-3", _MODEL_ID)
    """Deepgram model."""

    stt_language: str = _operator_name("en-US", r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
    """Deepgram language code (BCP 47, or "multi")."""

    llm_model: str = _operator_name("gpt-4o-mini", _MODEL_ID)
    """OpenAI-compatible chat model."""

    tts_model: str = _operator_name("gpt-4o-mini-tts", _MODEL_ID)
    """OpenAI-compatible speech model."""

    tts_voice: str = _operator_name("alloy", r"^[A-Za-z0-9_-]{1,64}$")
    """Voice of the speech model."""

    @model_validator(mode="after")
    def _min_not_above_max(self) -> VoiceSettings:
        if self.min_endpointing_delay > self.max_endpointing_delay:
            raise ValueError(
                f"min_endpointing_delay ({self.min_endpointing_delay:g} s) must not exceed "
                f"max_endpointing_delay ({self.max_endpointing_delay:g} s)"
            )
        return self

    @model_validator(mode="after")
    def _turn_can_end(self) -> VoiceSettings:
        # In "stt" mode the turn ends on Deepgram's end of speech, which needs endpointing or
        # UtteranceEnd: with neither the agent would never answer.
        if silent_turn_end(self.turn_detection, self.endpointing_ms, self.utterance_end_ms):
            raise ValueError(SILENT_TURN_END)
        return self


SILENT_TURN_END = (
    'turn_detection "stt" needs Deepgram to detect the end of speech: endpointing_ms 0 turns '
    "that off unless utterance_end_ms is set"
)


def silent_turn_end(turn_detection: str, endpointing_ms: int,
                    utterance_end_ms: int | None) -> bool:
    return turn_detection == "stt" and endpointing_ms == 0 and utterance_end_ms is None


FIELDS: tuple[str, ...] = tuple(VoiceSettings.model_fields)

MIN_DELAY, MAX_DELAY = "min_endpointing_delay", "max_endpointing_delay"
"""The two endpointing bounds, which must stay min <= max whichever sources set them."""


def policy(field: str) -> dict[str, str]:
    extra = VoiceSettings.model_fields[field].json_schema_extra
    assert isinstance(extra, dict)
    return extra  # type: ignore[return-value]


LIVE_FIELDS = frozenset(f for f in FIELDS if policy(f)["applies"] == LIVE)
NEXT_SESSION_FIELDS = frozenset(f for f in FIELDS if policy(f)["applies"] == NEXT_SESSION)
PARTICIPANT_FIELDS = frozenset(f for f in FIELDS if policy(f)["set_by"] == PARTICIPANT)
OPERATOR_FIELDS = frozenset(f for f in FIELDS if policy(f)["set_by"] == OPERATOR)
# A profile is a preset of values; which profile and which app assistant are per call.
PROFILE_FIELDS = frozenset(FIELDS) - {"profile", "assistant_id"}
