"""changes: what a change means, per field: old, new, and whether it applies now or next session."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import MAX, MIN, valid_settings
from voice_settings.changes import FieldChange, diff, pending_fields
from voice_settings.model import (
    FIELDS,
    LIVE,
    LIVE_FIELDS,
    NEXT_SESSION,
    NEXT_SESSION_FIELDS,
    VoiceSettings,
    silent_turn_end,
)
from voice_settings.profiles import DEFAULT_PROFILES_DIR
from voice_settings.resolution import resolve
from voice_settings.sources import Source
from voice_settings.store import load_directory

SHIPPED = load_directory(DEFAULT_PROFILES_DIR, default_name="default")


def test_every_field_is_either_live_or_next_session():
    assert set(FIELDS) == LIVE_FIELDS | NEXT_SESSION_FIELDS
    assert not LIVE_FIELDS & NEXT_SESSION_FIELDS


def test_only_the_prompt_is_live():
    """Changing Deepgram or turn-taking options mid-call reconnects or races the turn logic."""
    assert {"instructions"} == LIVE_FIELDS


@given(valid_settings())
def test_equal_settings_report_nothing(s):
    assert diff(s, s) == []
    assert diff(s, s.model_copy()) == []
    assert pending_fields(s, s) == {}


@given(valid_settings(), valid_settings(), st.data())
def test_diff_lists_exactly_the_fields_that_differ(a, b, data):
    # Mix the two so that some fields are equal and some differ.
    keep = data.draw(st.sets(st.sampled_from(FIELDS)))
    mixed = {n: getattr(a if n in keep else b, n) for n in FIELDS}
    if mixed[MIN] > mixed[MAX]:
        mixed[MIN], mixed[MAX] = a.min_endpointing_delay, a.max_endpointing_delay
    turn_end = ("turn_detection", "endpointing_ms", "utterance_end_ms")
    if silent_turn_end(*(mixed[n] for n in turn_end)):  # a mix a can't hold: take a's three
        mixed.update({n: getattr(a, n) for n in turn_end})
    b = type(a).model_validate(mixed)
    changes = diff(a, b)
    assert [c.field for c in changes] == [n for n in FIELDS if getattr(a, n) != getattr(b, n)]
    for change in changes:
        assert change.old == getattr(a, change.field)
        assert change.new == getattr(b, change.field)
        assert change.applies == (LIVE if change.field in LIVE_FIELDS else NEXT_SESSION)
        assert change.live is (change.field in LIVE_FIELDS)
    reverse = diff(b, a)
    assert [(c.field, c.old, c.new) for c in reverse] == [(c.field, c.new, c.old) for c in changes]
    assert pending_fields(a, b) == {c.field: c.new for c in changes if not c.live}


def test_one_change_in_detail():
    a = resolve().settings
    b = a.model_copy(update={"endpointing_ms": 300, "instructions": "Be brief."})
    assert diff(a, b) == [
        FieldChange("endpointing_ms", 25, 300, NEXT_SESSION),
        FieldChange("instructions", a.instructions, "Be brief.", LIVE),
    ]
    assert pending_fields(a, b) == {"endpointing_ms": 300}


def test_field_change_is_immutable():
    change = FieldChange("instructions", "a", "b", LIVE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.new = "c"  # type: ignore[misc]


def test_switching_profile_mid_call_applies_instructions_now_and_defers_timing():
    start = resolve(participant={}, profiles=SHIPPED)
    switched = resolve(participant={"profile": "patient"}, profiles=SHIPPED, previous=start)
    patient = SHIPPED.values("patient")
    changes = {c.field: c for c in diff(start.settings, switched.settings)}

    assert changes["instructions"].live
    assert changes["instructions"].new == patient["instructions"]
    assert switched.sources["instructions"] is Source.PROFILE
    for field in ("endpointing_ms", "utterance_end_ms", MIN, MAX, "min_interruption_duration",
                  "min_interruption_words", "user_away_timeout", "greeting"):
        assert not changes[field].live, field
        assert changes[field].old == getattr(start.settings, field)
        assert changes[field].new == patient[field]
    assert changes["profile"] == FieldChange("profile", "default", "patient", NEXT_SESSION)
    pending = pending_fields(start.settings, switched.settings)
    assert "instructions" not in pending
    assert pending[MIN] == patient[MIN]


def test_switching_back_mid_call_reports_the_reverse():
    start = resolve(participant={"profile": "snappy"}, profiles=SHIPPED)
    back = resolve(participant={}, profiles=SHIPPED, previous=start)
    changes = {c.field: c for c in diff(start.settings, back.settings)}
    assert "instructions" not in SHIPPED.values("default")
    assert changes["instructions"].new == VoiceSettings().instructions
    assert changes["instructions"].old == SHIPPED.values("snappy")["instructions"]
    assert changes["endpointing_mode"].old == "dynamic" and not changes["endpointing_mode"].live
