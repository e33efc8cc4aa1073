"""The exported JSON Schema: everything the parser produces validates against it, and it promises
nothing the parser refuses."""

from __future__ import annotations

import json
import math
import re
from typing import Any, get_args

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError, validators

from tests.strategies import (
    ALIASES_OF,
    LITERAL_FIELDS,
    OPERATOR_FIELDS,
    OPTIONAL_NUMBER_FIELDS,
    PARTICIPANT_FIELDS,
    base_type,
    canonical,
    ge,
    hostile_metadata,
    hostile_values,
    info,
    is_optional,
    le,
    max_len,
    participant_metadata,
    pattern,
    valid_settings,
    valid_values,
)
from voice_settings.keys import KEY_ALIASES
from voice_settings.model import FIELDS, Off, VoiceSettings, policy
from voice_settings.parsing import parse_metadata, validate_field
from voice_settings.profiles import DEFAULT_PROFILES_DIR
from voice_settings.resolution import resolve
from voice_settings.schema import participant_schema, settings_schema
from voice_settings.sources import Source
from voice_settings.store import load_directory

SHIPPED = load_directory(DEFAULT_PROFILES_DIR, default_name="default")
DEFAULTS = VoiceSettings()


def _ecma_pattern(validator: Any, regex: str, instance: Any, schema: Any):
    """JSON Schema patterns are ECMA-262, where `$` is the end of the input; Python's `$` also
    matches before a final newline, which would pass "name\\n" for a profile name."""
    if validator.is_type(instance, "string") and not re.search(regex.replace("$", r"\Z"),
                                                               instance):
        yield ValidationError(f"{instance!r} does not match {regex!r}")


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
ALL = EcmaValidator(settings_schema())
PARTICIPANT = EcmaValidator(participant_schema())


def options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return prop.get("anyOf", [prop])


def parser_accepts(field: str, value: Any) -> bool:
    return validate_field(field, value)[1] is None


def participant_part(settings: VoiceSettings) -> dict[str, Any]:
    return {k: v for k, v in settings.model_dump(mode="json").items() if k in PARTICIPANT_FIELDS}


def strict_json(value: Any) -> bool:
    """Whether a JSON document can hold the value: no NaN/Infinity, no lone surrogates."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError, RecursionError):
        return False
    return True


# --- Shape ------------------------------------------------------------------------------------

@pytest.mark.parametrize("schema", [participant_schema(), settings_schema()])
def test_schemas_are_draft_2020_12(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    json.dumps(schema, allow_nan=False)


def test_participant_schema_lists_what_a_participant_may_set():
    schema = participant_schema()
    assert list(schema["properties"]) == [f for f in FIELDS if f in PARTICIPANT_FIELDS]
    assert not set(schema["properties"]) & OPERATOR_FIELDS
    assert schema["additionalProperties"] is True
    assert PARTICIPANT.is_valid({"theme": "dark", "userName": "Ada", "plan": ["pro"]})


def test_settings_schema_lists_every_field():
    schema = settings_schema()
    assert list(schema["properties"]) == list(FIELDS)
    assert schema["additionalProperties"] is True
    assert ALL.is_valid({field: "gpt-4.1" for field in ("llm_model", "tts_model")})


@pytest.mark.parametrize("key", sorted(k for k, f in KEY_ALIASES.items() if f in OPERATOR_FIELDS))
def test_participant_schema_refuses_operator_fields_in_any_spelling(key):
    """The parser drops them from participant metadata, so a form must not offer them."""
    value = getattr(DEFAULTS, KEY_ALIASES[key])
    assert not PARTICIPANT.is_valid({key: value})
    assert parse_metadata({key: value}, Source.PARTICIPANT).errors
    assert ALL.is_valid({key: value})


@pytest.mark.parametrize("key", sorted(k for k, f in KEY_ALIASES.items() if k != f))
def test_other_spellings_are_checked_like_the_field(key):
    field = KEY_ALIASES[key]
    bad = {"instructions": "", "greeting": "g" * 501}.get(field, [])
    assert not ALL.is_valid({key: bad})
    assert ALL.is_valid({key: getattr(DEFAULTS, field)})
    if field in PARTICIPANT_FIELDS:
        assert not PARTICIPANT.is_valid({key: bad})


def test_every_property_carries_its_policy_and_default():
    dumped = DEFAULTS.model_dump(mode="json")
    for name, prop in settings_schema()["properties"].items():
        assert {k: prop[k] for k in ("applies", "set_by", "unit") if k in prop} == policy(name)
        assert prop["default"] == dumped[name], name
        assert prop["description"], name


# --- Bounds and choices are the model's ---------------------------------------------------------

@pytest.mark.parametrize("field", FIELDS)
def test_bounds_types_choices_and_lengths_are_the_models(field):
    prop = settings_schema()["properties"][field]
    opts = options(prop)
    value_options = [o for o in opts if o.get("type") != "null" and "const" not in o]
    assert len(value_options) == 1, prop
    [option] = value_options
    if ge(field) is not None:
        assert option["minimum"] == ge(field) and option["maximum"] == le(field)
        assert type(option["minimum"]) is type(ge(field))
        assert option["type"] == {int: "integer", float: "number"}[base_type(field)]
    else:
        assert "minimum" not in option and "maximum" not in option
    if field in LITERAL_FIELDS:
        assert option["enum"] == list(get_args(info(field).annotation))
    if max_len(field) is not None:
        assert option["maxLength"] == max_len(field)
    if pattern(field) not in (None, r"\S"):  # \S is spelled out: see the whitespace test
        assert option["pattern"] == pattern(field)
    assert any(o.get("type") == "null" for o in opts) == is_optional(field)


def test_bounds_are_exactly_where_the_parser_draws_them():
    for field, prop in settings_schema()["properties"].items():
        for option in options(prop):
            if "minimum" not in option:
                continue
            low, high = option["minimum"], option["maximum"]
            step = 1 if option["type"] == "integer" else 1e-9
            for value, inside in ((low, True), (high, True), (low - step, False),
                                  (high + step, False)):
                assert parser_accepts(field, value) is inside, (field, value)
                assert ALL.is_valid({field: value}) is inside, (field, value)


@pytest.mark.parametrize("field", FIELDS)
def test_off_and_null_are_accepted_for_exactly_the_fields_that_declare_them(field):
    opts = options(settings_schema()["properties"][field])
    declares_off = any(o.get("const") == "off" for o in opts)
    declares_null = any(o.get("type") == "null" for o in opts)
    assert declares_off == (Off in info(field).metadata) == (field in OPTIONAL_NUMBER_FIELDS)
    # "off" means disabled exactly where declared; elsewhere it is refused or is plain text.
    assert (validate_field(field, "off") == (None, None)) == declares_off
    assert (validate_field(field, None) == (None, None)) == declares_null
    assert ALL.is_valid({field: None}) == declares_null
    assert ALL.is_valid({field: "off"}) == parser_accepts(field, "off")


WHITESPACE_PROBES = ["\x1c", "\x1f", "\x85", "\xa0", "\u1680", "\u180e", "\u2028", "\u200b",
                     "\u3000", "\ufeff", " \t\n\r\v\f", "x", " x ", "\x00"]


@pytest.mark.parametrize("text", WHITESPACE_PROBES)
def test_blank_instructions_are_judged_as_the_parser_judges_them(text):
    """The model's `\\S` is Unicode White_Space (pydantic's Rust regex); the exported pattern
    must mean the same in Python's re and in JavaScript, which each differ from it."""
    assert ALL.is_valid({"instructions": text}) == parser_accepts("instructions", text)
    assert PARTICIPANT.is_valid({"systemPrompt": text}) == parser_accepts("instructions", text)


def test_blank_instructions_agree_for_every_single_character():
    regex = re.compile(settings_schema()["properties"]["instructions"]["pattern"])
    # White_Space, Python's and JavaScript's \s all lie in the Basic Multilingual Plane.
    disagree = [hex(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF
                and (regex.search(chr(c)) is not None) != parser_accepts("instructions", chr(c))]
    assert disagree == []


def test_patterns_use_dollar_only_as_the_end_anchor():
    """_ecma_pattern rewrites `$`; a literal dollar would need it escaped."""
    for prop in settings_schema()["properties"].values():
        for option in options(prop):
            if "pattern" in option:
                assert "\\$" not in option["pattern"]


# --- Everything the parser produces validates ---------------------------------------------------

def test_the_defaults_validate():
    assert ALL.is_valid(DEFAULTS.model_dump(mode="json"))
    assert PARTICIPANT.is_valid(participant_part(DEFAULTS))


@given(hostile_metadata, hostile_metadata, st.sampled_from([SHIPPED, None]))
@settings(max_examples=300, deadline=None)
@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the shared strategies
def test_settings_resolved_from_hostile_metadata_validate(participant, dispatch, store):
    resolved = resolve(participant=participant, dispatch=dispatch, profiles=store).settings
    ALL.validate(resolved.model_dump(mode="json"))
    PARTICIPANT.validate(participant_part(resolved))


@given(participant_metadata(), valid_values(frozenset(FIELDS) - {"profile"}),
       st.sampled_from([SHIPPED, None]))
@settings(max_examples=100, deadline=None)
def test_settings_resolved_from_valid_metadata_validate(participant, dispatch, store):
    resolution = resolve(participant=json.dumps(participant), dispatch=dispatch, profiles=store)
    ALL.validate(resolution.settings.model_dump(mode="json"))
    PARTICIPANT.validate(participant_part(resolution.settings))


@given(valid_settings())
@settings(max_examples=100)
def test_any_valid_settings_validate(s):
    ALL.validate(s.model_dump(mode="json"))
    PARTICIPANT.validate(participant_part(s))


@given(participant_metadata())
@settings(max_examples=200)
def test_valid_participant_metadata_validates_as_written(document):
    """What an app may send, in snake_case or camelCase, passes the schema it validates with."""
    assert not parse_metadata(document, Source.PARTICIPANT).errors
    PARTICIPANT.validate(document)
    PARTICIPANT.validate(canonical(document))


# --- Nothing the schema accepts is refused ------------------------------------------------------

@given(st.sampled_from(sorted(KEY_ALIASES)), hostile_values)
@settings(max_examples=1000)
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_what_the_participant_schema_accepts_the_parser_accepts(key, value):
    # The schema describes JSON documents: no NaN or Infinity. Lone surrogates ("\ud800") are
    # valid JSON escapes the parser refuses, which a pattern-free schema cannot express.
    assume(strict_json(value))
    document = {key: value}
    if PARTICIPANT.is_valid(document):
        parsed = parse_metadata(document, Source.PARTICIPANT)
        assert parsed.errors == ()
        assert KEY_ALIASES[key] in parsed.values
    if ALL.is_valid(document):
        parsed = parse_metadata(document, Source.DISPATCH)
        assert parsed.errors == ()


def _probes(field: str) -> list[Any]:
    probes: list[Any] = [None, "off", "OFF", "", " ", True, False, 0, 1, -1, 0.5, 1.5, "300",
                         [], {}, "x" * 501, "x" * 8001, "nova-3", "en-US", "a b", "default",
                         "abc\n", "a/b", "../x", 10**400, -(10**400), 1e308]
    if ge(field) is not None:
        low, high = ge(field), le(field)
        probes += [low, high, low - 1, high + 1, float(low), float(high), high * 1000,
                   (low + high) / 2, -0.0]
    if field in LITERAL_FIELDS:
        probes += list(get_args(info(field).annotation)) + ["Model", "fixed "]
    return probes


@pytest.mark.parametrize("field", FIELDS)
def test_schema_and_parser_agree_on_probe_values(field):
    """Both ways, except the parser's documented leniency: "OFF" and " Off " mean off."""
    for value in _probes(field):
        assert not (isinstance(value, float) and math.isnan(value))
        lenient = isinstance(value, str) and value != "off" and value.strip().lower() == "off"
        expected = parser_accepts(field, value)
        if lenient and field in OPTIONAL_NUMBER_FIELDS:
            expected = False
        assert ALL.is_valid({field: value}) == expected, (field, value)
        for key in ALIASES_OF[field]:
            if field in PARTICIPANT_FIELDS:
                assert PARTICIPANT.is_valid({key: value}) == expected, (key, value)
