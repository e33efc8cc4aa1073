"""Fixtures shared by the profile store, profile API and connection-details tests."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.pg import INSTALL_HINT, PostgresCluster, pg_binaries
from tests.tokens.serve_helpers import shipped_profiles
from voice_settings.profiles import DEFAULT_PROFILE_ENV, PROFILES_DIR_ENV

# Hypothesis profiles. Properties are about inputs, not speed: on a busy machine (CI, two cores)
# a slow example must not fail a test (timings belong in bench/), so neither profile has a deadline.
# - "dev" (the default locally): random exploration, each run tries new inputs; a failure it finds
#   is replayed from .hypothesis/ and belongs in the test as an @example.
# - "ci" (the default when CI is set): derandomized, the same inputs on every run.
# Pick one with HYPOTHESIS_PROFILE=ci|dev, or `pytest --hypothesis-profile=ci` (which wins).
_PROPERTIES = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
# Explicit: under CI, Hypothesis's own defaults are derandomized.
settings.register_profile("dev", derandomize=False, **_PROPERTIES)
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_PROPERTIES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI")
                                                                 else "dev"))


WHOLE_SUITE_WORKERS = 3


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many workers `-n auto` (pyproject's addopts) starts.

    The whole suite: 3, more than the 2 cores, because most of its slow tests wait in real time
    (sessions, subprocesses). Named paths, `-k` or `-m`: none (one process), since each worker
    imports the whole stack before its first test. `-n N` or PYTEST_XDIST_AUTO_NUM_WORKERS
    decide instead."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    whole = (config.args_source == pytest.Config.ArgsSource.TESTPATHS
             and not config.option.keyword and not config.option.markexpr)
    return WHOLE_SUITE_WORKERS if whole else 0


TIMED_TEST_NICE = -10


@pytest.fixture
def ahead_of_other_workers() -> Iterator[None]:
    """For tests that compare real-time figures across sessions: the test's thread, and the
    threads and processes it starts, run ahead of the other workers' CPU-bound tests where the
    system allows it (root, as in CI); elsewhere at the usual priority."""
    before = os.getpriority(os.PRIO_PROCESS, 0)  # on Linux: this thread
    try:
        os.setpriority(os.PRIO_PROCESS, 0, TIMED_TEST_NICE)
    except PermissionError:
        yield
        return
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


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
