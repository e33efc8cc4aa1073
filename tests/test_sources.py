"""resolve: precedence, provenance, the min/max rule, and what a running call keeps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.strategies import (
    MAX,
    MIN,
    assert_errors_are_reports,
    assert_within_bounds,
    canonical,
    hostile_metadata,
    hostile_values,
    participant_metadata,
    spelling,
    valid_settings,
    valid_values,
)
from voice_settings.json_input import MAX_METADATA_BYTES
from voice_settings.keys import KEY_ALIASES, split_by_audience
from voice_settings.model import (
    FIELDS,
    OPERATOR_FIELDS,
    PARTICIPANT_FIELDS,
    PROFILE_FIELDS,
    VoiceSettings,
)
from voice_settings.parsing import validate_field
from voice_settings.profiles import DEFAULT_PROFILES_DIR, ProfileStore
from voice_settings.resolution import resolve
from voice_settings.sources import Source
from voice_settings.store import load_directory

RANK = {Source.DEFAULT: 0, Source.DEFAULT_PROFILE: 1, Source.PROFILE: 2, Source.DISPATCH: 3,
        Source.PARTICIPANT: 4}
DEFAULTS = VoiceSettings()
SHIPPED = dataclasses.replace(load_directory(DEFAULT_PROFILES_DIR, default_name="default"),
                              default_name=None)
"""The shipped profiles, with no default profile so that `profile` can stay None."""


# --- Strategies: stores and the metadata of both sources ------------------------------------------

@st.composite
def profile_values(draw: st.DrawFn) -> dict:
    """Values a strictly validated profile can hold (alone, over the built-in defaults)."""
    values = draw(valid_values(PROFILE_FIELDS))
    for dropped in ((MIN, MAX), ("endpointing_ms",)):
        try:
            VoiceSettings.model_validate(values)
            break
        except ValueError:  # a lone bound past the other's default; an "stt" turn that can't end
            for name in dropped:
                values.pop(name, None)
    return VoiceSettings.model_validate(values) and values


@st.composite
def stores(draw: st.DrawFn) -> ProfileStore:
    profiles = {name: draw(profile_values()) for name in ("default", "alpha", "beta")}
    default = draw(st.sampled_from([None, "default"]))
    return ProfileStore(Path("profiles"), profiles, {}, default)


profile_names = st.sampled_from(["alpha", "beta", "default", "nope"])


@st.composite
def participant_documents(draw: st.DrawFn) -> dict:
    document = draw(participant_metadata())
    if draw(st.booleans()):
        document["profile"] = draw(profile_names)
    return document


@st.composite
def dispatch_documents(draw: st.DrawFn) -> dict:
    document = draw(valid_values(frozenset(FIELDS) - {"profile"}))
    if draw(st.booleans()):
        document["profile"] = draw(profile_names)
    return document


def named_profile(store: ProfileStore, *documents: dict) -> str | None:
    for document in documents:
        name = canonical(document).get("profile")
        if name in store:
            return name
    return None


def tops(store: ProfileStore, participant: dict, dispatch: dict) -> dict[str, tuple]:
    """For every field, (value, source) of the highest source that gives it."""
    layers = [(DEFAULTS.model_dump(), Source.DEFAULT)]
    if store.default_name:
        layers.append(({**store.values(store.default_name), "profile": store.default_name},
                       Source.DEFAULT_PROFILE))
    name = named_profile(store, participant, dispatch)
    if name:
        layers.append(({**store.values(name), "profile": name}, Source.PROFILE))
    for document, source in ((dispatch, Source.DISPATCH), (participant, Source.PARTICIPANT)):
        values = canonical(document)
        values.pop("profile", None)
        layers.append((values, source))
    top = {}
    for values, source in layers:
        for field, value in values.items():
            top[field] = (value, source)
    return top


def assert_precedence(resolution, top: dict[str, tuple]) -> None:
    """Each field has the value of its highest source, except a bound moved to meet the other
    bound, which happens only when the final bounds conflict, toward a bound from a higher
    source."""
    for field in FIELDS:
        value, source = getattr(resolution.settings, field), resolution.sources[field]
        if source is Source.ADJUSTED and field == "endpointing_ms":
            # the one other adjustment: "stt" turns must be able to end
            assert top[field][0] == 0 and resolution.settings.turn_detection == "stt"
            assert resolution.settings.utterance_end_ms is None and value == 25
        elif source is Source.ADJUSTED:
            assert field in (MIN, MAX), field
            other = MAX if field == MIN else MIN
            assert top[MIN][0] > top[MAX][0]
            assert value == top[other][0] == getattr(resolution.settings, other)
            assert resolution.sources[other] is top[other][1]
            assert RANK[top[other][1]] > RANK[top[field][1]]
        else:
            assert (value, source) == top[field], field
    if Source.ADJUSTED not in resolution.sources.values():
        assert top[MIN][0] <= top[MAX][0]


# --- Totality -------------------------------------------------------------------------------------

@given(hostile_metadata, hostile_metadata, st.one_of(st.none(), stores()))
@settings(max_examples=200, deadline=None)
def test_resolve_is_total(participant, dispatch, store):
    resolution = resolve(participant=participant, dispatch=dispatch, profiles=store)
    assert_within_bounds(resolution.settings)
    assert_errors_are_reports(resolution.errors)
    assert set(resolution.sources) == set(FIELDS)
    for field in OPERATOR_FIELDS:
        assert resolution.sources[field] is not Source.PARTICIPANT


@given(hostile_metadata, hostile_metadata, st.data())
@settings(max_examples=100, deadline=None)
def test_resolve_is_total_mid_call(start, update, data):
    store = data.draw(stores())
    previous = resolve(participant=start, profiles=store)
    resolution = resolve(participant=update, profiles=store, previous=previous)
    assert_within_bounds(resolution.settings)
    assert_errors_are_reports(resolution.errors)


def test_a_magicmock_participant_gets_defaults_and_one_error():
    resolution = resolve(participant=MagicMock(), dispatch='{"endpointing_ms": 700}')
    expected = DEFAULTS.model_copy(update={"endpointing_ms": 700})
    assert resolution.settings == expected
    [error] = resolution.errors
    assert error.source is Source.PARTICIPANT and "MagicMock" in error.message


# --- Precedence -----------------------------------------------------------------------------------

@given(stores(), participant_documents(), dispatch_documents(), st.booleans())
@settings(max_examples=200)
def test_a_valid_value_in_a_higher_source_always_wins(store, participant, dispatch, as_text):
    encode = json.dumps if as_text else dict
    resolution = resolve(participant=encode(participant), dispatch=encode(dispatch),
                         profiles=store)
    assert_precedence(resolution, tops(store, participant, dispatch))
    for error in resolution.errors:  # the unknown profile name, the min/max and stt rules
        assert error.field in ("profile", MIN, MAX, "endpointing_ms"), error
        if error.field == "endpointing_ms":
            assert resolution.sources["endpointing_ms"] is Source.ADJUSTED


@pytest.mark.parametrize("higher, lower", [
    (Source.PARTICIPANT, Source.DISPATCH),
    (Source.DISPATCH, Source.PROFILE),
    (Source.PROFILE, Source.DEFAULT_PROFILE),
    (Source.DEFAULT_PROFILE, Source.DEFAULT),
])
def test_each_source_beats_the_one_below(higher, lower):
    """A ladder: each source gives a different endpointing_ms; the highest present wins."""
    store = ProfileStore(Path("p"), {"base": {"endpointing_ms": 100},
                                     "named": {"endpointing_ms": 200}}, {}, "base")
    given_by = {Source.DEFAULT_PROFILE: None, Source.PROFILE: 200, Source.DISPATCH: 300,
                Source.PARTICIPANT: 400}
    participant: dict = {"profile": "named"} if RANK[higher] >= RANK[Source.PROFILE] else {}
    dispatch: dict = {}
    if RANK[higher] >= RANK[Source.DISPATCH]:
        dispatch["endpointing_ms"] = 300
    if higher is Source.PARTICIPANT:
        participant["endpointing_ms"] = 400
    resolution = resolve(participant=participant, dispatch=dispatch,
                         profiles=store if RANK[higher] >= 1 else None)
    assert resolution.sources["endpointing_ms"] is higher
    expected = given_by[higher] or (100 if higher is Source.DEFAULT_PROFILE else 25)
    assert resolution.settings.endpointing_ms == expected
    assert RANK[lower] < RANK[higher]


@given(stores(), participant_documents(), dispatch_documents(), st.data())
@settings(max_examples=200)
def test_an_invalid_value_never_changes_anything_else(store, participant, dispatch, data):
    """At the start of a call a bad value is as if it was not there: same settings, same
    sources, for every field (the bad field falls back to the next lower source)."""
    into_participant = data.draw(st.booleans(), label="into_participant")
    target = participant if into_participant else dispatch
    free = sorted(set(FIELDS) - set(canonical(target)))
    assume(free)
    name = data.draw(st.sampled_from(free), label="name")
    key = data.draw(spelling(name), label="key")
    bad = data.draw(st.one_of(hostile_values, st.sampled_from(["../x", "a/b", "nope"])),
                    label="bad")
    unknown_profile = name == "profile" and isinstance(bad, str) and bad not in store
    operator_only = into_participant and name in OPERATOR_FIELDS
    assume(validate_field(name, bad)[1] is not None or unknown_profile or operator_only)
    with_bad = {**target, key: bad}
    both = (with_bad, dispatch) if into_participant else (participant, with_bad)
    clean = resolve(participant=participant, dispatch=dispatch, profiles=store)
    dirty = resolve(participant=both[0], dispatch=both[1], profiles=store)
    assert dirty.settings == clean.settings
    assert dict(dirty.sources) == dict(clean.sources)
    assert len(dirty.errors) == len(clean.errors) + 1
    assert any(e.field == name for e in dirty.errors)


def test_min_max_rule_one_bound_given_moves_the_other():
    raised = resolve(participant={MIN: 4.0})
    assert (raised.settings.min_endpointing_delay, raised.settings.max_endpointing_delay) == (4, 4)
    assert raised.sources[MIN] is Source.PARTICIPANT and raised.sources[MAX] is Source.ADJUSTED
    [error] = raised.errors
    assert error.field == MAX and "min <= max" in error.message
    lowered = resolve(participant={MAX: 0.3}, dispatch={MIN: 1.0})
    assert (lowered.settings.min_endpointing_delay, lowered.settings.max_endpointing_delay) == (
        0.3, 0.3)
    assert lowered.sources[MIN] is Source.ADJUSTED


def test_min_max_rule_both_from_one_source_are_both_ignored():
    resolution = resolve(participant={MIN: 2.0, MAX: 1.0}, dispatch={MIN: 0.8, MAX: 4.0})
    assert resolution.settings.min_endpointing_delay == 0.8
    assert resolution.settings.max_endpointing_delay == 4.0
    assert resolution.sources[MIN] is resolution.sources[MAX] is Source.DISPATCH
    assert any("both were ignored" in e.message for e in resolution.errors)


def test_a_replaced_bound_does_not_move_the_other():
    """The profile's max 1.0 conflicts with dispatch's min 2.0, but the participant's min 0.5
    replaces that: nothing conflicts any more, so nothing moves and nothing is reported."""
    store = ProfileStore(Path("p"), {"p": {MAX: 1.0}}, {}, None)
    resolution = resolve(participant={MIN: 0.5, "profile": "p"}, dispatch={MIN: 2.0},
                         profiles=store)
    assert resolution.settings.max_endpointing_delay == 1.0
    assert resolution.sources[MAX] is Source.PROFILE
    assert resolution.errors == ()


# --- Profiles named in metadata -------------------------------------------------------------------

def test_the_profile_named_by_the_participant_beats_the_one_named_by_dispatch():
    resolution = resolve(participant={"profile": "patient"}, dispatch={"profile": "snappy"},
                         profiles=SHIPPED)
    assert resolution.settings.profile == "patient"
    assert resolution.settings.min_endpointing_delay == SHIPPED.values("patient")[MIN]
    assert resolution.sources[MIN] is Source.PROFILE


def test_dispatch_names_the_profile_when_the_participant_does_not():
    resolution = resolve(participant={}, dispatch={"profile": "snappy"}, profiles=SHIPPED)
    assert resolution.settings.profile == "snappy"
    assert resolution.settings.endpointing_mode == "dynamic"


@pytest.mark.parametrize("name", ["nope", "../x", "a/b", "/etc/passwd", "patient.toml",
                                  "Patient", "..", "", 3, ["patient"]])
def test_unknown_or_path_like_profile_names_are_refused_and_ignored(name):
    resolution = resolve(participant={"profile": name}, dispatch={"profile": "snappy"},
                         profiles=SHIPPED)
    assert resolution.settings.profile == "snappy"
    [error] = resolution.errors
    assert error.field == "profile" and error.source is Source.PARTICIPANT
    alone = resolve(participant={"profile": name}, profiles=SHIPPED)
    assert alone.settings == DEFAULTS


def test_unknown_profile_error_lists_the_known_ones():
    [error] = resolve(participant={"profile": "nope"}, profiles=SHIPPED).errors
    assert "nope" in error.message
    for name in SHIPPED.names():
        assert name in error.message


def test_the_default_profile_applies_under_everything_else():
    store = load_directory(DEFAULT_PROFILES_DIR, default_name="patient")
    resolution = resolve(participant={"endpointing_ms": 300}, profiles=store)
    assert resolution.settings.endpointing_ms == 300
    assert resolution.settings.min_endpointing_delay == store.values("patient")[MIN]
    assert resolution.sources[MIN] is Source.DEFAULT_PROFILE
    assert resolution.settings.profile == "patient"


def test_profile_field_cannot_come_from_a_profile_file():
    assert "profile" not in PROFILE_FIELDS and "assistant_id" not in PROFILE_FIELDS


# --- Round trip through metadata ------------------------------------------------------------------

@given(valid_settings(profile=st.one_of(st.none(), st.sampled_from(SHIPPED.names()))),
       st.booleans(), st.booleans())
@settings(max_examples=200)
def test_settings_to_metadata_to_settings_is_identity(original, camel, as_bytes):
    values = original.model_dump()
    participant, operator = split_by_audience(values)
    assert set(participant) == PARTICIPANT_FIELDS and set(operator) == OPERATOR_FIELDS
    if camel:
        to_camel = {name: key for key, name in KEY_ALIASES.items()
                    if key != name and "_" not in key}
        participant = {to_camel.get(k, k): v for k, v in participant.items()}
    text = json.dumps(participant)
    resolution = resolve(participant=text.encode() if as_bytes else text,
                         dispatch=json.dumps(operator), profiles=SHIPPED)
    assert resolution.errors == ()
    assert resolution.settings == original
    for name in FIELDS:
        expected = Source.DISPATCH if name in OPERATOR_FIELDS else Source.PARTICIPANT
        if name != "profile":
            assert resolution.sources[name] is expected


def test_largest_valid_settings_fit_in_metadata():
    """Every field at its longest still fits the 64 KiB limit."""
    longest = VoiceSettings(instructions="\U0001f600" * 8000, greeting="\U0001f600" * 500)
    text = json.dumps(longest.model_dump(), ensure_ascii=False)
    assert len(text.encode()) <= MAX_METADATA_BYTES
    assert resolve(dispatch=text).settings == longest


# --- A running call (previous=) -------------------------------------------------------------------

@given(participant_documents(), participant_documents(), st.data())
@settings(max_examples=150)
def test_mid_call_a_refused_field_keeps_its_previous_value(start, update, data):
    store = SHIPPED
    previous = resolve(participant=start, profiles=store)
    free = sorted(PARTICIPANT_FIELDS - {"profile"} - set(canonical(update)))
    assume(free)
    name = data.draw(st.sampled_from(free), label="name")
    bad = data.draw(hostile_values, label="bad")
    assume(validate_field(name, bad)[1] is not None)
    update = {k: v for k, v in update.items() if k != "profile"}
    resolution = resolve(participant={**update, data.draw(spelling(name)): bad},
                         profiles=store, previous=previous)
    value, source = getattr(resolution.settings, name), resolution.sources[name]
    kept = (value, source) == (getattr(previous.settings, name), previous.sources[name])
    if not kept:  # only a bound may move, to meet a new valid bound from the participant
        other = MAX if name == MIN else MIN
        assert source is Source.ADJUSTED and name in (MIN, MAX)
        assert other in canonical(update)
        assert value == getattr(resolution.settings, other)
    # and the valid values beside it still apply
    for field, given_value in canonical(update).items():
        if resolution.sources[field] is not Source.ADJUSTED:
            assert getattr(resolution.settings, field) == given_value


@given(participant_documents(), st.sampled_from([
    MagicMock(), "[1]", "not json", b"\xff\xfe", '{"a": NaN}', 42,
    json.dumps({"endpointing_ms": 300, "pad": "p" * MAX_METADATA_BYTES}),
]))
@settings(max_examples=50)
def test_mid_call_wholly_rejected_metadata_keeps_all_previous_settings(start, update):
    previous = resolve(participant=start, dispatch={"stt_model": "nova-2"}, profiles=SHIPPED)
    resolution = resolve(participant=update, dispatch={"stt_model": "nova-2"},
                         profiles=SHIPPED, previous=previous)
    assert resolution.settings == previous.settings
    assert dict(resolution.sources) == dict(previous.sources)
    assert [e.source for e in resolution.errors] == [Source.PARTICIPANT]


def test_mid_call_refused_value_does_not_fall_back_to_defaults():
    previous = resolve(participant={"endpointing_ms": 800, "user_away_timeout": 60.0})
    resolution = resolve(participant={"endpointing_ms": "800ms", "user_away_timeout": 60.0},
                         previous=previous)
    assert resolution.settings.endpointing_ms == 800
    assert resolution.sources["endpointing_ms"] is Source.PARTICIPANT
    start = resolve(participant={"endpointing_ms": "800ms"})
    assert start.settings.endpointing_ms == DEFAULTS.endpointing_ms


def test_mid_call_a_new_valid_value_beats_a_bad_dispatch_value():
    """Dispatch metadata is fixed for the job; its refusals must not pin a field the
    participant sets later."""
    dispatch = {"endpointing_ms": "bad"}
    previous = resolve(participant={}, dispatch=dispatch, profiles=SHIPPED)
    resolution = resolve(participant={"endpointing_ms": 300}, dispatch=dispatch,
                         profiles=SHIPPED, previous=previous)
    assert resolution.settings.endpointing_ms == 300
    assert resolution.sources["endpointing_ms"] is Source.PARTICIPANT


def test_mid_call_a_contradictory_pair_keeps_the_previous_bounds():
    previous = resolve(participant={MIN: 1.0, MAX: 4.0})
    resolution = resolve(participant={MIN: 3.0, MAX: 2.0}, previous=previous)
    assert resolution.settings.min_endpointing_delay == 1.0
    assert resolution.settings.max_endpointing_delay == 4.0


def test_mid_call_a_new_valid_bound_beats_a_kept_one():
    previous = resolve(participant={MIN: 1.0})
    resolution = resolve(participant={MIN: "x", MAX: 0.3}, previous=previous)
    assert resolution.settings.max_endpointing_delay == 0.3
    assert resolution.sources[MAX] is Source.PARTICIPANT
    assert resolution.settings.min_endpointing_delay == 0.3
    assert resolution.sources[MIN] is Source.ADJUSTED


def test_mid_call_a_refused_profile_name_keeps_the_profile_in_force():
    previous = resolve(participant={"profile": "patient"}, profiles=SHIPPED)
    resolution = resolve(participant={"profile": "../etc"}, profiles=SHIPPED,
                         previous=previous)
    assert resolution.settings == previous.settings
    unknown = resolve(participant={"profile": "nope"}, profiles=SHIPPED, previous=previous)
    assert unknown.settings == previous.settings


def test_mid_call_clearing_metadata_returns_to_the_lower_sources():
    previous = resolve(participant={"endpointing_ms": 800})
    assert resolve(participant="", previous=previous).settings == DEFAULTS


def test_explain_lists_every_field_with_value_and_source():
    resolution = resolve(participant={"endpointing_ms": 300}, dispatch={"llm_model": "x-1"})
    rows = resolution.explain()
    assert [row[0] for row in rows] == list(FIELDS)
    assert ("endpointing_ms", 300, Source.PARTICIPANT) in rows
    assert ("llm_model", "x-1", Source.DISPATCH) in rows
    assert ("greeting", DEFAULTS.greeting, Source.DEFAULT) in rows


def test_unknown_keys_are_reported_per_source():
    resolution = resolve(participant={"theme": "dark"}, dispatch={"tenant": "a"})
    assert set(resolution.unknown_keys) == {(Source.PARTICIPANT, "theme"),
                                            (Source.DISPATCH, "tenant")}
    assert resolution.errors == ()


def test_the_callers_metadata_is_not_modified():
    participant = {"profile": "patient", "endpointing_ms": 300}
    resolve(participant=participant, profiles=SHIPPED)
    assert participant == {"profile": "patient", "endpointing_ms": 300}


def test_mid_call_dropping_the_profile_is_not_undone_by_a_bad_dispatch_name():
    """Dispatch metadata is fixed for the job: its unknown profile name was refused at the start
    too, so it must not pin the profile the participant has since stopped asking for."""
    dispatch = {"profile": "nope"}
    previous = resolve(participant={"profile": "patient"}, dispatch=dispatch, profiles=SHIPPED)
    resolution = resolve(participant={}, dispatch=dispatch, profiles=SHIPPED, previous=previous)
    assert resolution.settings.profile is None
    assert resolution.settings == resolve(participant={}, dispatch=dispatch,
                                          profiles=SHIPPED).settings


def test_stt_turns_that_could_never_end_get_endpointing_back():
    resolution = resolve(participant={"turn_detection": "stt", "endpointing_ms": 0})
    assert resolution.settings.endpointing_ms == 25
    assert resolution.sources["endpointing_ms"] is Source.ADJUSTED
    [error] = resolution.errors
    assert error.field == "endpointing_ms" and "utterance_end_ms" in error.message
    # with UtteranceEnd, or another turn detection, endpointing may be off
    assert resolve(participant={"turn_detection": "stt", "endpointing_ms": 0,
                                "utterance_end_ms": 1000}).settings.endpointing_ms == 0
    assert resolve(participant={"endpointing_ms": 0}).settings.endpointing_ms == 0


def test_the_precedence_list_is_the_rule_these_tests_check():
    from voice_settings.sources import PRECEDENCE

    assert [rule.source for rule in PRECEDENCE] == sorted(RANK, key=RANK.get)
    assert all(rule.what for rule in PRECEDENCE)


def test_a_profile_chosen_by_voice_outranks_the_profiles_named_in_metadata():
    store = load_directory(DEFAULT_PROFILES_DIR)
    resolution = resolve(participant={"profile": "snappy"}, dispatch={"profile": "dictation"},
                         profiles=store, spoken_profile="patient")
    assert resolution.settings.profile == "patient"
    assert resolution.sources["min_endpointing_delay"] is Source.PROFILE
    assert resolution.settings.min_endpointing_delay == store.values("patient")[
        "min_endpointing_delay"]
    # participant values still sit above any profile
    over = resolve(participant={"minEndpointingDelay": 0.1}, profiles=store,
                   spoken_profile="patient")
    assert over.settings.min_endpointing_delay == 0.1
