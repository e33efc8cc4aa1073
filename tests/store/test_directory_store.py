"""The directory store's rules for what counts as a profile, for any file name and content."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from voice_settings.profiles import is_profile_name
from voice_settings.store import DirectoryBackend

NAMES = st.text(alphabet=st.characters(blacklist_characters="/\x00", codec="utf-8"), min_size=1,
                max_size=70).filter(lambda n: n not in (".", ".."))


@settings(max_examples=150)
@given(files=st.dictionaries(NAMES, st.binary(max_size=200), max_size=6))
def test_any_directory_listing_gives_profiles_or_skips_never_raises(files) -> None:
    with tempfile.TemporaryDirectory() as directory:
        written = set()
        for name, data in files.items():
            try:
                Path(directory, name).write_bytes(data)
                written.add(name)
            except OSError:  # a name too long for this file system
                continue
        entries = DirectoryBackend(directory).read_all()
        for entry in entries:
            assert is_profile_name(entry.name) and f"{entry.name}.toml" in written
            assert entry.problem is None or entry.values == {}
        expected = {n.removesuffix(".toml") for n in written
                    if n.endswith(".toml") and is_profile_name(n.removesuffix(".toml"))}
        assert {e.name for e in entries} == expected
