"""Live calls (the real entrypoint on the offline stack) on a shared store: an edit made through
one `serve` replica reaches a call at once; a database restarted mid-call neither stops the call
nor its following; a deleted profile keeps serving the call that uses it, blaming no one."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from pathlib import Path

import aiohttp
import psycopg

from tests.agent_helpers import published, running_agent, settled, until, user_turn
from tests.tokens.serve_helpers import ADMIN, call, serve_env, serve_processes
from voice_settings.profiles import DEFAULT_PROFILES_DIR
from voice_settings.runtime import attributes
from voice_settings.store import Expect, last_valid, load_strict, open_backend

SAM = {"description": "Support line", "instructions": "You are Sam from support.",
       "min_endpointing_delay": 0.6}
CALLER = json.dumps({"profile": "support", "greeting": ""})


def seed(url: str) -> None:
    backend = open_backend({"VOICE_PROFILES_URL": url})
    backend.write("support", {k: v for k, v in SAM.items() if k != "description"},
                  SAM["description"], None, Expect(absent=True))
    backend.close()


def sql(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


async def test_an_edit_through_a_replica_reaches_a_live_call(profiles_db_url: str) -> None:
    seed(profiles_db_url)
    env = {"VOICE_PROFILES_URL": profiles_db_url}
    with serve_processes(1, serve_env(**env)) as replicas:
        async with running_agent(CALLER, env=env) as stack, \
                aiohttp.ClientSession() as session:
            assert (await user_turn(stack, "hello")).system == "You are Sam from support."
            _, headers, _ = await call(session, "GET", f"{replicas[0]}/api/profiles/support",
                                       headers=ADMIN)
            edited = {**SAM, "instructions": "You are Kim from support."}
            sent = time.monotonic()
            status, _, _ = await call(session, "PUT", f"{replicas[0]}/api/profiles/support",
                                      edited, headers={**ADMIN, "If-Match": headers["ETag"]})
            assert status == 200
            await settled(stack, "You are Kim from support.")
            print(f"edit through a replica -> in force in the call: "
                  f"{time.monotonic() - sent:.3f} s")
            assert (await user_turn(stack, "who is this?")).system == "You are Kim from support."


async def test_a_database_restart_mid_call_keeps_the_call_and_its_following(
        profiles_db_url: str, postgres_cluster, caplog) -> None:
    caplog.set_level(logging.INFO)
    seed(profiles_db_url)
    async with running_agent(CALLER, env={"VOICE_PROFILES_URL": profiles_db_url}) as stack:
        await asyncio.sleep(0.3)  # the call is LISTENing
        await asyncio.to_thread(postgres_cluster.stop)
        await until(lambda: "unreachable" in caplog.text, "the outage is logged")
        # The call keeps serving on the last valid version.
        assert (await user_turn(stack, "still there?")).system == "You are Sam from support."
        await asyncio.to_thread(postgres_cluster.start)
        await until(lambda: "reachable again" in caplog.text, "the call reconnects")
        sql(profiles_db_url, """UPDATE voice_profiles SET "values" = """
                             """'{"instructions": "You are Kim from support."}'""")
        await settled(stack, "You are Kim from support.")
    outage = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage) == 1, [r.getMessage() for r in outage]


async def test_a_job_starting_while_the_database_is_down_uses_the_last_valid_profiles(
        profiles_db_url: str, postgres_cluster, tmp_path: Path, monkeypatch, caplog) -> None:
    seed(profiles_db_url)
    # What the worker's main process keeps for its jobs (runtime/profile_watch.keep_for_jobs).
    monkeypatch.setenv(last_valid.LAST_VALID_ENV, str(tmp_path / "last-valid.json"))
    last_valid.remember(load_strict(open_backend({"VOICE_PROFILES_URL": profiles_db_url})))
    await asyncio.to_thread(postgres_cluster.stop)
    try:
        async with running_agent(CALLER, env={"VOICE_PROFILES_URL": profiles_db_url}) as stack:
            assert (await user_turn(stack, "hello")).system == "You are Sam from support."
            assert not published(stack, attributes.ERRORS)
    finally:
        await asyncio.to_thread(postgres_cluster.start)
    assert "profile store unreadable at job start" in caplog.text


async def test_deleting_the_profile_a_call_uses_keeps_the_call_on_it(tmp_path: Path,
                                                                     caplog) -> None:
    directory = shutil.copytree(DEFAULT_PROFILES_DIR, tmp_path / "profiles")
    (directory / "support.toml").write_text(
        'description = "Support line"\ninstructions = "You are Sam from support."\n')
    caplog.set_level(logging.INFO)
    async with running_agent(CALLER, env={"VOICE_PROFILES_DIR": str(directory)}) as stack:
        (directory / "support.toml").unlink()
        await until(lambda: "deleted from the store" in caplog.text, "the deletion is noticed")
        assert (await user_turn(stack, "still Sam?")).system == "You are Sam from support."
        assert not published(stack, attributes.ERRORS)  # the caller is not blamed
    deleted = [r for r in caplog.records if "deleted from the store" in r.getMessage()]
    assert len(deleted) == 1 and deleted[0].source == "operator"
    assert deleted[0].participant == "alice"
    assert not [r for r in caplog.records if "unknown profile" in r.getMessage()]


