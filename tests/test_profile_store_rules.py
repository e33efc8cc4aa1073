"""Three profile-store rules: a profiles directory that was asked for must exist; a named profile
must be valid over the default profile; unit hints only where a unit mix-up is likely."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import valid_values
from voice_settings import profiles as profiles_module
from voice_settings.model import PROFILE_FIELDS, VoiceSettings
from voice_settings.profiles import (
    DEFAULT_PROFILE_ENV,
    PROFILES_DIR_ENV,
    ProfileError,
    profile_toml,
)
from voice_settings.resolution import resolve
from voice_settings.sources import Source
from voice_settings.store import load_directory


@pytest.fixture(autouse=True)
def no_profile_env(monkeypatch):
    monkeypatch.delenv(DEFAULT_PROFILE_ENV, raising=False)
    monkeypatch.delenv(PROFILES_DIR_ENV, raising=False)


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- (1) A profiles directory that was asked for must exist -----------------------------------

def test_a_missing_directory_given_as_argument_fails_naming_it(tmp_path):
    missing = tmp_path / "no-such-profiles"
    with pytest.raises(ProfileError) as caught:
        load_directory(missing)
    assert caught.value.path == str(missing)
    assert str(missing) in str(caught.value) and "does not exist" in str(caught.value)


def test_a_missing_directory_given_by_environment_fails_naming_it(tmp_path, monkeypatch):
    missing = tmp_path / "typo"
    monkeypatch.setenv(PROFILES_DIR_ENV, str(missing))
    with pytest.raises(ProfileError) as caught:
        load_directory()
    assert caught.value.path == str(missing)


def test_a_file_is_not_a_profiles_directory(tmp_path):
    not_a_dir = write(tmp_path, "default", "endpointing_ms = 25\n")
    with pytest.raises(ProfileError) as caught:
        load_directory(not_a_dir)
    assert caught.value.path == str(not_a_dir)


def test_the_argument_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(PROFILES_DIR_ENV, str(tmp_path / "missing"))
    write(tmp_path / "given", "calm", "min_endpointing_delay = 1.0\n")
    assert load_directory(tmp_path / "given").names() == ["calm"]


def test_an_empty_existing_directory_is_fine(tmp_path):
    store = load_directory(tmp_path)
    assert (store.names(), store.default_name) == ([], None)


def test_the_built_in_directory_may_be_missing(tmp_path, monkeypatch):
    """A deployment without profiles/ runs on the built-in defaults."""
    monkeypatch.setattr(profiles_module, "DEFAULT_PROFILES_DIR", tmp_path / "absent")
    for store in (load_directory(), load_directory(None)):
        assert (store.names(), store.default_name) == ([], None)
        assert store.directory == tmp_path / "absent"
        resolution = resolve(participant='{"endpointing_ms": 300}', profiles=store)
        assert resolution.errors == ()
        assert resolution.settings == VoiceSettings(endpointing_ms=300)


def test_an_empty_environment_variable_means_unset(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles_module, "DEFAULT_PROFILES_DIR", tmp_path / "absent")
    monkeypatch.setenv(PROFILES_DIR_ENV, "")
    assert load_directory().names() == []


# --- (2) A named profile must be valid over the default profile --------------------------------

def test_a_minimum_above_the_defaults_maximum_fails_naming_the_named_file(tmp_path):
    write(tmp_path, "default", "max_endpointing_delay = 2.0\n")
    named = write(tmp_path, "patient", "min_endpointing_delay = 2.5\n")
    VoiceSettings.model_validate({"min_endpointing_delay": 2.5})  # valid on its own
    with pytest.raises(ProfileError) as caught:
        load_directory(tmp_path)
    assert caught.value.path == str(named)
    message = str(caught.value)
    assert "over the default profile 'default'" in message
    assert "min_endpointing_delay (2.5 s)" in message and "max_endpointing_delay (2 s)" in message


def test_endpointing_off_under_an_stt_default_without_utterance_end_fails(tmp_path):
    write(tmp_path, "default", 'turn_detection = "stt"\nutterance_end_ms = "off"\n')
    named = write(tmp_path, "dictation", "endpointing_ms = 0\n")
    with pytest.raises(ProfileError) as caught:
        load_directory(tmp_path)
    assert caught.value.path == str(named)
    assert 'turn_detection "stt"' in str(caught.value)
    assert "endpointing_ms 0" in str(caught.value)


@pytest.mark.parametrize("text", [
    "min_endpointing_delay = 2.5\nmax_endpointing_delay = 4.0\n",  # brings its own maximum
    "min_endpointing_delay = 2.0\n",                                 # equal is allowed
    "endpointing_ms = 0\nutterance_end_ms = 1500\n",                 # brings its own turn end
    'endpointing_ms = 0\nturn_detection = "vad"\n',
])
def test_a_named_profile_that_completes_itself_loads(tmp_path, text):
    write(tmp_path, "default", 'max_endpointing_delay = 2.0\nturn_detection = "stt"\n')
    write(tmp_path, "named", text)
    store = load_directory(tmp_path)
    assert resolve(participant={"profile": "named"}, profiles=store).errors == ()


def test_without_a_default_profile_nothing_is_checked_over_it(tmp_path):
    write(tmp_path, "base", "max_endpointing_delay = 2.0\n")
    write(tmp_path, "patient", "min_endpointing_delay = 2.5\n")
    store = load_directory(tmp_path)
    assert store.default_name is None
    assert store.names() == ["base", "patient"]


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_the_configured_default_is_the_one_checked(tmp_path, monkeypatch, how):
    write(tmp_path, "base", "max_endpointing_delay = 2.0\n")
    write(tmp_path, "default", "max_endpointing_delay = 6.0\n")
    named = write(tmp_path, "patient", "min_endpointing_delay = 2.5\n")
    assert load_directory(tmp_path).default_name == "default"  # loads: 2.5 <= 6
    if how == "environment":
        monkeypatch.setenv(DEFAULT_PROFILE_ENV, "base")
    with pytest.raises(ProfileError) as caught:
        load_directory(tmp_path, "base" if how == "argument" else None)
    assert caught.value.path == str(named)
    assert "'base'" in str(caught.value)


CONFLICT_PRONE = {
    "min_endpointing_delay": st.sampled_from([0.5, 2.5, 2.5]),
    "max_endpointing_delay": st.sampled_from([0.5, 2.0, 6.0]),
    "endpointing_ms": st.sampled_from([0, 25, 300]),
    "turn_detection": st.sampled_from(["model", "vad", "stt"]),
    "utterance_end_ms": st.sampled_from([None, 1000]),
}


@st.composite
def lone_profiles(draw: st.DrawFn) -> dict:
    """Values valid on their own (over the built-in defaults), often in conflict with others."""
    values = draw(valid_values(PROFILE_FIELDS - set(CONFLICT_PRONE)))
    for name, choices in CONFLICT_PRONE.items():
        if draw(st.booleans()):
            values[name] = draw(choices)
    for dropped in (("min_endpointing_delay", "max_endpointing_delay"), ("endpointing_ms",)):
        if _invalid(values):
            for name in dropped:
                values.pop(name, None)
    VoiceSettings.model_validate(values)
    return values


@given(st.fixed_dictionaries({"alpha": lone_profiles()},
                             optional={"default": lone_profiles(), "beta": lone_profiles()}))
@settings(max_examples=100, deadline=None)
def test_a_store_that_loads_gives_every_call_a_conflict_free_profile(profiles):
    """The point of the rule: picking any profile never makes resolve adjust or report."""
    with tempfile.TemporaryDirectory() as directory:
        for name, values in profiles.items():
            write(Path(directory), name, profile_toml(values))
        conflicts = "default" in profiles and any(
            _invalid({**profiles["default"], **values}) for values in profiles.values())
        if conflicts:
            with pytest.raises(ProfileError, match="over the default profile"):
                load_directory(directory)
            return
        store = load_directory(directory)
    for name in profiles:
        resolution = resolve(participant={"profile": name}, profiles=store)
        assert resolution.errors == ()
        assert resolution.sources["profile"] in (Source.PROFILE, Source.DEFAULT_PROFILE)
        assert Source.ADJUSTED not in resolution.sources.values()


def _invalid(values: dict) -> bool:
    try:
        VoiceSettings.model_validate(values)
    except ValueError:
        return True
    return False


# --- (3) Unit hints reach profile errors too ---------------------------------------------

# The hints themselves are specified in test_parsing.py.

def test_the_hint_reaches_profile_errors_and_metadata_errors(tmp_path):
    write(tmp_path, "slow", "min_endpointing_delay = 500\n")
    with pytest.raises(ProfileError, match=r"min_endpointing_delay: .*Did you mean 0\.5\?"):
        load_directory(tmp_path)
    errors = resolve(participant='{"minEndpointingDelay": 500, "maxEndpointingDelay": 12}').errors
    hints = {e.field: "Did you mean" in e.message for e in errors}
    assert hints == {"min_endpointing_delay": True, "max_endpointing_delay": False}
