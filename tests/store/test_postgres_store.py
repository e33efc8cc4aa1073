"""The PostgreSQL store against a real server (tests/pg.py): its table, one-statement
compare-and-set, rows written by hand, LISTEN/NOTIFY, and a server that restarts."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import psycopg
import pytest

from tests.agent_helpers import until
from voice_settings.cli import main as cli_main
from voice_settings.profiles import DEFAULT_PROFILES_DIR, ProfileError, ProfileStore
from voice_settings.store import (
    Expect,
    StoreFollower,
    StoreUnavailable,
    VersionMismatch,
    load_directory,
    load_strict,
    open_backend,
    settle,
)
from voice_settings.store.postgres import SCHEMA_VERSION, TABLE, PostgresBackend

CREATE = Expect(absent=True)


def replace(version: str) -> Expect:
    return Expect(versions=frozenset({version}))


@pytest.fixture
def backend(profiles_db_url: str):
    backend = PostgresBackend(profiles_db_url)
    yield backend
    backend.close()


def sql(url: str, statement: str, *parameters: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(statement, parameters or None)
        return cursor.fetchall() if cursor.description else []


def test_the_table_is_created_on_first_use_with_its_schema_version(backend, profiles_db_url):
    assert backend.read_all() == []
    assert sql(profiles_db_url, f"SELECT version FROM {TABLE}_schema") == [(SCHEMA_VERSION,)]
    columns = [name for name, in sql(profiles_db_url, "SELECT column_name FROM "
                                     "information_schema.columns WHERE table_name = %s "
                                     "ORDER BY ordinal_position", TABLE)]
    assert columns == ["name", "values", "description", "version", "updated_at"]
    sql(profiles_db_url, f"UPDATE {TABLE}_schema SET version = 99")
    with pytest.raises(StoreUnavailable, match="schema version 99"):
        PostgresBackend(profiles_db_url).read_all()


def test_writes_are_conditional_on_the_version(backend):
    first = backend.write("calm", {"endpointing_ms": 300}, "Calm", None, CREATE)
    with pytest.raises(VersionMismatch) as raised:
        backend.write("calm", {"endpointing_ms": 400}, "", None, CREATE)
    assert raised.value.current.version == first
    second = backend.write("calm", {"endpointing_ms": 400}, "Calm", None, replace(first))
    assert second != first
    with pytest.raises(VersionMismatch):
        backend.write("calm", {"endpointing_ms": 500}, "", None, replace(first))
    # The same content written again is a new version: no two writes share one.
    third = backend.write("calm", {"endpointing_ms": 400}, "Calm", None, replace(second))
    assert third != second
    with pytest.raises(VersionMismatch):
        backend.delete("calm", replace(second))
    backend.delete("calm", replace(third))
    assert backend.read("calm") is None
    with pytest.raises(VersionMismatch) as raised:
        backend.write("calm", {}, "", None, replace(third))
    assert raised.value.current is None


def test_a_row_written_by_hand_is_validated_and_named(backend, profiles_db_url):
    backend.write("calm", {"endpointing_ms": 300}, "", None, CREATE)
    store = load_strict(backend)
    sql(profiles_db_url, f"""UPDATE {TABLE} SET "values" = '{{"endpointing_ms": 99999}}'""")
    with pytest.raises(ProfileError) as raised:
        load_strict(backend)
    assert "row 'calm'" in raised.value.path and raised.value.field == "endpointing_ms"
    assert "postgresql://" in raised.value.path and ":" not in raised.value.path.split("@")[0][13:]
    kept, errors = settle(store, backend.read_all())  # what a running worker does
    assert kept.values("calm") == {"endpointing_ms": 300} and errors[0].field == "endpointing_ms"


async def test_a_follower_hears_an_edit_from_another_connection(backend, profiles_db_url):
    backend.write("calm", {"instructions": "one"}, "", None, CREATE)
    changes: list[ProfileStore] = []
    follower = StoreFollower(backend, load_strict(backend), on_change=changes.append)
    follower.start()
    try:
        await asyncio.sleep(0.3)  # LISTENing
        other = PostgresBackend(profiles_db_url)
        other.write("calm", {"instructions": "two"}, "", None, Expect(versions=frozenset("*")))
        other.close()
        await until(lambda: changes, "the edit is heard")
        assert follower.store.values("calm") == {"instructions": "two"}
    finally:
        await follower.aclose()


async def test_a_restarted_server_keeps_the_last_valid_profiles_then_follows_again(
        backend, profiles_db_url, postgres_cluster, caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.store")
    backend.write("calm", {"instructions": "before"}, "", None, CREATE)
    follower = StoreFollower(backend, load_strict(backend))
    follower.start()
    try:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(postgres_cluster.stop)
        await until(lambda: "unreachable" in caplog.text, "the outage is logged")
        assert follower.store.values("calm") == {"instructions": "before"}
        await asyncio.sleep(1.0)  # several reconnection attempts: still one line
        await asyncio.to_thread(postgres_cluster.start)
        await until(lambda: "reachable again" in caplog.text, "the recovery is logged")
        sql(profiles_db_url, f"""UPDATE {TABLE} SET "values" = '{{"instructions": "after"}}'""")
        await until(lambda: follower.store.values("calm") == {"instructions": "after"},
                    "the edit after the restart is followed")
    finally:
        await follower.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("voice_settings.store")]
    assert sum("unreachable" in line for line in lines) == 1
    assert sum("reachable again" in line for line in lines) == 1


def test_unreachable_at_start_is_one_clear_error():
    closed = "postgresql://postgres@127.0.0.1:1/nowhere"
    with pytest.raises(StoreUnavailable, match="unreachable") as raised:
        load_strict(open_backend({"VOICE_PROFILES_URL": closed}))
    assert "127.0.0.1:1/nowhere" in raised.value.message


def test_profiles_move_from_a_directory_to_the_database_and_back(
        profiles_db_url, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("VOICE_PROFILES_DIR", raising=False)
    monkeypatch.delenv("VOICE_DEFAULT_PROFILE", raising=False)
    monkeypatch.setenv("VOICE_PROFILES_URL", profiles_db_url)
    source = shutil.copytree(DEFAULT_PROFILES_DIR, tmp_path / "from-git")
    assert cli_main(["profiles", "import", str(source)]) == 0
    assert "imported 4 profiles" in capsys.readouterr().out
    assert cli_main(["profiles", "list"]) == 0
    assert "default (default):" in capsys.readouterr().out
    assert cli_main(["profiles", "export", str(tmp_path / "back")]) == 0
    shipped, back = load_directory(source), load_directory(tmp_path / "back")
    assert (back.profiles, back.descriptions) == (shipped.profiles, shipped.descriptions)
    assert cli_main(["profiles", "new", "calm", "--from", "patient", "--set",
                     "greeting=Hello"]) == 0
    assert cli_main(["profiles", "show", "calm"]) == 0
    assert 'greeting = "Hello"' in capsys.readouterr().out
    # All valid or nothing: a broken file in the directory imports nothing.
    (source / "broken.toml").write_text("endpointing_ms = -1\n")
    (source / "patient.toml").write_text("endpointing_ms = 400\n")
    assert cli_main(["profiles", "import", str(source)]) == 2
    assert "broken.toml" in capsys.readouterr().err
    assert load_strict(open_backend()).values("patient") == shipped.values("patient")
