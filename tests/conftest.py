"""Fixtures shared by the profile store, profile API and connection-details tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.pg import INSTALL_HINT, PostgresCluster, pg_binaries
from tests.tokens.serve_helpers import shipped_profiles
from voice_settings.profiles import DEFAULT_PROFILE_ENV, PROFILES_DIR_ENV

# Properties are about inputs, not speed: on a busy machine (CI, two cores) a slow example must
# not fail a test. Timings belong in bench/.
settings.register_profile("project", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")


@pytest.fixture
def clean_profile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No profiles directory or default profile chosen by the environment of the test run."""
    monkeypatch.delenv(DEFAULT_PROFILE_ENV, raising=False)
    monkeypatch.delenv(PROFILES_DIR_ENV, raising=False)


@pytest.fixture
def profiles_copy(tmp_path: Path, clean_profile_env: None) -> Path:
    """A writable copy of the shipped profiles/ directory."""
    return shipped_profiles(tmp_path / "profiles")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throw-away PostgreSQL cluster for the whole test session (tests/pg.py)."""
    if pg_binaries() is None:
        pytest.skip(INSTALL_HINT)
    with PostgresCluster.started() as cluster:
        yield cluster


_databases = itertools.count()


@pytest.fixture
def profiles_db_url(postgres_cluster: PostgresCluster) -> str:
    """A URL of a fresh, empty database of the session's cluster, for VOICE_PROFILES_URL."""
    return postgres_cluster.create_database(f"profiles_{next(_databases)}")
