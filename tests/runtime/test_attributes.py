"""What the app is told: the agent's attributes stay small and say what is in force."""

from __future__ import annotations

import json

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
