"""The profiles directory as the store: reloads that keep the last valid version of a profile
whose file went bad, atomic writes, comments kept, and a PUT body parser that answers hostile
input with a 4xx and writes only what loads again."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.strategies import hostile_profile_bodies, valid_values
from voice_settings.model import PROFILE_FIELDS, VoiceSettings
from voice_settings.profile_files import created_comment, version_of, write_profile
from voice_settings.profiles import (
    ProfileError,
    ProfileStore,
    leading_comment,
    profile_from_bytes,
    profile_toml,
)
from voice_settings.store import DirectoryBackend, StoreFollower, load_directory, settle
from voice_settings.tokens.http_errors import HttpError
from voice_settings.tokens.profile_api import parse_profile_body

pytestmark = pytest.mark.usefixtures("clean_profile_env")


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "default.toml").write_text("# the default\nmin_endpointing_delay = 1.0\n")
    (directory / "calm.toml").write_text('description = "Calm"\nmax_endpointing_delay = 6.0\n')
    (directory / "quick.toml").write_text("max_endpointing_delay = 2.0\n")
    return load_directory(directory)


def write(store: ProfileStore, name: str, text: str) -> None:
    (store.directory / f"{name}.toml").write_text(text)


def reload_store(store: ProfileStore) -> tuple[ProfileStore, list[ProfileError]]:
    """The directory read again and settled over `store`, as every follower does."""
    return settle(store, DirectoryBackend(store.directory).read_all())


def reload_profile(store: ProfileStore, name: str) -> tuple[ProfileStore, ProfileError | None]:
    entry = DirectoryBackend(store.directory).read(name)
    new, errors = settle(store, [entry] if entry else [], names=[name])
    return new, (errors[0] if errors else None)


# --- Reloading ---------------------------------------------------------------------------------


def test_a_valid_edit_new_file_and_deletion_are_taken(store: ProfileStore) -> None:
    write(store, "calm", "max_endpointing_delay = 7.0\n")
    write(store, "fresh", "endpointing_ms = 300\n")
    (store.directory / "quick.toml").unlink()
    new, errors = reload_store(store)
    assert errors == []
    assert new.names() == ["calm", "default", "fresh"] and new.default_name == "default"
    assert new.values("calm") == {"max_endpointing_delay": 7.0}
    assert new.descriptions["calm"] == ""


@pytest.mark.parametrize(("text", "field", "words"), [
    ("max_endpointing_delay = 7.0\nmax_endpointing_delay = 8.0\n", None, "not valid TOML"),
    ("max_endpointing_delay = 700\n", "max_endpointing_delay", "Did you mean 0.7"),
    ("llm_modle = 'x'\n", "llm_modle", "not a profile setting"),
    ("max_endpointing_delay = 0.5\n", None, "over the default profile"),  # below its 1.0 min
])
def test_a_broken_file_keeps_the_last_valid_version(store: ProfileStore, text: str,
                                                    field: str | None, words: str) -> None:
    write(store, "calm", text)
    new, errors = reload_store(store)
    [error] = errors
    assert error.path.endswith("calm.toml") and error.field == field and words in str(error)
    assert new.values("calm") == store.values("calm") and new.descriptions["calm"] == "Calm"
    one, error = reload_profile(store, "calm")
    assert one.values("calm") == store.values("calm") and words in str(error)


def test_a_new_broken_file_is_not_a_profile_until_it_is_valid(store: ProfileStore) -> None:
    write(store, "typo", "endpointing_ms = 'fast'\n")
    new, errors = reload_store(store)
    assert "typo" not in new and errors[0].field == "endpointing_ms"
    write(store, "typo", "endpointing_ms = 90\n")
    assert reload_profile(new, "typo")[0].values("typo") == {"endpointing_ms": 90}


def test_the_default_profile_is_never_lost(store: ProfileStore) -> None:
    (store.directory / "default.toml").unlink()
    new, errors = reload_store(store)
    assert new.default_name == "default" and new.values("default") == store.values("default")
    assert "gone" in str(errors[0])


def test_a_new_default_that_breaks_a_profile_is_refused_naming_it(store: ProfileStore) -> None:
    write(store, "default", "min_endpointing_delay = 3.0\n")  # quick's max is 2.0
    write(store, "calm", "max_endpointing_delay = 8.0\n")     # valid, taken
    new, errors = reload_store(store)
    assert new.values("default") == {"min_endpointing_delay": 1.0}
    assert new.values("calm") == {"max_endpointing_delay": 8.0}
    assert len(errors) == 1 and "quick.toml" in str(errors[0]) and "default" in errors[0].path


def test_a_default_appearing_by_hand_becomes_the_default(tmp_path: Path) -> None:
    (tmp_path / "calm.toml").write_text("max_endpointing_delay = 6.0\n")
    store = load_directory(tmp_path)
    assert store.default_name is None
    (tmp_path / "default.toml").write_text("endpointing_ms = 300\n")
    new, errors = reload_store(store)
    assert errors == [] and new.default_name == "default"
    (tmp_path / "default.toml").write_text("min_endpointing_delay = 9.0\n")  # > calm's max
    refused, errors = reload_store(store)
    assert refused.default_name is None and "default" not in refused and errors


async def test_a_missing_directory_changes_nothing(store: ProfileStore, caplog) -> None:
    follower = StoreFollower(DirectoryBackend(store.directory), store)
    for path in store.directory.iterdir():
        path.unlink()
    store.directory.rmdir()
    assert await follower.refresh() == store
    assert await follower.refresh() == store
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "does not exist" in line and "last valid profiles stay in use" in line


def test_a_file_name_that_is_not_a_profile_name_is_skipped(store: ProfileStore) -> None:
    (store.directory / "Not A Name.toml").write_text("endpointing_ms = 300\n")
    (store.directory / ".#calm.toml").write_text("endpointing_ms = 'editor lock'\n")
    new, errors = reload_store(store)
    assert new.names() == store.names() and errors == []


async def test_the_follower_keeps_the_last_valid_version_and_says_why(
        store: ProfileStore) -> None:
    follower = StoreFollower(DirectoryBackend(store.directory), store)
    assert await follower.refresh() == store and follower.problems == {}
    write_profile(store.directory / "quick.toml", "max_endpointing_delay = 2.5\n")
    assert (await follower.refresh()).values("quick") == {"max_endpointing_delay": 2.5}
    write(store, "quick", "max_endpointing_delay = 'x'\n")
    assert (await follower.refresh()).values("quick") == {"max_endpointing_delay": 2.5}
    assert set(follower.problems) == {"quick"}


# --- Writing -----------------------------------------------------------------------------------


def test_write_is_atomic_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "calm.toml"
    version = write_profile(path, "endpointing_ms = 300\n")
    assert version == version_of(path.read_bytes()) and path.stat().st_mode & 0o777 == 0o644
    os.chmod(path, 0o640)
    write_profile(path, "endpointing_ms = 400\n")
    assert path.stat().st_mode & 0o777 == 0o640 and os.listdir(tmp_path) == ["calm.toml"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "calm.toml"
    write_profile(path, "endpointing_ms = 300\n")
    with pytest.raises(UnicodeEncodeError):
        write_profile(path, "endpointing_ms = '\ud800'\n")
    assert path.read_text() == "endpointing_ms = 300\n" and os.listdir(tmp_path) == ["calm.toml"]


def test_the_leading_comment_survives_a_rewrite() -> None:
    data = b"# patient: slow speakers.\n#\n#  indented why\ndescription = 'x'\n# later\n"
    comment = leading_comment(data)
    assert comment == "patient: slow speakers.\n\n indented why"
    assert profile_toml({}, "y", comment).startswith(
        "# patient: slow speakers.\n#\n#  indented why\n")


def test_the_created_comment_loads_and_says_when() -> None:
    text = profile_toml({"endpointing_ms": 300}, "d", created_comment("bob"))
    assert text.startswith("# bob: created through the profile API")
    assert profile_from_bytes("bob.toml", text.encode()) == ({"endpointing_ms": 300}, "d")


# --- The PUT body parser -----------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(hostile_profile_bodies)
def test_a_hostile_body_is_a_4xx_or_a_profile_that_loads_again(data: bytes) -> None:
    try:
        values, description = parse_profile_body("x", data)
    except HttpError as exc:
        assert 400 <= exc.status < 500 and exc.message
        json.dumps(exc.errors, allow_nan=False)
        return
    text = profile_toml(values, description, created_comment("x"))
    assert profile_from_bytes("x.toml", text.encode()) == (values, description)


@settings(max_examples=200, deadline=None)
@given(valid_values(PROFILE_FIELDS), st.text(max_size=40))
def test_every_valid_profile_is_accepted_and_written_as_it_was_given(
        values: dict[str, Any], description: str) -> None:
    try:  # valid over the built-in defaults, as every profile must be
        VoiceSettings.model_validate(values)
    except ValidationError:
        assume(False)
    body = json.dumps({"description": description, **values}).encode()
    assert parse_profile_body("x", body) == (values, description)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "x.toml"
        write_profile(path, profile_toml(values, description))
        read = DirectoryBackend(directory).read("x")
        assert read is not None and read.problem is None
        assert (read.values, read.description) == (values, description)
