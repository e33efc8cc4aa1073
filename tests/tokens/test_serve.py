"""token_tool serve, answered over real HTTP on 127.0.0.1, as livekit-client's
TokenSource.endpoint calls it: POST JSON with proto field names, reply read as
{server_url, participant_token}."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from livekit import api

import token_tool
from voice_settings import MAX_METADATA_BYTES
from voice_settings.store import load_directory
from voice_settings.tokens import server as token_server
from voice_settings.tokens.credentials import Credentials
from voice_settings.tokens.server import (
    ENDPOINT_PATH,
    HEALTH_PATH,
    MAX_BODY_BYTES,
    ServeConfig,
    make_app,
    run_server,
)

URL = "wss://voice.example.test"
KEY = "APItestserve"
SECRET = "serve-test-secret-long-enough-for-hs256-0123456789"
BEARER = "bearer-secret-for-the-token-endpoint"
CREDENTIALS = Credentials(URL, KEY, SECRET)
TOOL = Path(token_tool.__file__)


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []

    async def _start(**overrides: Any) -> str:
        config = ServeConfig(CREDENTIALS, load_directory(), **overrides)
        runner = web.AppRunner(make_app(config))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield _start
    for runner in runners:
        await runner.cleanup()


async def post(base: str, body: Any, headers: dict[str, str] | None = None,
               raw: bytes | None = None) -> tuple[int, dict[str, Any], Any]:
    # The headers TokenSource.endpoint sends: Content-Type plus whatever the app configured.
    sent = {"Content-Type": "application/json", "Origin": "https://app.example", **(headers or {})}
    data = raw if raw is not None else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session, session.post(
            base + ENDPOINT_PATH, data=data, headers=sent) as response:
        return response.status, dict(response.headers), await response.json()


def claims_of(reply: dict[str, Any]) -> api.access_token.Claims:
    return api.TokenVerifier(KEY, SECRET).verify(reply["participant_token"])


# Exactly what TokenSource.endpoint sends (request.toJsonString({useProtoFieldName: true})).
TOKEN_SOURCE_BODY = {
    "room_name": "demo",
    "participant_name": "Alice",
    "participant_identity": "alice",
    "participant_metadata": '{"endpointing_ms":300,"theme":"dark"}',
    "participant_attributes": {"tier": "gold"},
    "room_config": {"agents": [{"agent_name": "voice-agent", "metadata": '{"greeting":"Hi"}'}]},
}


async def test_201_for_a_request_shaped_as_token_source_endpoint_sends_it(start: Any) -> None:
    base = await start(allowed_agents=frozenset({"voice-agent"}))
    status, headers, reply = await post(base, TOKEN_SOURCE_BODY)
    assert status == 201
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert reply["server_url"] == URL
    assert (reply["room_name"], reply["participant_name"]) == ("demo", "Alice")
    claims = claims_of(reply)
    assert (claims.identity, claims.name, claims.video.room) == ("alice", "Alice", "demo")
    assert claims.metadata == TOKEN_SOURCE_BODY["participant_metadata"]
    assert claims.attributes == {"tier": "gold"}
    assert not claims.video.can_update_own_metadata
    [dispatch] = claims.room_config.agents
    assert (dispatch.agent_name, dispatch.metadata) == ("voice-agent", '{"greeting":"Hi"}')


async def test_201_for_an_empty_request_and_the_default_agent(start: Any) -> None:
    # TokenSource.endpoint with no options sends "{}"; lowerCamel names are valid proto JSON too.
    base = await start(default_agent="voice-agent")
    status, _, reply = await post(base, {})
    claims = claims_of(reply)
    assert status == 201 and claims.identity.startswith("user-") and claims.video.room
    assert [a.agent_name for a in claims.room_config.agents] == ["voice-agent"]
    status, _, reply = await post(base, {"roomName": "r1", "participantIdentity": "bob"})
    assert status == 201 and (claims_of(reply).identity, reply["room_name"]) == ("bob", "r1")


@pytest.mark.parametrize(("body", "field"), [
    ({"participant_metadata": '{"endpointing_ms": 99999}'}, "endpointing_ms"),
    ({"participant_metadata": '{"instructions": "  "}'}, "instructions"),
    ({"participant_metadata": '{"profile": "nope"}'}, "profile"),
    ({"participant_metadata": "not json"}, "(metadata)"),
    ({"room_config": {"agents": [{"agent_name": "voice-agent",
                                  "metadata": '{"turn_detection": "sometimes"}'}]}},
     "turn_detection"),
])
async def test_400_names_the_invalid_field(start: Any, body: dict, field: str) -> None:
    base = await start()
    status, headers, reply = await post(base, body)
    assert status == 400 and "participant_token" not in reply
    assert field in [e["field"] for e in reply["errors"]]
    assert all({"field", "value", "message", "source"} <= set(e) for e in reply["errors"])
    assert headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("raw", [
    b"{not json", b"[1, 2]", b'{"room_name": 5}',
    b'{"participant_metadata": "{\\"systemPrompt\\": \\"\\\\ud800\\"}"}',
    b'{"participant_attributes": {"a": "\\ud800"}}', b'{"room_name": "\\udfff"}',
])
async def test_400_for_a_malformed_body(start: Any, raw: bytes) -> None:
    status, _, reply = await post(await start(), None, raw=raw)
    assert status == 400 and reply["error"]


async def test_401_without_the_configured_bearer_secret(start: Any) -> None:
    base = await start(bearer_secret=BEARER)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": BEARER}):
        status, response_headers, reply = await post(base, TOKEN_SOURCE_BODY, headers)
        assert status == 401 and response_headers["WWW-Authenticate"] == "Bearer"
        assert BEARER not in json.dumps(reply)
    status, _, _ = await post(base, TOKEN_SOURCE_BODY, {"Authorization": f"Bearer {BEARER}"})
    assert status == 201


@pytest.mark.parametrize(("body", "error"), [
    ({"room_config": {"agents": [{"agent_name": "someone-else"}]}},
     {"field": "room_config.agents[0].agent_name", "value": "someone-else", "source": None}),
    ({"room_config": {"agents": [{"agent_name": "voice-agent",
                                  "metadata": '{"llm_model": "gpt-4.1"}'}]}},
     {"field": "llm_model", "value": "gpt-4.1", "source": "dispatch"}),
    ({"participant_metadata": '{"sttModel": "nova-2"}'},
     {"field": "stt_model", "value": "nova-2", "source": "participant"}),
    ({"room_config": {"max_participants": 1000}},
     {"field": "room_config.max_participants", "value": 1000, "source": None}),
])
async def test_403_for_what_a_client_may_not_choose(start: Any, body: dict,
                                                    error: dict[str, Any]) -> None:
    # Shaped like a 400: every entry names the field, the value, what is wrong and its source.
    base = await start(allowed_agents=frozenset({"voice-agent"}))
    status, _, reply = await post(base, body)
    assert status == 403 and "participant_token" not in reply
    [entry] = reply["errors"]
    assert set(entry) == {"field", "value", "message", "source"}
    assert {k: entry[k] for k in error} == error
    assert entry["message"]


async def test_403_names_the_allowed_agents(start: Any) -> None:
    base = await start(allowed_agents=frozenset({"voice-agent"}))
    status, _, reply = await post(base, {"room_config": {"agents": [{"agent_name": "x"}]}})
    assert status == 403 and "voice-agent" in reply["error"] and "'x'" in reply["error"]


@pytest.mark.parametrize("body", [
    {"participant_metadata": json.dumps({"pad": "x" * MAX_METADATA_BYTES})},
    {"participant_attributes": {"pad": "x" * MAX_METADATA_BYTES}},
    {"room_config": {"agents": [{"agent_name": "a", "metadata": "x" * (MAX_METADATA_BYTES + 1)}]}},
])
async def test_413_over_64_kib(start: Any, body: dict) -> None:
    status, _, reply = await post(await start(), body)
    assert status == 413 and "65536" in reply["error"]


async def test_500_for_a_bug_is_json_with_cors_and_logged_without_secrets(
        start: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken_sign(*_: Any) -> str:
        raise RuntimeError(f"signing broke with {SECRET} for {BEARER}")

    monkeypatch.setattr(token_server, "sign", broken_sign)
    base = await start(bearer_secret=BEARER, cors_origins=frozenset({"https://app.example"}))
    status, headers, reply = await post(base, TOKEN_SOURCE_BODY,
                                        {"Authorization": f"Bearer {BEARER}"})
    assert status == 500 and reply == {"error": reply["error"], "errors": []}
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "signing broke" not in reply["error"]  # the details are for the server's log
    assert "signing broke" in caplog.text and "RuntimeError" in caplog.text
    assert SECRET not in caplog.text and BEARER not in caplog.text


# LiveKit counts the UTF-8 bytes of every attribute key and value: 3 + 2 * 32765 + 1 + 2.
AT_THE_LIMIT = {"pad": "é" * 32765, "k": "xy"}
ONE_OVER = {**AT_THE_LIMIT, "k": "xyz"}


async def test_attributes_limit_is_the_bytes_livekit_counts(start: Any) -> None:
    base = await start()
    status, _, reply = await post(base, {"participant_attributes": AT_THE_LIMIT})
    assert status == 201 and claims_of(reply).attributes == AT_THE_LIMIT
    status, _, reply = await post(base, {"participant_attributes": ONE_OVER})
    assert status == 413 and "65537 bytes" in reply["error"]


async def test_413_for_an_oversized_body(start: Any) -> None:
    raw = b'{"pad": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    status, _, _ = await post(await start(), None, raw=raw)
    assert status == 413


async def test_404_405_preflight_and_health(start: Any) -> None:
    base = await start(bearer_secret=BEARER)
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/nowhere") as response:
            assert response.status == 404 and "error" in await response.json()
        async with session.get(base + ENDPOINT_PATH) as response:
            assert response.status == 405 and "POST" in response.headers["Allow"]
        # A browser's preflight carries no Authorization header, and must still pass.
        preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"}
        async with session.options(base + ENDPOINT_PATH,
                                   headers=preflight) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
            allowed = response.headers["Access-Control-Allow-Headers"].lower()
            assert "authorization" in allowed and "content-type" in allowed
        async with session.get(base + HEALTH_PATH) as response:
            assert response.status == 200 and await response.json() == {"status": "ok"}


async def test_cors_limited_to_configured_origins(start: Any) -> None:
    base = await start(cors_origins=frozenset({"https://app.example"}))
    _, headers, _ = await post(base, {})
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    _, headers, _ = await post(base, {}, {"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers


def test_serve_command_binds_reads_env_and_answers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "TOKEN_SERVER"))}
    env.update(TOKEN_SERVER_SECRET=BEARER, TOKEN_SERVER_ALLOWED_AGENTS="voice-agent,other")
    (tmp_path / ".env.local").write_text(
        f"LIVEKIT_URL={URL}\nLIVEKIT_API_KEY={KEY}\nLIVEKIT_API_SECRET={SECRET}\n")
    process = subprocess.Popen([sys.executable, str(TOOL), "serve", "--port", "0"], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        assert "127.0.0.1" in banner and BEARER not in banner and SECRET not in banner
        base = banner.split()[2].removesuffix(ENDPOINT_PATH)
        body = json.dumps(TOKEN_SOURCE_BODY).encode()
        request = _request(base, body, {"Authorization": f"Bearer {BEARER}"})
        assert request[0] == 201
        assert api.TokenVerifier(KEY, SECRET).verify(request[1]["participant_token"])
        assert _request(base, body, {})[0] == 401
        refused = dict(TOKEN_SOURCE_BODY, room_config={"agents": [{"agent_name": "nope"}]})
        assert _request(base, json.dumps(refused).encode(),
                        {"Authorization": f"Bearer {BEARER}"})[0] == 403
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _request(base: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(base + ENDPOINT_PATH, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
async def test_start_up_line_brackets_an_ipv6_host(capsys: pytest.CaptureFixture[str]) -> None:
    server = asyncio.create_task(run_server(ServeConfig(CREDENTIALS, load_directory()),
                                            "::1", 0))
    try:
        async with asyncio.timeout(10):
            while not (banner := capsys.readouterr().out):
                await asyncio.sleep(0.01)
        url = banner.split()[2]
        assert url.startswith("http://[::1]:") and url.endswith(ENDPOINT_PATH)
        # The printed URL is one a client can use as it is.
        async with aiohttp.ClientSession() as session, session.get(
                url.removesuffix(ENDPOINT_PATH) + HEALTH_PATH) as response:
            assert response.status == 200
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


def test_serve_does_not_default_to_the_worker_health_check_port(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert token_tool.main(["serve", "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "(default 8090;" in shown and "(default 8081" not in shown


@pytest.fixture
def port_in_use() -> Any:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield str(taken.getsockname()[1])


@pytest.mark.parametrize("where", [["--port", "99999"], ["--port", "http"],
                                   ["--host", "256.0.0.1", "--port", "0"], "in use"])
def test_serve_where_it_cannot_listen_exits_2_with_one_error_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, where: Any) -> None:
    monkeypatch.chdir(request.getfixturevalue("tmp_path"))
    if where == "in use":
        where = ["--host", "127.0.0.1", "--port", request.getfixturevalue("port_in_use")]
    code = token_tool.main(["serve", "--dev", *where])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert "Traceback" not in err
    [error] = [line for line in err.splitlines() if "error" in line]
    assert where[-1] in error or where[1] in error
