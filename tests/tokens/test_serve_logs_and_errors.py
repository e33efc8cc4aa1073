"""token_tool serve as an operator lives with it: one access-log line per request (never a
header value or a body), one error shape for every 4xx, and request bodies that break off,
do not inflate or stall answered with a 4xx and at most one log line, never a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.tokens.serve_helpers import (
    ADMIN,
    BROWSER_SECRET,
    call,
    config_for,
    serving,
)
from voice_settings.tokens.server import ACCESS_LOG, ENDPOINT_PATH, HEALTH_PATH

pytestmark = pytest.mark.usefixtures("clean_profile_env")

BROWSER = {"Authorization": f"Bearer {BROWSER_SECRET}"}
BODY_MARKER = "body-text-that-must-never-be-logged"


@pytest.fixture
async def server(profiles_copy: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    config = config_for(profiles_copy, bearer_secret=BROWSER_SECRET, body_timeout_s=0.3)
    async with serving(config) as base, aiohttp.ClientSession() as session:
        yield base, session


def lines_of(caplog: pytest.LogCaptureFixture, logger: str | None = None) -> list[str]:
    return [r.getMessage() for r in caplog.records if logger is None or r.name == logger]


async def wait_for_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    """The access-log lines, once `count` are there (aiohttp writes one after the reply)."""
    async with asyncio.timeout(30):
        while len(lines := lines_of(caplog, ACCESS_LOG.name)) < count:
            await asyncio.sleep(0.01)
    return lines


# --- The access log ----------------------------------------------------------------------------


async def test_one_access_line_per_request_without_header_values_or_bodies(
        server: Any, caplog: pytest.LogCaptureFixture) -> None:
    base, session = server
    caplog.set_level(logging.INFO)
    body = {"room_name": "demo", "participant_metadata": json.dumps({"theme": BODY_MARKER})}
    requests = [("POST", ENDPOINT_PATH + "?token=query-secret", body, BROWSER, 201),
                ("POST", ENDPOINT_PATH, body, {"Authorization": "Bearer wrong-guess"}, 401),
                ("GET", "/api/profiles", None, ADMIN, 200),
                ("GET", HEALTH_PATH, None, {"User-Agent": "agent-" + BODY_MARKER}, 200)]
    for method, path, sent, headers, status in requests:
        assert (await call(session, method, base + path, sent, headers=headers))[0] == status
    lines = await wait_for_lines(caplog, len(requests))
    assert len(lines) == len(requests)
    for line, (method, path, _, _, status) in zip(lines, requests, strict=True):
        words = line.split()
        assert words[:3] == [method, path.partition("?")[0], str(status)]
        assert float(words[3]) >= 0 and words[4] == "ms" and words[5] == "127.0.0.1"
    logged = "\n".join(lines_of(caplog))
    for secret in (BROWSER_SECRET, ADMIN["Authorization"].split()[1], "wrong-guess",
                   "query-secret", BODY_MARKER):
        assert secret not in logged


# --- One error shape ---------------------------------------------------------------------------


async def test_every_4xx_has_the_same_body_shape(server: Any) -> None:
    base, session = server
    endpoint = base + ENDPOINT_PATH
    reachable = [
        ("POST", endpoint, None, b"{oops", BROWSER, 400),
        ("POST", endpoint, {"systemPrompt": "Hi"}, None, BROWSER, 400),  # admin field, no agent
        ("POST", endpoint, {"participant_metadata": '{"endpointing_ms": -5}'}, None, BROWSER,
         400),
        ("POST", endpoint, {"nonsense": 1}, None, BROWSER, 400),
        ("POST", endpoint, {}, None, {}, 401),
        ("POST", endpoint, {"participant_metadata": '{"llm_model": "x"}'}, None, BROWSER, 403),
        ("POST", endpoint, None, b"{" + b" " * 300_000 + b"}", BROWSER, 413),
        ("GET", base + "/nowhere", None, None, {}, 404),
        ("GET", endpoint, None, None, {}, 405),
        ("GET", base + "/api/profiles/no-such", None, None, ADMIN, 404),
        ("GET", base + "/api/profiles/..bad", None, None, ADMIN, 400),
        ("GET", base + "/api/profiles", None, None, {}, 401),
        ("PUT", base + "/api/profiles/patient", {"endpointing_ms": 300}, None, ADMIN, 428),
        ("PUT", base + "/api/profiles/patient", {"endpointing_ms": 300}, None,
         {**ADMIN, "If-Match": '"stale"'}, 412),
        ("PUT", base + "/api/profiles/fresh", {"endpointingMs": -1}, None,
         {**ADMIN, "If-None-Match": "*"}, 400),
        ("DELETE", base + "/api/profiles/default", None, None, ADMIN, 409),
    ]
    for method, url, body, raw, headers, status in reachable:
        got, _, reply = await call(session, method, url, body, raw=raw, headers=headers)
        assert got == status, (method, url, reply)
        assert set(reply) == {"error", "errors"}, (method, url, reply)
        assert isinstance(reply["error"], str) and isinstance(reply["errors"], list)
        for error in reply["errors"]:
            assert {"field", "value", "message"} <= set(error)


async def test_an_admin_field_without_an_agent_names_the_field(server: Any) -> None:
    base, session = server
    _, _, reply = await call(session, "POST", base + ENDPOINT_PATH, {"systemPrompt": "Hi"},
                             headers=BROWSER)
    assert [e["field"] for e in reply["errors"]] == ["systemPrompt"]


# --- Bodies that break off, do not inflate, or stall -------------------------------------------


def _head(base: str, extra: bytes, length: int) -> tuple[tuple[str, int], bytes]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    head = (b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer %s\r\n%sContent-Length: %d\r\n\r\n"
            % (ENDPOINT_PATH.encode(), host.encode(), BROWSER_SECRET.encode(), extra, length))
    return (host, int(port)), head


def _send(base: str, body: bytes, *, length: int, extra: bytes = b"",
          close_early: bool = False) -> bytes:
    """Send a request whose Content-Length says `length`; `close_early` stops sending after
    `body` (the client went away); otherwise wait for the reply. The reply's bytes."""
    address, head = _head(base, extra, length)
    with socket.create_connection(address, timeout=30) as connection:
        connection.sendall(head + body)
        if close_early:
            connection.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: connection.recv(65536), b""))


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_body_that_breaks_off_gets_a_4xx_and_one_log_line(
        server: Any, caplog: pytest.LogCaptureFixture) -> None:
    base, _ = server
    caplog.set_level(logging.DEBUG)
    reply = await asyncio.to_thread(_send, base, b'{"room_name": "de', length=500,
                                    close_early=True)
    if reply:  # the client half-closed: the server may still answer on the open half
        assert 400 <= status_of(reply) < 500
    lines = await wait_for_lines(caplog, 1)
    assert lines[0].startswith("POST " + ENDPOINT_PATH + " 4")
    assert len(lines_of(caplog)) == 1, lines_of(caplog)
    no_tracebacks(caplog)


@pytest.mark.parametrize(("body", "length", "encoding", "status", "error"), [
    # gzip's magic bytes, then what is not gzip
    (b"\x1f\x8b\x08\x00 not what gzip said", 23, b"gzip", 400, "request body could not"),
    # 6 bytes of 100, then nothing: the fixture's server waits 0.3 s (ServeConfig.body_timeout_s)
    (b'{"room', 100, b"identity", 408, "request body not received"),
])
async def test_a_body_that_does_not_inflate_or_stalls_is_answered_with_one_log_line(
        server: Any, caplog: pytest.LogCaptureFixture, body: bytes, length: int,
        encoding: bytes, status: int, error: str) -> None:
    base, _ = server
    caplog.set_level(logging.DEBUG)
    extra = b"Connection: close\r\nContent-Encoding: %s\r\n" % encoding
    reply = await asyncio.to_thread(_send, base, body, length=length, extra=extra)
    assert status_of(reply) == status
    answer = json.loads(reply.partition(b"\r\n\r\n")[2])
    assert answer["error"].startswith(error) and answer["errors"] == []
    await wait_for_lines(caplog, 1)
    assert len(lines_of(caplog)) == 1, lines_of(caplog)
    no_tracebacks(caplog)
