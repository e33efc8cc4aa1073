"""session_options: settings onto the REAL livekit-agents 1.8.9 constructors, non-deprecated API.

livekit-agents reports deprecated keyword arguments through its logger (utils/deprecation.py),
not through `warnings`; both channels are checked. Nothing here opens a connection: objects are
constructed, never started.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from livekit.agents import AgentSession, inference
from livekit.agents.language import LanguageCode
from livekit.plugins import deepgram, openai

from tests.strategies import valid_settings
from voice_settings.model import VoiceSettings
from voice_settings.runtime.session_options import (
    agent_session_options,
    deepgram_stt_options,
    openai_llm_options,
    openai_tts_options,
    turn_handling_options,
)

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

# The fixtures below are module-wide collectors, not per-example state.
WITH_FIXTURES = settings(max_examples=60, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])
TURN_DETECTOR = inference.TurnDetector()
"""The built-in offline detector: a real `_TurnDetector`, constructed without any download."""


class DeprecationLog(logging.Handler):
    """Collects what livekit logs about deprecated arguments."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "deprecated" in message.lower():
            self.messages.append(message)


@pytest.fixture(scope="module")
def deprecations():
    handler = DeprecationLog()
    logger = logging.getLogger("livekit")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def new_session(loop, **options) -> AgentSession:
    # vad=None: the default would load Silero; it plays no part in what is checked here.
    return AgentSession(**options, vad=None, loop=loop)


# --- Deepgram STT ---------------------------------------------------------------------------------

@given(valid_settings())
@WITH_FIXTURES
def test_deepgram_stt_is_built_from_any_settings_and_carries_them(deprecations, s):
    before = len(deprecations.messages)
    stt = deepgram.STT(**deepgram_stt_options(s), api_key="x")
    opts = stt._opts
    assert opts.model == s.stt_model
    assert opts.language == LanguageCode(s.stt_language)
    assert opts.endpointing_ms == s.endpointing_ms
    assert opts.utterance_end_ms == s.utterance_end_ms
    assert opts.interim_results is True  # utterance_end_ms needs interim results
    assert opts.detect_language is False  # streaming refuses language detection
    assert deprecations.messages[before:] == []


@pytest.mark.parametrize("update, expected", [
    ({"endpointing_ms": 0, "utterance_end_ms": None}, (0, None)),
    ({"endpointing_ms": 5000, "utterance_end_ms": 1000}, (5000, 1000)),
])
def test_deepgram_extremes(update, expected):
    stt = deepgram.STT(**deepgram_stt_options(VoiceSettings(**update)), api_key="x")
    assert (stt._opts.endpointing_ms, stt._opts.utterance_end_ms) == expected


def test_deepgram_options_are_keyword_arguments_it_accepts():
    import inspect
    accepted = inspect.signature(deepgram.STT.__init__).parameters
    for name in deepgram_stt_options(VoiceSettings()):
        assert name in accepted, name
        assert name != "keyterms"  # the plugin's own deprecated argument


# --- AgentSession ---------------------------------------------------------------------------------

@given(valid_settings())
@WITH_FIXTURES
def test_agent_session_is_built_from_any_settings_and_carries_them(deprecations, loop, s):
    before = len(deprecations.messages)
    session = new_session(loop, **agent_session_options(s, turn_detector=TURN_DETECTOR))
    assert deprecations.messages[before:] == []
    resolved = session.options  # AgentSessionOptions, after the framework filled in defaults
    assert resolved.endpointing["mode"] == s.endpointing_mode
    assert resolved.endpointing["min_delay"] == s.min_endpointing_delay
    assert resolved.endpointing["max_delay"] == s.max_endpointing_delay
    interruption = resolved.interruption
    assert interruption["enabled"] is s.allow_interruptions
    assert interruption["min_duration"] == s.min_interruption_duration
    assert interruption["min_words"] == s.min_interruption_words
    assert interruption["false_interruption_timeout"] == s.false_interruption_timeout
    assert interruption["resume_false_interruption"] is s.resume_false_interruption
    assert resolved.preemptive_generation["enabled"] is s.preemptive_generation
    assert resolved.user_away_timeout == s.user_away_timeout
    detection = resolved.turn_handling["turn_detection"]
    if s.turn_detection == "model":
        assert detection is TURN_DETECTOR
    else:
        assert detection == s.turn_detection
    assert session.turn_detection is detection


@pytest.mark.parametrize("mode", ["vad", "stt"])
def test_vad_and_stt_turn_detection_do_not_use_the_detector(mode):
    options = turn_handling_options(VoiceSettings(turn_detection=mode), turn_detector=object())
    assert options["turn_detection"] == mode


def test_only_non_deprecated_session_arguments_are_used():
    """The keyword arguments livekit-agents 1.8.9 deprecates must never appear."""
    deprecated = {"min_endpointing_delay", "max_endpointing_delay", "false_interruption_timeout",
                  "resume_false_interruption", "allow_interruptions", "min_interruption_duration",
                  "preemptive_generation", "min_interruption_words", "turn_detection",
                  "discard_audio_if_uninterruptible", "agent_false_interruption_timeout"}
    options = agent_session_options(VoiceSettings(), turn_detector=TURN_DETECTOR)
    assert set(options) == {"turn_handling", "user_away_timeout"}
    assert not set(options) & deprecated


def test_the_deprecation_check_itself_works(deprecations, loop):
    """Control: the old keyword arguments DO get reported, so the checks above can fail."""
    before = len(deprecations.messages)
    new_session(loop, min_endpointing_delay=1.0, allow_interruptions=False)
    assert any("min_endpointing_delay" in m for m in deprecations.messages[before:])


def test_turn_handling_dict_has_only_keys_the_typeddicts_declare():
    from livekit.agents.voice.turn import (
        EndpointingOptions,
        InterruptionOptions,
        PreemptiveGenerationOptions,
        TurnHandlingOptions,
    )
    options = turn_handling_options(VoiceSettings(), turn_detector=TURN_DETECTOR)
    assert set(options) <= set(TurnHandlingOptions.__annotations__)
    assert set(options["endpointing"]) <= set(EndpointingOptions.__annotations__)
    assert set(options["interruption"]) <= set(InterruptionOptions.__annotations__)
    assert set(options["preemptive_generation"]) <= set(
        PreemptiveGenerationOptions.__annotations__)


def test_options_are_fresh_dicts_each_call():
    s = VoiceSettings()
    first = turn_handling_options(s, turn_detector=TURN_DETECTOR)
    first["endpointing"]["min_delay"] = 9.0
    assert turn_handling_options(s, turn_detector=TURN_DETECTOR)["endpointing"]["min_delay"] == 0.5


# --- OpenAI LLM and TTS ---------------------------------------------------------------------------

@given(valid_settings())
@settings(max_examples=20, deadline=None)
def test_openai_llm_and_tts_are_built_and_carry_the_models(s):
    llm = openai.LLM(**openai_llm_options(s), api_key="x")
    assert llm.model == s.llm_model
    tts = openai.TTS(**openai_tts_options(s), api_key="x")
    assert tts.model == s.tts_model
    # voice and response format have no public attribute in the plugin
    assert (tts._opts.voice, tts._opts.response_format) == (s.tts_voice, "pcm")
