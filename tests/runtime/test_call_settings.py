"""The call's settings on their own: decisions about changes, synchronous, no framework."""

from __future__ import annotations

import json
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest

from voice_settings import json_input, resolve
from voice_settings.runtime.call_settings import CallSettings
from voice_settings.store import load_directory

PROFILES = load_directory()


def participant(identity: str = "alice") -> SimpleNamespace:
    return SimpleNamespace(identity=identity)


def call_settings(metadata: object = "", switchable: tuple[str, ...] = ("patient",),
                  dispatch: object = "") -> CallSettings:
    return CallSettings(identity="alice", participant_metadata=metadata,
                        dispatch_metadata=dispatch, profiles=PROFILES,
                        switchable_profiles=switchable)


def test_console_style_metadata_gives_defaults_and_an_error():
    console = MagicMock()  # what console mode hands the agent
    call = call_settings(console)

    assert call.current.settings == resolve(profiles=PROFILES).settings
    assert [e.field for e in call.errors] == ["(metadata)"]
    call.on_metadata_changed(participant(), console, MagicMock())
    assert call.current.settings == resolve(profiles=PROFILES).settings


def test_a_change_is_pending_until_the_next_session():
    call = call_settings(json.dumps({"endpointingMs": 300}))
    changes = call.metadata_changed(json.dumps({"endpointingMs": 900, "systemPrompt": "New."}))
    assert {c.field: c.live for c in changes} == {"endpointing_ms": False, "instructions": True}
    assert call.pending() == {"endpointing_ms": 900}
    assert call.started.endpointing_ms == 300
    assert call.current.settings.instructions == "New."


def test_another_participant_changes_nothing():
    call = call_settings(json.dumps({"systemPrompt": "Mine."}))
    call.on_metadata_changed(participant("bob"), "", json.dumps({"systemPrompt": "Bob's."}))
    assert call.current.settings.instructions == "Mine."


def test_every_decision_notifies_the_listener():
    notified = []
    call = CallSettings(identity="alice", participant_metadata="", dispatch_metadata="",
                        profiles=PROFILES, switchable_profiles=("patient",),
                        on_change=lambda: notified.append(call.current.settings.instructions))
    call.metadata_changed(json.dumps({"systemPrompt": "One."}))
    call.metadata_changed("not json")  # rejected: still a decision the app must see
    call.switch_profile("nope")
    assert notified == ["One.", "One.", "One."]


def test_a_metadata_change_is_json_decoded_once(monkeypatch):
    decoded = []
    real = json_input.read_json_object

    def counting(data, **kwargs):
        decoded.append(data)
        return real(data, **kwargs)

    call = call_settings(json.dumps({"profile": "snappy"}), switchable=("patient",),
                         dispatch=json.dumps({"llm_model": "gpt-4o"}))
    monkeypatch.setattr(json_input, "read_json_object", counting)
    monkeypatch.setattr("voice_settings.parsing.read_json_object", counting)
    call.switch_profile("patient")
    assert decoded == []  # a voice switch re-reads nothing
    change = json.dumps({"profile": "dictation", "systemPrompt": "Dictate."})
    call.metadata_changed(change)
    assert decoded == [change]
    assert call.current.settings.instructions == "Dictate."
    assert call.current.settings.llm_model == "gpt-4o"  # the dispatch still counts


def test_a_voice_switch_is_undone_when_the_app_picks_a_profile_again():
    call = call_settings(json.dumps({"profile": "snappy"}), switchable=("patient", "dictation"))
    call.switch_profile("patient")
    assert call.current.settings.profile == "patient"

    # a change to another field keeps the spoken choice...
    call.metadata_changed(json.dumps({"profile": "snappy", "x": 1}))
    assert call.current.settings.profile == "patient"
    # ...unreadable metadata changes nothing...
    call.metadata_changed("{broken")
    assert call.current.settings.profile == "patient"
    # ...a new profile from the app replaces it
    call.metadata_changed(json.dumps({"profile": "dictation"}))
    assert call.current.settings.profile == "dictation"


def test_a_refused_voice_switch_changes_nothing():
    call = call_settings(json.dumps({"profile": "snappy"}), switchable=("patient",))
    before = call.current
    reply = call.switch_profile("dictation")
    assert "Cannot switch" in reply and "patient" in reply
    assert call.current is before
    assert [e.field for e in call.errors] == ["profile"]


@pytest.mark.parametrize("bad", ["{", "[]", '{"endpointingMs": 90000, "systemPrompt": "Keep me."}',
                                 MagicMock(), b"\xff"])
def test_bad_input_mid_call_keeps_the_settings_in_force(bad):
    call = call_settings(json.dumps({"endpointingMs": 300, "systemPrompt": "Keep me."}))
    before = call.current.settings
    call.metadata_changed(bad)
    assert call.current.settings == before
    assert call.errors
