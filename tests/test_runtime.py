"""The agent's runtime pieces on their own: attributes, live changes, turn detector, caller."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest

from voice_settings import (
    ProfileStore,
    SettingsError,
    Source,
    VoiceSettings,
    attributes,
    resolve,
    turn_detector,
)
from voice_settings.call import caller_identity
from voice_settings.live import LiveSettings

PROFILES = ProfileStore.load()


def participant(identity: str = "alice") -> SimpleNamespace:
    return SimpleNamespace(identity=identity)


def live_settings(metadata: object = "", switchable: tuple[str, ...] = ("patient",)):
    resolution = resolve(participant=metadata, profiles=PROFILES)
    return LiveSettings(identity="alice", resolution=resolution, participant_metadata=metadata,
                        dispatch_metadata="", profiles=PROFILES, switchable_profiles=switchable)


# --- attributes ---------------------------------------------------------------------------

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


# --- live changes -------------------------------------------------------------------------

def test_console_style_metadata_gives_defaults_and_an_error():
    console = MagicMock()  # what console mode hands the agent
    live = live_settings(console)

    assert live.current.settings == resolve(profiles=PROFILES).settings
    assert [e.field for e in live.errors] == ["(metadata)"]
    live.on_metadata_changed(participant(), console, MagicMock())
    assert live.current.settings == resolve(profiles=PROFILES).settings


def test_a_change_is_pending_until_the_next_session():
    live = live_settings(json.dumps({"endpointingMs": 300}))
    live.on_metadata_changed(participant(), "", json.dumps({"endpointingMs": 900,
                                                            "systemPrompt": "New."}))
    assert live.pending() == {"endpointing_ms": 900}
    assert live.started.endpointing_ms == 300
    assert live.current.settings.instructions == "New."


def test_another_participant_changes_nothing():
    live = live_settings(json.dumps({"systemPrompt": "Mine."}))
    live.on_metadata_changed(participant("bob"), "", json.dumps({"systemPrompt": "Bob's."}))
    assert live.current.settings.instructions == "Mine."


async def test_the_worker_applies_the_latest_and_survives_a_failing_apply(caplog):
    caplog.set_level(logging.ERROR, logger="voice_settings.live")
    applied, publications = [], []
    fail_once = [True]

    async def apply(text: str) -> None:
        if fail_once.pop() if fail_once else False:
            raise RuntimeError("LLM session gone")
        applied.append(text)

    async def publish(attrs: dict[str, str]) -> None:
        publications.append(attrs)

    live = live_settings(json.dumps({"systemPrompt": "Start."}))
    live.start(apply, publish)
    live.on_metadata_changed(participant(), "", json.dumps({"systemPrompt": "One."}))
    await asyncio.wait_for(live.idle.wait(), 5)
    assert applied == [] and "could not apply instructions" in caplog.text
    in_force = json.loads(publications[-1][attributes.SETTINGS])["instructions_sha256"]
    assert in_force == attributes.instructions_digest("Start."), "must not claim 'One.'"

    for n in range(5):
        live.on_metadata_changed(participant(), "", json.dumps({"systemPrompt": f"N{n}."}))
    live.idle.clear()
    await asyncio.wait_for(live.idle.wait(), 5)
    await live.aclose()
    assert applied[-1] == "N4." and len(applied) <= 5
    assert json.loads(publications[-1][attributes.SETTINGS])["instructions_sha256"] == (
        attributes.instructions_digest("N4."))


def test_a_voice_switch_is_undone_when_the_app_picks_a_profile_again():
    live = live_settings(json.dumps({"profile": "snappy"}), switchable=("patient", "dictation"))
    live.switch_profile("patient")
    assert live.current.settings.profile == "patient"

    # a change to another field keeps the spoken choice...
    live.on_metadata_changed(participant(), "", json.dumps({"profile": "snappy", "x": 1}))
    assert live.current.settings.profile == "patient"
    # ...a new profile from the app replaces it
    live.on_metadata_changed(participant(), "", json.dumps({"profile": "dictation"}))
    assert live.current.settings.profile == "dictation"


def test_a_refused_voice_switch_changes_nothing():
    live = live_settings(json.dumps({"profile": "snappy"}), switchable=("patient",))
    before = live.current
    reply = live.switch_profile("dictation")
    assert "Cannot switch" in reply and "patient" in reply
    assert live.current is before
    assert [e.field for e in live.errors] == ["profile"]


# --- turn detector ------------------------------------------------------------------------

def test_without_downloaded_files_the_bundled_detector_is_used_with_one_warning(
        caplog, monkeypatch):
    monkeypatch.setattr(turn_detector, "_warned", False)
    caplog.set_level(logging.WARNING, logger="voice_settings.turn_detector")
    assert not turn_detector.multilingual_model_downloaded()

    first, name = turn_detector.load_turn_detector()
    second, _ = turn_detector.load_turn_detector()

    assert name == turn_detector.BUNDLED and first.model == "turn-detector-v1-mini"
    assert second is not first
    warnings = [r for r in caplog.records if r.name == "voice_settings.turn_detector"]
    assert len(warnings) == 1 and "download-files" in warnings[0].getMessage()


# --- the caller ---------------------------------------------------------------------------

@pytest.mark.parametrize("dispatch, identity", [
    ('{"participant_identity": "carol"}', "carol"),
    ({"participantIdentity": "dave"}, "dave"),
    ('{"participant_identity": "  "}', None),
    ('{"participant_identity": 7}', None),
    ("not json", None),
    (MagicMock(), None),
    ("", None),
])
def test_the_dispatch_may_name_the_caller(dispatch, identity):
    assert caller_identity(dispatch) == identity


@pytest.mark.parametrize("raw, seconds", [("30", 30.0), ("0.5", 0.5), ("soon", 120.0),
                                          ("-1", 120.0), ("inf", 120.0), ("nan", 120.0)])
def test_the_participant_wait_is_configurable_and_never_invalid(monkeypatch, raw, seconds):
    import agent

    monkeypatch.setenv("PARTICIPANT_WAIT_TIMEOUT", raw)
    assert agent.participant_wait_timeout() == seconds
