"""The settings model: units, defaults, ranges, policy; immutable, strict, always valid."""

from __future__ import annotations

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import (
    MAX,
    MIN,
    NUMBER_FIELDS,
    assert_within_bounds,
    ge,
    hostile_values,
    le,
    valid_settings,
)
from voice_settings.errors import allowed, describe
from voice_settings.model import (
    FIELDS,
    LIVE,
    NEXT_SESSION,
    OPERATOR,
    OPERATOR_FIELDS,
    PARTICIPANT,
    PARTICIPANT_FIELDS,
    VoiceSettings,
    policy,
)
from voice_settings.parsing import validate_field

# field: (unit, default, lowest, highest, optional). The ranges a voice engineer defends; see the
# reasons next to each bound in model.py. Changing one is a decision: change it here too.
RANGES = {
    "endpointing_ms": ("ms", 25, 0, 5000, False),
    "utterance_end_ms": ("ms", None, 1000, 5000, True),  # Deepgram refuses < 1000
    "min_endpointing_delay": ("s", 0.5, 0.0, 5.0, False),
    "max_endpointing_delay": ("s", 3.0, 0.2, 10.0, False),
    "min_interruption_duration": ("s", 0.5, 0.0, 3.0, False),
    "min_interruption_words": ("words", 0, 0, 10, False),
    "false_interruption_timeout": ("s", 2.0, 0.5, 10.0, True),
    "user_away_timeout": ("s", 15.0, 5.0, 600.0, True),
}
CHOICES = {
    "endpointing_mode": ("fixed", ["fixed", "dynamic"]),
    "turn_detection": ("model", ["model", "vad", "stt"]),
}
SWITCHES = {"allow_interruptions": True, "resume_false_interruption": True,
            "preemptive_generation": True}
OPERATOR_ONLY = {"stt_model": "nova-3", "stt_language": "en-US", "llm_model": "gpt-4o-mini",
                 "tts_model": "gpt-4o-mini-tts", "tts_voice": "alloy"}
TEXT = {"instructions", "greeting", "profile", "assistant_id"}


def test_the_fields_are_the_ones_the_issue_lists():
    assert set(FIELDS) == set(RANGES) | set(CHOICES) | set(SWITCHES) | set(OPERATOR_ONLY) | TEXT


@pytest.mark.parametrize("field", sorted(RANGES))
def test_numeric_ranges_units_and_defaults(field):
    unit, default, low, high, optional = RANGES[field]
    assert policy(field).get("unit") == unit
    assert VoiceSettings().model_dump()[field] == default
    assert (ge(field), le(field)) == (low, high)
    assert validate_field(field, low)[1] is None
    assert validate_field(field, high)[1] is None
    assert validate_field(field, -1 if low == 0 else low - 1)[1] is not None
    assert validate_field(field, high + 1)[1] is not None
    if unit == "s":
        assert validate_field(field, low - 0.01)[1] is not None
        assert validate_field(field, high + 0.01)[1] is not None
    else:
        assert validate_field(field, low + 0.5)[1] is not None  # whole numbers only
    assert (validate_field(field, None)[1] is None) is optional


def test_choices_switches_and_operator_defaults():
    defaults = VoiceSettings()
    for field, (default, options) in CHOICES.items():
        assert getattr(defaults, field) == default
        for option in options:
            assert validate_field(field, option) == (option, None)
        assert validate_field(field, options[0].upper())[1] is not None
    for field, default in {**SWITCHES, **OPERATOR_ONLY}.items():
        assert getattr(defaults, field) == default


def test_text_limits():
    assert validate_field("instructions", "x" * 8000)[1] is None
    assert validate_field("instructions", "x" * 8001)[1] is not None
    assert validate_field("instructions", "")[1] is not None
    assert validate_field("instructions", " \n\t ")[1] is not None
    assert validate_field("greeting", "")[1] is None  # wait for the user to speak
    assert validate_field("greeting", "g" * 500)[1] is None
    assert validate_field("greeting", "g" * 501)[1] is not None
    assert validate_field("assistant_id", "asst_abc:v2/1@x")[1] is None
    assert validate_field("assistant_id", "a" * 129)[1] is not None
    assert validate_field("profile", "x" * 64)[1] is None
    assert validate_field("profile", "x" * 65)[1] is not None


def test_every_field_documents_itself():
    for field in FIELDS:
        info = VoiceSettings.model_fields[field]
        assert info.description, f"{field} has no docstring"
        assert policy(field)["applies"] in (LIVE, NEXT_SESSION)
        assert policy(field)["set_by"] in (PARTICIPANT, OPERATOR)
        if field in NUMBER_FIELDS:
            word = {"ms": "ms", "s": "second", "words": "word"}[policy(field)["unit"]]
            assert word in info.description.lower(), f"{field}: its unit is not described"


def test_who_may_set_what():
    assert set(OPERATOR_ONLY) == OPERATOR_FIELDS
    assert set(FIELDS) - OPERATOR_FIELDS == PARTICIPANT_FIELDS
    assert {"instructions", "greeting", "profile", "assistant_id"} <= PARTICIPANT_FIELDS


def test_settings_are_immutable():
    settings = VoiceSettings()
    with pytest.raises(pydantic.ValidationError):
        settings.endpointing_ms = 300  # type: ignore[misc]


@pytest.mark.parametrize("update", [
    {"endpointing_ms": "300"}, {"endpointing_ms": True}, {"min_endpointing_delay": "0.5"},
    {"allow_interruptions": 1}, {"allow_interruptions": "true"}, {"unknown": 1},
    {"min_endpointing_delay": float("nan")}, {"max_endpointing_delay": float("inf")},
    {MIN: 2.0, MAX: 1.0},
])
def test_the_model_is_strict(update):
    with pytest.raises(pydantic.ValidationError):
        VoiceSettings(**update)


def test_min_above_max_is_refused_naming_both():
    with pytest.raises(pydantic.ValidationError) as raised:
        VoiceSettings(min_endpointing_delay=4.0)
    assert MIN in str(raised.value) and MAX in str(raised.value)
    assert VoiceSettings(min_endpointing_delay=3.0).max_endpointing_delay == 3.0


@given(valid_settings())
def test_valid_settings_survive_dump_and_validate(settings):
    assert_within_bounds(settings)
    assert VoiceSettings.model_validate_json(settings.model_dump_json()) == settings


@given(st.sampled_from(FIELDS), hostile_values)
def test_every_refusal_says_what_is_allowed(field, value):
    valid, message = validate_field(field, value)
    if message is None:
        other = {MIN: MAX, MAX: MIN}.get(field)
        widest = {MIN: 0.0, MAX: 10.0}.get(other) if other else None
        VoiceSettings.model_validate({**VoiceSettings().model_dump(), field: valid,
                                      **({other: widest} if other else {})})
        return
    assert valid is None
    assert f"Allowed: {allowed(field)}." in message
    message.encode("utf-8")


@pytest.mark.parametrize("field", FIELDS)
def test_allowed_describes_every_field(field):
    text = allowed(field)
    assert text and text != "a value of the right type"
    if field in RANGES:
        unit, _, low, high, optional = RANGES[field]
        assert f"{low:g} {unit}" in text and f"{high:g} {unit}" in text
        assert ("off" in text) is optional


def test_describe_never_fails_on_odd_error_types():
    for field in FIELDS:
        assert "Allowed:" in describe(field, object(), "some_new_pydantic_error")
