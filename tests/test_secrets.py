"""No secret from the environment ever shows: not in a log line (at DEBUG), on stdout or stderr,
in an HTTP reply, or in an attribute the agent publishes. The agent and token_tool.py run with
distinctive values, through their error paths too, and every output is searched for any
16-character piece of any secret."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from livekit import api

import token_tool
from tests.agent_helpers import running_agent, until, user_turn

SECRETS = {
    "LIVEKIT_API_SECRET": "lksecret-Aq7Zp3Lw9Xc2Vb8Nm4Kj6Hg1Fd5Sa0Qw",
    "TOKEN_SERVER_SECRET": "browserbearer-Rt5Yu8Io2Pa6Sd9Fg3Hj7Kl1Zx4Cv",
    "PROFILES_ADMIN_SECRET": "adminbearer-Bn6Mq2We9Rt4Yu7Io1Pa5Sd8Fg3Hj",
    "DEEPGRAM_API_KEY": "dgkey-Kl8Zx3Cv6Bn1Mq9We4Rt7Yu2Io5Pa0Sd",
    "OPENAI_API_KEY": "sk-proj-Gh4Jk8Lz1Xc5Vb9Nm2Qw6Er3Ty7Ui0Op",
}
PIECE = 16
KEY = "APIsecretstest"
ENDPOINT = "/api/connection-details"


def leaks(text: str) -> list[str]:
    """The variables any 16-character piece of whose value appears in `text`."""
    return [name for name, secret in SECRETS.items()
            if any(secret[i:i + PIECE] in text for i in range(len(secret) - PIECE + 1))]


# --- The agent --------------------------------------------------------------------------------

async def test_the_agent_shows_no_secret(caplog: pytest.LogCaptureFixture,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    metadata = json.dumps({"systemPrompt": "You are Ada.", "endpointingMs": 90000})
    async with running_agent(metadata, env=SECRETS) as stack:
        assert os.environ["OPENAI_API_KEY"] == SECRETS["OPENAI_API_KEY"]  # what the agent reads
        stack.openai.script_error(401, "Incorrect API key provided")
        await user_turn(stack, "hello")
        # not a bare "401": a random request id in any line may contain it
        await until(lambda: [r for r in caplog.records if "401 Unauthorized" in r.getMessage()],
                    "the 401")
        stack.room.set_metadata("alice", '{"systemPrompt": "\\ud800", "llm_model": "gpt-4o"}')
        await stack.deepgram.drop()
        await stack.deepgram.wait_for_connection(index=1)
        await user_turn(stack, "still there?")
        await stack.room.leave("alice")
        await stack.wait_for_shutdown_request()
        local = stack.room.local_participant
        published = json.dumps([local.attribute_updates, local.metadata_updates,
                                [str(t) for t in local.transcriptions],
                                [repr(s) for s in local.sent + local.streams]])

    out, err = capfd.readouterr()
    assert "input rejected" in caplog.text and "401 Unauthorized" in caplog.text  # error paths ran
    assert leaks(caplog.text) == []
    assert leaks(out + err) == []
    assert leaks(published) == []


# --- token_tool.py ----------------------------------------------------------------------------

@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VOICE_DEFAULT_PROFILE", raising=False)
    monkeypatch.delenv("VOICE_PROFILES_DIR", raising=False)
    env = {**SECRETS, "LIVEKIT_URL": "wss://voice.example.test", "LIVEKIT_API_KEY": KEY}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def tool(*argv: str, stdin: str = "") -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            contextlib.suppress(SystemExit):
        sys.stdin = io.StringIO(stdin)
        try:
            code = token_tool.main(list(argv))
        finally:
            sys.stdin = sys.__stdin__
        return code, out.getvalue() + err.getvalue()
    return 2, out.getvalue() + err.getvalue()  # argparse exited


def test_mint_and_inspect_show_no_secret(secret_env: dict[str, str]) -> None:
    code, minted = tool("mint", "--json", "-r", "demo", "-i", "alice", "--agent", "a")
    token = json.loads(minted)["access_token"]
    outputs = [minted]
    outputs.append(tool("inspect", token)[1])
    outputs.append(tool("inspect", "-", stdin=token)[1])
    outputs.append(tool("inspect", token[:-4] + "AAAA")[1])  # a bad signature
    outputs.append(tool("mint", "-r", "demo", "--set", "endpointing_ms=0.3")[1])  # exit 2
    outputs.append(tool("mint", "--nope")[1])
    assert code == 0 and all(outputs)
    assert api.TokenVerifier(KEY, SECRETS["LIVEKIT_API_SECRET"]).verify(token)  # signed with it
    assert leaks("\n".join(outputs)) == []


@contextlib.contextmanager
def room_service(status: int) -> Iterator[str]:
    """A RoomService that answers every call with a Twirp error of `status`."""
    async def refuse(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"code": "internal", "msg": "no"}, status=status)

    app = web.Application()
    app.router.add_post("/twirp/livekit.RoomService/{method}", refuse)
    with serving_app(app) as base:
        yield base


@contextlib.contextmanager
def serving_app(app: web.Application) -> Iterator[str]:
    import asyncio

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(app)

    def on_loop(coroutine):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)

    on_loop(runner.setup())
    on_loop(web.TCPSite(runner, "127.0.0.1", 0).start())
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        on_loop(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.mark.parametrize("status", [401, 404, 500])
def test_update_errors_show_no_secret(secret_env: dict[str, str],
                                      monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    with room_service(status) as base:
        monkeypatch.setenv("LIVEKIT_URL", base)
        code, output = tool("update", "-r", "demo", "-i", "alice", "--instructions", "Hi.")
    assert code == 1 and output
    assert leaks(output) == []


def test_update_to_nowhere_shows_no_secret(secret_env: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_URL", "http://127.0.0.1:9")  # nothing listens there
    code, output = tool("update", "-r", "demo", "-i", "alice", "--instructions", "Hi.")
    assert code == 1 and leaks(output) == []


# `serve` as run from the command line, in its own process; a signing bug that quotes the
# secrets the server holds is planted for one room, to take the 500 path.
SERVE_WITH_A_BUG = """
import os, sys
import token_tool
from voice_settings.tokens import server

signed = server.sign
def sign(credentials, request):
    if request.room == "boom":
        raise RuntimeError("signing broke: " + credentials.api_secret + " "
                           + os.environ["TOKEN_SERVER_SECRET"] + " "
                           + os.environ["PROFILES_ADMIN_SECRET"])
    return signed(credentials, request)
server.sign = sign
sys.exit(token_tool.main(["serve", "--port", "0", "--allow-agent", "settings-agent"]))
"""


def test_serve_replies_and_log_show_no_secret(secret_env: dict[str, str],
                                               tmp_path: Path) -> None:
    env = {**os.environ, **secret_env}
    process = subprocess.Popen([sys.executable, "-c", SERVE_WITH_A_BUG], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    replies: list[tuple[int, str]] = []
    try:
        banner = process.stdout.readline()
        base = banner.split()[2].removesuffix(ENDPOINT)
        browser = {"Authorization": f"Bearer {SECRETS['TOKEN_SERVER_SECRET']}"}
        admin = {"Authorization": f"Bearer {SECRETS['PROFILES_ADMIN_SECRET']}"}
        for path, method, body, headers in [
            (ENDPOINT, "POST", {"room_name": "demo"}, browser),               # 201
            (ENDPOINT, "POST", {"room_name": "boom"}, browser),               # 500
            (ENDPOINT, "POST", {"room_name": "demo"}, admin),                 # 401
            (ENDPOINT, "POST", {"room_name": "demo"}, {}),                    # 401
            (ENDPOINT, "POST", {"participant_metadata": '{"endpointingMs": 1e9}'}, browser),
            (ENDPOINT, "POST", {"room_config": {"agents": [{"agent_name": "x"}]}}, browser),
            (ENDPOINT, "POST", {"nope": 1}, browser),                         # 400
            ("/api/profiles", "GET", None, admin),                            # 200
            ("/api/profiles", "GET", None, browser),                          # 401
            ("/api/profiles/patient", "PUT", {"endpointing_ms": -1}, {**admin, "If-Match": "x"}),
            ("/api/profiles/nobody", "GET", None, admin),                     # 404
        ]:
            replies.append(http(base + path, method, body, headers))
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)

    statuses = [status for status, _ in replies]
    assert statuses[:4] == [201, 500, 401, 401] and statuses[7:9] == [200, 401]
    assert all(400 <= s < 500 for s in statuses[4:7] + statuses[9:])
    assert "signing broke" in err and "[redacted]" in err  # the bug was logged, redacted
    assert leaks(banner + out + err) == []
    assert leaks("\n".join(text for _, text in replies)) == []


def http(url: str, method: str, body: object, headers: dict[str, str]) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, f"{response.headers}\n{response.read().decode()}"
    except urllib.error.HTTPError as error:
        return error.code, f"{error.headers}\n{error.read().decode()}"
