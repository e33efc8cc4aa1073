"""profiles: operator presets in TOML, validated strictly, loud when broken."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import MAX, MIN, valid_settings
from voice_settings.model import PROFILE_FIELDS, VoiceSettings
from voice_settings.parsing import validate_field
from voice_settings.profiles import (
    DEFAULT_PROFILE_ENV,
    DEFAULT_PROFILES_DIR,
    PROFILES_DIR_ENV,
    ProfileError,
    ProfileStore,
    profile_from_bytes,
    profile_toml,
    settings_to_profile,
    validate_profile,
)
from voice_settings.resolution import resolve
from voice_settings.sources import Source
from voice_settings.store import DirectoryBackend, load_directory, load_strict
from voice_settings.store.directory import MAX_FILE_BYTES

SHIPPED_NAMES = ["default", "dictation", "patient", "snappy"]
DEFAULTS = VoiceSettings()


@pytest.fixture(autouse=True)
def no_profile_env(monkeypatch):
    monkeypatch.delenv(DEFAULT_PROFILE_ENV, raising=False)
    monkeypatch.delenv(PROFILES_DIR_ENV, raising=False)


@pytest.fixture
def shipped() -> ProfileStore:
    return load_directory()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def effective(store: ProfileStore, name: str) -> VoiceSettings:
    return resolve(participant={"profile": name}, profiles=store).settings


# --- The shipped profiles -------------------------------------------------------------------------

def test_shipped_profiles_load_strictly(shipped):
    assert shipped.names() == SHIPPED_NAMES
    assert shipped.default_name == "default"
    assert shipped.directory == DEFAULT_PROFILES_DIR
    for name in SHIPPED_NAMES:
        assert shipped.descriptions[name], name
        text = (DEFAULT_PROFILES_DIR / f"{name}.toml").read_text()
        header = text.split("\n")[0]
        assert header.startswith(f"# {name}:"), "each profile opens with who it is for"
        assert "Why:" in text
        assert resolve(participant={"profile": name}, profiles=shipped).errors == ()


def test_default_profile_is_the_built_in_defaults(shipped):
    """Its comment: LiveKit's own defaults, with Deepgram's plugin endpointing of 25 ms."""
    assert effective(shipped, "default").model_dump(exclude={"profile"}) == DEFAULTS.model_dump(
        exclude={"profile"})
    assert shipped.values("default")["endpointing_ms"] == 25
    assert shipped.values("default")[MAX] == 3.0  # the p95 mid-turn pause of 2.5 s, rounded up


def test_patient_waits_longer_and_is_harder_to_interrupt(shipped):
    patient = effective(shipped, "patient")
    assert 300 <= patient.endpointing_ms <= 500  # Deepgram's advice for speakers who pause
    assert patient.endpointing_ms > DEFAULTS.endpointing_ms
    assert patient.min_endpointing_delay > DEFAULTS.min_endpointing_delay
    assert patient.max_endpointing_delay > DEFAULTS.max_endpointing_delay
    assert patient.min_interruption_duration > DEFAULTS.min_interruption_duration  # "mm-hm"
    assert patient.min_interruption_words > DEFAULTS.min_interruption_words
    assert patient.user_away_timeout > DEFAULTS.user_away_timeout
    assert patient.allow_interruptions
    assert "patient" in patient.instructions.lower()


def test_snappy_answers_sooner_and_is_easier_to_interrupt(shipped):
    snappy = effective(shipped, "snappy")
    assert snappy.endpointing_ms < DEFAULTS.endpointing_ms
    assert snappy.min_endpointing_delay < DEFAULTS.min_endpointing_delay
    assert snappy.max_endpointing_delay < DEFAULTS.max_endpointing_delay
    assert snappy.endpointing_mode == "dynamic"
    assert snappy.min_interruption_duration < DEFAULTS.min_interruption_duration
    assert snappy.false_interruption_timeout < DEFAULTS.false_interruption_timeout
    assert snappy.preemptive_generation and snappy.allow_interruptions


def test_dictation_waits_longest_and_disallows_interruptions(shipped):
    dictation = effective(shipped, "dictation")
    assert dictation.allow_interruptions is False
    assert dictation.false_interruption_timeout is None
    assert dictation.preemptive_generation is False
    assert dictation.endpointing_ms == 1500 and dictation.utterance_end_ms == 3000
    assert dictation.min_endpointing_delay == 2.5 and dictation.max_endpointing_delay == 8.0
    assert dictation.user_away_timeout == 60.0
    for other in ("default", "patient", "snappy"):
        assert dictation.min_endpointing_delay > effective(shipped, other).min_endpointing_delay


def test_profile_values_are_reported_with_their_source(shipped):
    resolution = resolve(participant={"profile": "patient"}, profiles=shipped)
    assert resolution.sources[MIN] is Source.PROFILE
    assert resolution.sources["stt_model"] is Source.DEFAULT  # not in any profile
    assert resolution.sources["endpointing_mode"] is Source.DEFAULT


# --- Which profile is the default ---------------------------------------------------------------

def test_default_profile_can_be_chosen_by_argument(shipped):
    store = load_directory(DEFAULT_PROFILES_DIR, default_name="patient")
    assert store.default_name == "patient"
    resolution = resolve(profiles=store)
    assert resolution.settings.min_endpointing_delay == shipped.values("patient")[MIN]
    assert resolution.sources[MIN] is Source.DEFAULT_PROFILE


def test_default_profile_can_be_chosen_by_environment(monkeypatch):
    monkeypatch.setenv(DEFAULT_PROFILE_ENV, "snappy")
    assert load_directory().default_name == "snappy"
    assert load_directory(default_name="patient").default_name == "patient"  # argument wins


@pytest.mark.parametrize("how", ["argument", "environment"])
@pytest.mark.parametrize("name", ["missing", "../default", "Default"])
def test_a_configured_default_that_does_not_exist_fails_loudly(monkeypatch, how, name):
    if how == "environment":
        monkeypatch.setenv(DEFAULT_PROFILE_ENV, name)
    with pytest.raises(ProfileError) as raised:
        load_directory(DEFAULT_PROFILES_DIR, default_name=name if how == "argument" else None)
    assert name in str(raised.value)


def test_without_a_default_file_there_is_no_default_profile(tmp_path):
    write(tmp_path, "calm", "min_endpointing_delay = 1.0\n")
    store = load_directory(tmp_path)
    assert store.default_name is None
    assert resolve(profiles=store).settings == DEFAULTS


def test_profiles_directory_from_environment(monkeypatch, tmp_path):
    write(tmp_path, "calm", "min_endpointing_delay = 1.0\n")
    monkeypatch.setenv(PROFILES_DIR_ENV, str(tmp_path))
    assert load_directory().names() == ["calm"]


def test_names_and_values_are_copies(shipped):
    shipped.values("patient")[MIN] = 4.9
    assert shipped.values("patient")[MIN] != 4.9
    assert "patient" in shipped and "../patient" not in shipped and None not in shipped


# --- Strict validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, field, words", [
    ("endpointing_ms = 300\nmin_endpointing_delay = [", None, ["not valid TOML"]),
    ("endpointing_ms = 300\nendpointing_ms = 400\n", None, ["not valid TOML"]),
    ("endpointingms = 300\n", "endpointingms", ["not a profile setting", "endpointing_ms"]),
    ("endpointngMs = 300\n", "endpointngMs", ["not a profile setting",
                                               "did you mean endpointing_ms?"]),
    ("profile = \"snappy\"\n", "profile", ["not a profile setting"]),
    ("assistant_id = \"a\"\n", "assistant_id", ["not a profile setting"]),
    ("endpointing_ms = 6000\n", "endpointing_ms", ["6000", "5000 ms"]),
    ("min_endpointing_delay = 500\n", "min_endpointing_delay", ["500", "Did you mean 0.5?"]),
    ("utterance_end_ms = 500\n", "utterance_end_ms", ["500", "1000 ms"]),
    ("allow_interruptions = \"no\"\n", "allow_interruptions", ["true or false"]),
    ("endpointing_ms = \"300\"\n", "endpointing_ms", ["text, not a number"]),
    ("false_interruption_timeout = false\n", "false_interruption_timeout", ['"off"']),
    ("min_endpointing_delay = nan\n", "min_endpointing_delay", ["finite"]),
    ("max_endpointing_delay = inf\n", "max_endpointing_delay", ["finite"]),
    ("turn_detection = \"semantic\"\n", "turn_detection", ["model, vad, stt"]),
    ("instructions = \"   \"\n", "instructions", ["empty"]),
    ("endpointing_ms = 1979-05-27\n", "endpointing_ms", ["endpointing_ms"]),
    ("[endpointing_ms]\nvalue = 3\n", "endpointing_ms", ["endpointing_ms"]),
    ("description = 3\n", "description", ["text"]),
    ("min_endpointing_delay = 2.0\nmax_endpointing_delay = 1.0\n", None,
     ["min_endpointing_delay", "max_endpointing_delay"]),
    ("min_endpointing_delay = 4.0\n", None, ["min_endpointing_delay", "3 s"]),
])
def test_a_broken_profile_fails_naming_file_field_and_problem(tmp_path, text, field, words):
    path = write(tmp_path, "broken", text)
    write(tmp_path, "fine", "endpointing_ms = 300\n")
    with pytest.raises(ProfileError) as raised:
        load_directory(tmp_path)
    error = raised.value
    assert error.path == str(path)
    assert str(path) in str(error)
    assert error.field == field
    if field:
        assert f"{field}: " in str(error)
    for word in words:
        assert word in str(error)


@pytest.mark.parametrize("file_name", ["Bad Name", "UPPER", "-dash", "a.b", "x" * 65,
                                       ".#patient", ".hidden"])
def test_a_file_whose_name_is_not_a_profile_name_is_skipped_with_one_log_line(
        tmp_path, file_name, caplog):
    write(tmp_path, "calm", "endpointing_ms = 300\n")
    path = write(tmp_path, file_name, "endpointing_ms = 300\n")
    caplog.set_level(logging.WARNING)
    backend = DirectoryBackend(tmp_path)
    assert load_strict(backend).names() == ["calm"]
    assert load_strict(backend).names() == ["calm"]  # read again: no second line
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and str(path) in lines[0] and "not a profile name" in lines[0]


def test_directories_and_broken_or_looping_links_are_skipped(tmp_path, caplog):
    write(tmp_path, "calm", "endpointing_ms = 300\n")
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "nowhere.toml")
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    (tmp_path / "linked.toml").symlink_to(tmp_path / "calm.toml")  # a link to a file counts
    caplog.set_level(logging.WARNING)
    assert load_directory(tmp_path).names() == ["calm", "linked"]
    reasons = {Path(r.file).name: r.reason for r in caplog.records}
    assert reasons == {"folder.toml": "a directory", "dangling.toml": "a link to nothing",
                       "loop.toml": "a link that loops"}


def test_an_empty_file_is_a_broken_profile_not_an_empty_one(tmp_path):
    path = write(tmp_path, "calm", "")
    with pytest.raises(ProfileError, match="empty") as raised:
        load_directory(tmp_path)
    assert raised.value.path == str(path)
    assert profile_toml({}) and profile_from_bytes(path, profile_toml({}).encode()) == ({}, "")


def test_a_file_over_the_size_cap_is_refused_without_reading_it_whole(tmp_path):
    path = write(tmp_path, "huge", "# " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ProfileError, match="limit") as raised:
        load_directory(tmp_path)
    assert raised.value.path == str(path)


def test_an_undecodable_profile_fails_naming_the_file(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'greeting = "caf\xe9"\n')
    with pytest.raises(ProfileError) as raised:
        load_directory(tmp_path)
    assert raised.value.path == str(path)


def test_other_files_are_not_profiles(tmp_path):
    (tmp_path / "notes.txt").write_text("not a profile")
    (tmp_path / "README.md").write_text("# profiles")
    write(tmp_path, "calm", "# calm: the defaults\n")
    assert load_directory(tmp_path).names() == ["calm"]


def test_off_disables_in_a_profile(tmp_path):
    write(tmp_path, "quiet", 'user_away_timeout = "off"\nutterance_end_ms = "OFF"\n')
    assert load_directory(tmp_path).values("quiet") == {"user_away_timeout": None,
                                                           "utterance_end_ms": None}


def test_profiles_accept_operator_fields(tmp_path):
    write(tmp_path, "german", 'stt_language = "de"\nllm_model = "gpt-4.1"\ntts_voice = "nova"\n')
    store = load_directory(tmp_path)
    settings_ = resolve(participant={"profile": "german"}, profiles=store).settings
    assert (settings_.stt_language, settings_.llm_model, settings_.tts_voice) == (
        "de", "gpt-4.1", "nova")


# --- Writing profiles ---------------------------------------------------------------------------

@given(valid_settings(), st.text(max_size=40), st.text(max_size=80))
@settings(max_examples=150)
def test_settings_to_toml_profile_to_settings_is_identity(s, description, comment):
    text = profile_toml(settings_to_profile(s), description, comment)
    document = tomllib.loads(text)
    values, read_description = validate_profile("generated.toml", document)
    assert values == settings_to_profile(s)
    assert read_description == description
    assert VoiceSettings(**values, profile=s.profile, assistant_id=s.assistant_id) == s
    assert set(values) == PROFILE_FIELDS


def test_a_written_profile_loads_from_disk(tmp_path):
    s = VoiceSettings(utterance_end_ms=None, user_away_timeout=None, instructions='Say "hi"\n\t!')
    comment = "calm: written by a test\n\nfor people who pause"
    path = write(tmp_path, "calm", profile_toml(settings_to_profile(s), "Calm", comment))
    assert path.read_text().startswith("# calm: written by a test\n#\n# for people")
    store = load_directory(tmp_path)
    assert store.descriptions["calm"] == "Calm"
    assert resolve(participant={"profile": "calm"}, profiles=store).settings == s.model_copy(
        update={"profile": "calm"})


# Text that stresses a TOML string writer: runs of spaces and tabs around line breaks, quotes
# and backslashes (also at the ends), control characters, non-ASCII, long unbroken words.
_tricky = st.lists(st.one_of(
    st.sampled_from([" ", "  ", "\t", "\n", "\r", "\r\n", "\\", '"', '"""', "'", "\x00", "\x7f",
                     "\u2028", "é", "日本", "\\\n", " \\", "#", "=", "x" * 120]),
    st.characters(codec="utf-8"),
    st.sampled_from(["word", "spoken", "sentence."])), max_size=150).map("".join)


def _valid(field: str) -> Any:
    return lambda text: validate_field(field, text)[1] is None


@given(instructions=_tricky.filter(_valid("instructions")),
       greeting=_tricky.filter(_valid("greeting")), description=_tricky)
@settings(max_examples=400, deadline=None)
def test_any_text_written_by_profile_toml_loads_back_exactly(instructions, greeting, description):
    values = {"greeting": greeting, "instructions": instructions}
    values, _ = validate_profile("tricky.toml", values)  # only valid profiles are written
    text = profile_toml(values, description, "tricky: a comment\nwith a \x00 in it")
    assert validate_profile("tricky.toml", tomllib.loads(text)) == (values, description)


def test_long_text_is_written_as_multi_line_strings_like_the_shipped_profiles():
    patient = load_directory(DEFAULT_PROFILES_DIR).values("patient")
    long = "Speak slowly. " * 40 + "\n\nNever use lists.\n" + "A" * 150
    values = {**patient, "instructions": long}
    text = profile_toml(values, "Waits through pauses")
    assert 'instructions = """Speak slowly. Speak slowly.' in text
    assert " \\\n" in text  # lines end with a backslash, as in profiles/patient.toml
    # Lines are folded at spaces; only a word longer than a line stays whole.
    assert all(len(line) <= 100 for line in text.splitlines() if "A" * 100 not in line)
    assert tomllib.loads(text)["instructions"] == long
    short = profile_toml({"greeting": "Hi!"})
    assert short == 'greeting = "Hi!"\n'


def test_profile_toml_leaves_out_per_call_fields():
    text = profile_toml({"profile": "x", "assistant_id": "y", "endpointing_ms": 300})
    assert tomllib.loads(text) == {"endpointing_ms": 300}
