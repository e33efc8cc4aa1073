"""Replicas of `token_tool.py serve` on one store, each its own process: conditional writes
hold across processes (exactly one writer wins a version), and what one replica wrote the other
serves at once. Both stores: one profiles directory, one PostgreSQL database."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.tokens.serve_helpers import ADMIN, call, serve_env, serve_processes
from voice_settings.profiles import DEFAULT_PROFILES_DIR

ROUNDS, WRITERS = 4, 25


@pytest.fixture(scope="module", params=["directory", "postgresql"])
def replicas(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two serve processes on one store (shared by this module's tests: their names differ)."""
    if request.param == "directory":
        directory = tmp_path_factory.mktemp("fleet") / "profiles"
        shutil.copytree(DEFAULT_PROFILES_DIR, directory)
        env = serve_env(VOICE_PROFILES_DIR=str(directory))
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        env = serve_env(VOICE_PROFILES_URL=cluster.create_database("fleet"))
    with serve_processes(2, env) as bases:
        yield bases


async def put(session: aiohttp.ClientSession, base: str, name: str, body: dict,
              condition: dict[str, str]) -> tuple[int, Any, Any]:
    return await call(session, "PUT", f"{base}/api/profiles/{name}", body,
                      headers={**ADMIN, **condition})


async def get(session: aiohttp.ClientSession, base: str, name: str) -> tuple[int, Any, Any]:
    return await call(session, "GET", f"{base}/api/profiles/{name}", headers=ADMIN)


async def test_concurrent_writers_on_two_replicas_never_both_win_one_version(
        replicas: list[str]) -> None:
    async with aiohttp.ClientSession() as session:
        status, headers, _ = await put(session, replicas[0], "shared",
                                       {"description": "start", "endpointing_ms": 100},
                                       {"If-None-Match": "*"})
        assert status == 201
        etag = headers["ETag"]
        for round_number in range(ROUNDS):
            bodies = [{"description": f"round {round_number} writer {w}",
                       "endpointing_ms": 100 + w} for w in range(WRITERS)]
            replies = await asyncio.gather(*(
                put(session, replicas[w % 2], "shared", body, {"If-Match": etag})
                for w, body in enumerate(bodies)))
            statuses = sorted(status for status, _, _ in replies)
            assert statuses == [200] + [412] * (WRITERS - 1), statuses
            winner = next(reply for status, _, reply in replies if status == 200)
            # No lost update: both replicas now serve exactly the winner's write.
            for base in replicas:
                _, now, reply = await get(session, base, "shared")
                assert reply["description"] == winner["description"]
                assert now["ETag"] == f'"{winner["version"]}"'
            etag = f'"{winner["version"]}"'


async def test_created_through_one_replica_read_through_the_other_with_its_etag(
        replicas: list[str]) -> None:
    async with aiohttp.ClientSession() as session:
        for number in range(5):
            name = f"fresh-{number}"
            status, headers, _ = await put(session, replicas[number % 2], name,
                                           {"instructions": f"You are number {number}."},
                                           {"If-None-Match": "*"})
            assert status == 201
            status, other, reply = await get(session, replicas[(number + 1) % 2], name)
            assert status == 200 and other["ETag"] == headers["ETag"]
            assert reply["values"] == {"instructions": f"You are number {number}."}
            # ... and connection details of the other replica can use it at once.
            status, _, token = await call(
                session, "POST", f"{replicas[(number + 1) % 2]}/api/connection-details",
                {"participant_metadata": f'{{"profile": "{name}"}}'})
            assert status == 201, token
