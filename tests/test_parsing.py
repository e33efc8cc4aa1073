"""parse_metadata: untrusted metadata in, valid values out; never raises, never loses a value."""

from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import (
    FLOAT_FIELDS,
    INT_FIELDS,
    MAX,
    MIN,
    OPTIONAL_NUMBER_FIELDS,
    assert_errors_are_reports,
    canonical,
    hostile_metadata,
    hostile_values,
    json_values,
    participant_metadata,
)
from voice_settings.errors import METADATA
from voice_settings.json_input import MAX_METADATA_BYTES
from voice_settings.keys import KEY_ALIASES, split_by_audience
from voice_settings.model import FIELDS, OPERATOR_FIELDS, VoiceSettings
from voice_settings.parsing import parse_assignment, parse_metadata, validate_field
from voice_settings.sources import Source


def messages(parsed, field: str) -> list[str]:
    return [e.message for e in parsed.errors if e.field == field]


# --- Totality ---------------------------------------------------------------------------------

@given(hostile_metadata, st.sampled_from([Source.PARTICIPANT, Source.DISPATCH]))
@settings(max_examples=300, deadline=None)
def test_parse_metadata_is_total(raw, source):
    parsed = parse_metadata(raw, source)
    assert_errors_are_reports(parsed.errors)
    assert all(e.source is source for e in parsed.errors)
    assert set(parsed.values) <= set(FIELDS)
    assert parsed.rejected_fields <= set(FIELDS)
    for name, value in parsed.values.items():
        assert validate_field(name, value) == (value, None)
    if source is Source.PARTICIPANT:
        assert not set(parsed.values) & OPERATOR_FIELDS
    if parsed.rejected_whole:
        assert parsed.values == {} and len(parsed.errors) == 1
        assert parsed.errors[0].field == METADATA


@given(st.dictionaries(st.sampled_from(sorted(KEY_ALIASES)), hostile_values, max_size=6))
@settings(max_examples=300)
def test_one_bad_value_never_costs_the_others(document):
    """Every key is judged on its own: what a key-by-key validation accepts is kept."""
    parsed = parse_metadata(document, Source.DISPATCH)
    assert not parsed.rejected_whole
    assert_errors_are_reports(parsed.errors)
    fields_given = {KEY_ALIASES[k] for k in document}
    assert set(parsed.values) | parsed.rejected_fields <= fields_given
    for name in set(parsed.values):
        assert name not in parsed.rejected_fields
    for key, value in document.items():
        name = KEY_ALIASES[key]
        ok = validate_field(name, value)[1] is None
        if key == name and ok and name not in (MIN, MAX):
            assert parsed.values[name] == validate_field(name, value)[0]
        spellings = [k for k in document if KEY_ALIASES[k] == name]
        if not ok and (key == name or spellings == [key]):
            assert name in parsed.rejected_fields
            assert any(str(e.field) == name for e in parsed.errors)


@given(participant_metadata())
def test_valid_participant_metadata_parses_cleanly(document):
    parsed = parse_metadata(json.dumps(document))
    assert parsed.errors == ()
    assert parsed.values == canonical(document)
    assert set(parsed.unknown_keys) == {k for k in document if k not in KEY_ALIASES}


@given(json_values)
def test_text_and_decoded_forms_agree(value):
    as_text = parse_metadata(json.dumps(value))
    decoded = parse_metadata(value)
    if isinstance(value, dict):
        assert as_text == decoded
    else:
        assert as_text.rejected_whole and as_text.values == {}


# --- Whole-metadata rejections ------------------------------------------------------------------

@pytest.mark.parametrize("raw", [None, "", "   ", b"", "\n"])
def test_empty_metadata_is_no_settings_and_no_error(raw):
    assert parse_metadata(raw) == parse_metadata("{}")
    assert parse_metadata(raw).errors == ()
    assert not parse_metadata(raw).rejected_whole


@pytest.mark.parametrize("raw, words", [
    ("[1, 2]", "JSON object"),
    ("300", "JSON object"),
    ('"endpointing_ms"', "JSON object"),
    ("{endpointing_ms: 300}", "not valid JSON"),
    ('{"min_endpointing_delay": NaN}', "not valid JSON"),
    ('{"min_endpointing_delay": Infinity, "endpointing_ms": 300}', "not valid JSON"),
    ('{"endpointing_ms": 300, "x": -Infinity}', "not valid JSON"),
    (b'{"greeting": "\xff"}', "UTF-8"),
    ('{"greeting": "\ud800"}', "UTF-8"),
    ("[" * 60_000, "more than 64 deep"),
    ('{"endpointing_ms": 300, "endpointing_ms": 400}', "given twice"),
    ('{"greeting": "\\ud800"}', "lone UTF-16 surrogate"),
    ('{"endpointing_ms": ' + "9" * 5000 + "}", "not valid JSON"),
    ([{"endpointing_ms": 300}], "JSON text"),
    (300, "JSON text"),
])
def test_unreadable_metadata_is_one_error_and_nothing_applied(raw, words):
    parsed = parse_metadata(raw)
    assert parsed.rejected_whole
    assert parsed.values == {}
    assert len(parsed.errors) == 1
    assert parsed.errors[0].field == METADATA
    assert words in parsed.errors[0].message


def test_a_magicmock_is_one_error():
    parsed = parse_metadata(MagicMock())
    assert parsed.rejected_whole and parsed.values == {}
    assert "MagicMock" in parsed.errors[0].message


@pytest.mark.parametrize("encode", [False, True])
def test_metadata_over_64_kib_is_rejected_whole(encode):
    document = {"endpointing_ms": 300}
    document["greeting"] = "g"
    overhead = len(json.dumps(document))
    document["pad"] = "p" * (MAX_METADATA_BYTES - overhead - len(', "pad": ""') + 1)
    text = json.dumps(document)
    assert len(text.encode()) == MAX_METADATA_BYTES + 1
    parsed = parse_metadata(text.encode() if encode else text)
    assert parsed.rejected_whole and parsed.values == {}
    assert str(MAX_METADATA_BYTES) in parsed.errors[0].message
    document["pad"] = document["pad"][:-1]
    just_fits = parse_metadata(json.dumps(document))
    assert just_fits.values == {"endpointing_ms": 300, "greeting": "g"}


def test_the_limit_counts_utf8_bytes_not_characters():
    text = json.dumps({"greeting": "é" * 40_000}, ensure_ascii=False)
    assert len(text) < MAX_METADATA_BYTES < len(text.encode())
    assert parse_metadata(text).rejected_whole


# --- Keys: aliases, unknown keys, duplicates ------------------------------------------------------

@pytest.mark.parametrize("key, field", [
    ("endpointingMs", "endpointing_ms"),
    ("minEndpointingDelay", "min_endpointing_delay"),
    ("maxEndpointingDelay", "max_endpointing_delay"),
    ("utteranceEndMs", "utterance_end_ms"),
    ("systemPrompt", "instructions"),
    ("system_prompt", "instructions"),
    ("assistantId", "assistant_id"),
    ("allowInterruptions", "allow_interruptions"),
    ("userAwayTimeout", "user_away_timeout"),
])
def test_camel_case_and_prompt_aliases(key, field):
    value = {"instructions": "Be brief.", "assistant_id": "asst_42", "allow_interruptions": False,
             "user_away_timeout": 30.0}.get(field, 1000 if "ms" in field else 1.5)
    parsed = parse_metadata(json.dumps({key: value}))
    assert parsed.values == {field: value}
    assert parsed.errors == () and parsed.unknown_keys == ()


def test_every_field_has_its_camel_case_alias():
    for name in FIELDS:
        camel = name.split("_")[0] + "".join(w.title() for w in name.split("_")[1:])
        assert KEY_ALIASES[camel] == name


@pytest.mark.parametrize("first_alias", [True, False])
def test_canonical_name_wins_over_an_alias_beside_it(first_alias):
    items = [("endpointingMs", 100), ("endpointing_ms", 300)]
    document = dict(items if first_alias else items[::-1])
    parsed = parse_metadata(json.dumps(document))
    assert parsed.values == {"endpointing_ms": 300}
    [error] = parsed.errors
    assert error.field == "endpointing_ms"
    assert "endpointingMs" in error.message and "endpointing_ms" in error.message


def test_instructions_wins_over_system_prompt():
    parsed = parse_metadata({"systemPrompt": "B", "instructions": "A", "system_prompt": "C"})
    assert parsed.values == {"instructions": "A"}
    assert len(parsed.errors) == 2


def test_unknown_keys_are_ignored_but_reported():
    parsed = parse_metadata('{"theme": "dark", "endpointing_ms": 300, "EndpointingMs": 1}')
    assert parsed.values == {"endpointing_ms": 300}
    assert parsed.errors == ()
    assert sorted(parsed.unknown_keys) == ["EndpointingMs", "theme"]


# --- Who may set what ---------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("stt_model", "nova-2"), ("stt_language", "de"), ("llm_model", "gpt-4.1"),
    ("tts_model", "tts-1-hd"), ("tts_voice", "nova"),
])
def test_operator_fields_are_refused_from_participants_but_taken_from_dispatch(field, value):
    assert field in OPERATOR_FIELDS
    from_user = parse_metadata({field: value, "endpointing_ms": 300}, Source.PARTICIPANT)
    assert from_user.values == {"endpointing_ms": 300}
    [error] = from_user.errors
    assert error.field == field and error.source is Source.PARTICIPANT
    assert "operator" in error.message and "dispatch" in error.message
    assert "profile" in error.message
    from_operator = parse_metadata({field: value}, Source.DISPATCH)
    assert from_operator.values == {field: value} and from_operator.errors == ()


def test_operator_field_in_camel_case_is_refused_too():
    parsed = parse_metadata({"llmModel": "gpt-4.1"}, Source.PARTICIPANT)
    assert parsed.values == {}
    assert parsed.errors[0].field == "llm_model"


def test_split_by_audience_partitions_by_canonical_name():
    participant, operator = split_by_audience(
        {"sttModel": "nova-3", "tts_voice": "alloy", "endpointingMs": 300, "theme": "x"})
    assert operator == {"sttModel": "nova-3", "tts_voice": "alloy"}
    assert participant == {"endpointingMs": 300, "theme": "x"}


# --- Values: strict types, off, hints, messages --------------------------------------------------

@pytest.mark.parametrize("field", INT_FIELDS + FLOAT_FIELDS)
@pytest.mark.parametrize("value", [True, False])
def test_booleans_posing_as_numbers_are_rejected(field, value):
    parsed = parse_metadata(json.dumps({field: value}))
    assert parsed.values == {} and parsed.rejected_fields == {field}
    assert "boolean" in parsed.errors[0].message


@pytest.mark.parametrize("field, value", [("endpointing_ms", "300"),
                                          ("min_endpointing_delay", "0.5"),
                                          ("allow_interruptions", "true"),
                                          ("allow_interruptions", 1),
                                          ("min_interruption_words", 2.5),
                                          ("instructions", 42)])
def test_numbers_text_and_booleans_are_not_coerced(field, value):
    parsed = parse_metadata({field: value})
    assert parsed.values == {} and parsed.rejected_fields == {field}


def test_whole_floats_are_accepted_for_whole_fields_and_ints_for_seconds():
    parsed = parse_metadata('{"endpointing_ms": 300.0, "min_endpointing_delay": 1}')
    assert parsed.values == {"endpointing_ms": 300, "min_endpointing_delay": 1.0}
    assert type(parsed.values["endpointing_ms"]) is int
    assert type(parsed.values["min_endpointing_delay"]) is float


@pytest.mark.parametrize("field", OPTIONAL_NUMBER_FIELDS)
@pytest.mark.parametrize("off", [None, "off", "OFF", " Off "])
def test_off_and_null_disable_optional_fields(field, off):
    parsed = parse_metadata(json.dumps({field: off}))
    assert parsed.values == {field: None} and parsed.errors == ()


@pytest.mark.parametrize("field", OPTIONAL_NUMBER_FIELDS)
def test_false_is_refused_with_a_hint_to_use_off(field):
    parsed = parse_metadata(json.dumps({field: False}))
    assert parsed.values == {}
    message = parsed.errors[0].message
    assert 'null or "off"' in message and "disable" in message


@pytest.mark.parametrize("field", ["endpointing_ms", "min_endpointing_delay", "instructions",
                                   "allow_interruptions", "turn_detection"])
def test_null_for_a_required_field_is_refused(field):
    parsed = parse_metadata(json.dumps({field: None}))
    assert parsed.values == {} and parsed.rejected_fields == {field}


@pytest.mark.parametrize("field, value, hint", [
    ("min_endpointing_delay", 500, "Did you mean 0.5?"),
    ("min_endpointing_delay", 500.0, "Did you mean 0.5?"),
    ("min_endpointing_delay", 100, "Did you mean 0.1?"),
    ("max_endpointing_delay", 6000, "Did you mean 6?"),
    ("max_endpointing_delay", 10_000, "Did you mean 10?"),
    ("user_away_timeout", 30000, "Did you mean 30?"),
    ("min_interruption_duration", 800, "Did you mean 0.8?"),
    ("false_interruption_timeout", 2000, "Did you mean 2?"),
    ("endpointing_ms", 0.3, "Did you mean 300?"),
    ("utterance_end_ms", 1.5, "Did you mean 1500?"),
    ("utterance_end_ms", 2, "Did you mean 2000?"),
])
def test_unit_mix_ups_get_a_hint(field, value, hint):
    [error] = parse_metadata({field: value}).errors
    assert hint in error.message
    assert ("seconds" if "Did you mean 0" in hint or field.endswith(("delay", "timeout",
            "duration")) else "milliseconds") in error.message


@pytest.mark.parametrize("field, value", [
    ("max_endpointing_delay", 11), ("user_away_timeout", 601), ("min_endpointing_delay", 10**9),
    ("endpointing_ms", 6000), ("endpointing_ms", -1), ("endpointing_ms", 12.5),
    ("min_endpointing_delay", 7),        # a too-long wait, not 0.007
    ("min_endpointing_delay", 99),       # under 100 does not read as milliseconds
    ("min_endpointing_delay", 5.5),
    ("max_endpointing_delay", 150),      # 0.15 would be below the 0.2 s minimum anyway
    ("max_endpointing_delay", 10_001),   # 10.001 would be above the maximum anyway
    ("user_away_timeout", 700),          # 0.7 would be below the 5 s minimum
    ("min_endpointing_delay", -500),
    ("min_endpointing_delay", 10**400),  # too large to divide; no crash either
    ("min_endpointing_delay", True),
])
def test_no_hint_where_no_mix_up_is_plausible(field, value):
    [error] = parse_metadata({field: value}).errors
    assert "Did you mean" not in error.message


@pytest.mark.parametrize("field, value, words", [
    ("endpointing_ms", 6000, ["endpointing_ms", "6000", "5000 ms"]),
    ("utterance_end_ms", 500, ["utterance_end_ms", "500", "1000 ms", "off"]),
    ("min_endpointing_delay", -1, ["min_endpointing_delay", "-1", "0 s", "5 s"]),
    ("turn_detection", "semantic", ["turn_detection", "semantic", "model, vad, stt"]),
    ("endpointing_mode", 3, ["endpointing_mode", "3", "fixed, dynamic"]),
    ("instructions", "  ", ["instructions", "empty"]),
    ("instructions", "x" * 8001, ["instructions", "8001", "8000"]),
    ("greeting", "g" * 501, ["greeting", "501", "500"]),
    ("profile", "../x", ["profile", "../x", "lowercase"]),
    ("assistant_id", "has space", ["assistant_id", "has space", "no spaces"]),
    ("min_interruption_words", 11, ["min_interruption_words", "11", "10 words"]),
])
def test_error_messages_name_field_value_and_what_is_allowed(field, value, words):
    [error] = parse_metadata({field: value}).errors
    text = f"{error.field}: {error.message}"
    for word in words:
        assert word in text
    assert "Allowed:" in error.message


@given(st.sampled_from(INT_FIELDS + FLOAT_FIELDS),
       st.one_of(st.integers(min_value=10**20), st.integers(max_value=-(10**20)),
                 st.just(10**400), st.floats(allow_nan=False, min_value=1e20)))
def test_huge_numbers_are_refused_per_field(field, value):
    """A huge number is one bad value, not a reason to throw away the whole metadata."""
    parsed = parse_metadata({field: value, "greeting": "hi"})
    assert parsed.values == {"greeting": "hi"}
    assert parsed.rejected_fields == {field}
    assert_errors_are_reports(parsed.errors)


def test_huge_number_in_json_text_is_refused_per_field():
    parsed = parse_metadata('{"min_endpointing_delay": ' + "9" * 400 + ', "endpointing_ms": 300}')
    assert parsed.values == {"endpointing_ms": 300}
    assert parsed.rejected_fields == {"min_endpointing_delay"}


def test_contradictory_min_and_max_from_one_source_are_both_refused():
    parsed = parse_metadata({MIN: 3.0, MAX: 2.0, "endpointing_ms": 300})
    assert parsed.values == {"endpointing_ms": 300}
    assert parsed.rejected_fields == {MIN, MAX}
    [error] = parsed.errors
    assert "both were ignored" in error.message


def test_errors_about_odd_text_are_printable():
    parsed = parse_metadata({"greeting": "\ud800" * 3, "tts_voice": "\udcff"}, Source.DISPATCH)
    assert parsed.rejected_fields == {"greeting", "tts_voice"}
    assert_errors_are_reports(parsed.errors)


def test_models_accept_what_they_are_given():
    settings = VoiceSettings.model_validate(
        parse_metadata({"stt_model": "nova-2-general", "llm_model": "openai/gpt-4.1"},
                       Source.DISPATCH).values)
    assert settings.llm_model == "openai/gpt-4.1"


# --- parse_assignment (profiles new --set) ------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("endpointing_ms=300", ("endpointing_ms", 300)),
    ("endpointingMs=300", ("endpointing_ms", 300)),
    ("greeting=Hi there", ("greeting", "Hi there")),
    ("greeting=", ("greeting", "")),
    ("false_interruption_timeout=off", ("false_interruption_timeout", "off")),
    ("user_away_timeout=null", ("user_away_timeout", None)),
    ("instructions=a=b", ("instructions", "a=b")),
    ("min_endpointing_delay=NaN", ("min_endpointing_delay", "NaN")),
])
def test_parse_assignment(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["endpointing_ms", "=300", "nonsense=1"])
def test_parse_assignment_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_assignment(text)


@pytest.mark.parametrize("text, closest", [
    ("endpointingms=300", "endpointing_ms"),
    ("ENDPOINTING_MS=300", "endpointing_ms"),
    ("endpointing-ms=300", "endpointing_ms"),
    ("endpoint_ms=300", "endpointing_ms"),
    ("min_endpointing_dealy=1", "min_endpointing_delay"),
    ("systemprompt=Hi", "instructions"),
    ("greting=Hi", "greeting"),
    ("ttsVoise=nova", "tts_voice"),
])
def test_an_unknown_setting_suggests_the_closest_name(text, closest):
    with pytest.raises(ValueError) as raised:
        parse_assignment(text)
    message = str(raised.value)
    key = text.partition("=")[0]
    assert message.startswith(f"unknown setting {key!r}; did you mean {closest}?")
    assert "known settings:" in message  # the whole list still follows


def test_an_unknown_setting_far_from_every_name_suggests_none():
    with pytest.raises(ValueError) as raised:
        parse_assignment("zzzzzz=1")
    assert "did you mean" not in str(raised.value) and "known settings:" in str(raised.value)


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def _folded(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


@given(st.sampled_from(sorted(KEY_ALIASES)), st.integers(0, 40), st.sampled_from("_-x"))
def test_a_one_character_slip_of_a_known_key_suggests_a_field_one_slip_away(key, position, slip):
    # Drop, double or replace one character: the suggestion is a field named by a key one
    # edit away (case, _ and - aside): the key slipped from, or one exactly as close.
    i = position % len(key)
    typo = {"_": key[:i] + key[i + 1:], "-": key[:i] + key[i] + key[i:],
            "x": key[:i] + "x" + key[i + 1:]}[slip]
    if typo in KEY_ALIASES or not typo.strip():
        return
    with pytest.raises(ValueError) as raised:
        parse_assignment(f"{typo}=1")
    near = {KEY_ALIASES[k] for k in KEY_ALIASES if _edits(_folded(typo), _folded(k)) <= 1}
    suggested = str(raised.value).partition("did you mean ")[2].partition("?")[0]
    assert suggested in near, (typo, str(raised.value))
