"""What the app is told: the agent's attributes stay small and say what is in force."""

from __future__ import annotations

import json
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st
from livekit.rtc._proto import room_pb2

from voice_settings import SettingsError, Source, VoiceSettings
from voice_settings.runtime import attributes


def test_attributes_stay_small_with_the_largest_inputs():
    settings = VoiceSettings(instructions="é" * 8000, greeting="g" * 500)
    errors = [SettingsError("instructions", "x" * 70_000, "m" * 5000, Source.PARTICIPANT)] * 50
    published = attributes.agent_attributes(settings, {"instructions": "y" * 8000}, errors)

    assert sum(len(k) + len(v.encode()) for k, v in published.items()) < 16 * 1024
    summary = json.loads(published[attributes.SETTINGS])
    assert "instructions" not in summary and summary["instructions_chars"] == 8000
    assert summary["instructions_sha256"] == attributes.instructions_digest("é" * 8000)
    assert json.loads(published[attributes.PENDING]) == {"instructions": 8000}
    assert len(json.loads(published[attributes.ERRORS])) == attributes.MAX_ERRORS


def test_the_digest_tells_different_instructions_apart():
    assert attributes.instructions_digest("a") != attributes.instructions_digest("b")
    assert len(attributes.instructions_digest("a")) == 16


# Text as Python can hold it, not only as UTF-8 can: lone surrogates ("\ud800", what a JSON escape
# or a repaired tool call can decode to), halves of a pair given apart, and pairs.
SURROGATES = st.sampled_from(["\ud800", "\udfff", "\ud83d", "\ude00", "\ud83d\ude00", "a\udc80b"])
HOSTILE_TEXT = st.one_of(
    SURROGATES,
    st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None), max_size=40),
    st.lists(st.one_of(SURROGATES, st.text(max_size=5)), max_size=6).map("".join),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), HOSTILE_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(HOSTILE_TEXT, inner, max_size=3)),
    max_leaves=8)


@st.composite
def hostile_settings(draw: st.DrawFn) -> VoiceSettings:
    """Any settings object, even one no validator saw (`model_copy` does not validate)."""
    text_fields = [name for name, info in VoiceSettings.model_fields.items()
                   if str in (info.annotation, *get_args(info.annotation))]
    chosen = draw(st.lists(st.sampled_from(text_fields), unique=True))
    return VoiceSettings().model_copy(update={name: draw(HOSTILE_TEXT) for name in chosen})


ERRORS = st.lists(st.builds(SettingsError, HOSTILE_TEXT, JSON_VALUES, HOSTILE_TEXT,
                            st.none() | st.sampled_from(Source)), max_size=12)


def strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def refuse(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


@settings(max_examples=300, deadline=None)
@given(hostile_settings(), st.dictionaries(HOSTILE_TEXT, JSON_VALUES, max_size=5), ERRORS)
def test_every_attribute_encodes_as_the_ffi_encodes_it_whatever_the_input(settings_, pending,
                                                                          errors):
    published = attributes.agent_attributes(settings_, pending, errors)

    assert set(published) == {attributes.SETTINGS, attributes.PENDING, attributes.ERRORS}
    for key, value in published.items():
        entry = room_pb2.AttributesEntry(key=key, value=value)  # what set_attributes builds
        assert entry.SerializeToString()
        document = json.loads(value, parse_constant=refuse)  # strict JSON: no NaN
        for text in strings_in(document):  # also after decoding: Swift/Kotlin refuse surrogates
            text.encode("utf-8")
    assert len(json.loads(published[attributes.ERRORS])) == min(len(errors), attributes.MAX_ERRORS)


def test_a_lone_surrogate_is_shown_escaped_and_ordinary_text_is_kept():
    settings_ = VoiceSettings().model_copy(update={"greeting": "Grüß dich \ud800 😀"})
    error = SettingsError("profile", "\ud800x", 'cannot be "\udfff"', Source.PARTICIPANT)
    published = attributes.agent_attributes(settings_, {}, [error])

    assert json.loads(published[attributes.SETTINGS])["greeting"] == "Grüß dich \\ud800 😀"
    assert json.loads(published[attributes.ERRORS]) == [{
        "field": "profile", "value": "\\ud800x", "message": 'cannot be "\\udfff"',
        "source": "participant"}]
