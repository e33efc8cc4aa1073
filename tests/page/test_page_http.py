"""What `serve` answers for the settings page over real HTTP: the page and its policy, why Call is
off, caller settings validated with the agent's messages, and the lab runs API's refusals (the
run itself is heard in test_settings_page.py)."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.tokens.serve_helpers import (
    ADMIN,
    ADMIN_SECRET,
    CREDENTIALS,
    KEY,
    SECRET,
    call,
    config_for,
    serving,
)
from voice_settings.page import lab_queue
from voice_settings.page.site import LIVEKIT_CLIENT, STATIC_DIR, PageConfig, call_problems
from voice_settings.resolution import resolve
from voice_settings.store import load_directory
from voice_settings.tokens.credentials import Credentials
from voice_settings.tokens.server import ServeConfig

pytestmark = pytest.mark.usefixtures("clean_profile_env")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def offline(profiles_copy: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """serve without LiveKit credentials, the profile API (and so the lab) on."""
    config = ServeConfig(None, load_directory(profiles_copy, None),
                         profiles_admin_secret=ADMIN_SECRET)
    async with serving(config) as base, aiohttp.ClientSession() as session:
        yield base, session


async def test_the_page_is_html_whose_policy_allows_no_inline_code(offline) -> None:
    base, session = offline
    async with session.get(base + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        policy = response.headers["Content-Security-Policy"]
        html = await response.text()
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in policy
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    for path in [STATIC_DIR / "index.html", *STATIC_DIR.glob("js/*.js")]:
        text = path.read_text()
        assert not re.search(r"""\sstyle=|\son[a-z]+=["']|innerHTML""", text), path.name
    async with session.get(base + "/page/js/main.js") as response:
        assert response.status == 200 and response.content_type == "text/javascript"
    async with session.get(base + "/page/../site.py") as response:
        assert response.status == 404


async def test_without_credentials_call_is_off_and_says_how(offline) -> None:
    base, session = offline
    status, _, info = await call(session, "GET", base + "/api/page")
    assert status == 200 and info["admin"] is True
    reasons = [p["reason"] for p in info["call"]["problems"]]
    assert "serve has no LiveKit credentials" in reasons
    assert "LIVEKIT_URL" in info["call"]["problems"][0]["how"]
    status, _, body = await call(session, "POST", base + "/api/connection-details", {})
    assert status == 503 and "LIVEKIT_URL" in body["error"]


def test_without_livekit_client_call_says_which_npm_command(tmp_path: Path) -> None:
    config = PageConfig(livekit_url=CREDENTIALS.url, admin=True, connection_bearer=False,
                        default_agent=None, lab_options={},
                        livekit_client=tmp_path / "missing.mjs")
    [problem] = call_problems(config)
    assert problem["reason"] == "livekit-client is not installed"
    assert "npm ci --prefix" in problem["how"] and problem["how"].rstrip().endswith("page")


@pytest.mark.skipif(not LIVEKIT_CLIENT.is_file(), reason="livekit-client not installed "
                    "(npm ci --prefix voice_settings/page)")
async def test_livekit_client_is_served_from_node_modules(profiles_copy: Path) -> None:
    async with serving(config_for(profiles_copy)) as base, aiohttp.ClientSession() as session:
        async with session.get(base + "/page/vendor/livekit-client.mjs") as response:
            assert response.status == 200 and response.content_type == "text/javascript"
            assert "TokenSourceCustom" in await response.text()
        _, _, info = await call(session, "GET", base + "/api/page")
        assert info["call"]["problems"] == []
        connect = response.headers["Content-Security-Policy"].split("connect-src ")[1]
        assert connect.startswith("'self' wss://voice.example.test https://voice.example.test")


async def test_caller_settings_are_checked_with_the_agents_messages(offline) -> None:
    base, session = offline
    url = base + "/api/settings/validate"
    status, _, body = await call(session, "POST", url, {"endpointingMs": 300, "theme": "dark"})
    assert status == 200
    assert body["metadata"] == '{"endpointingMs":300,"theme":"dark"}'
    assert body["settings"]["endpointing_ms"] == 300 and body["passed_through"] == ["theme"]

    bad = {"min_endpointing_delay": 9, "stt_model": "nova-2"}
    status, _, body = await call(session, "POST", url, bad)
    assert status == 400
    agent_says = {e.field: e.message for e in resolve(participant=bad).errors}
    by_field = {e["field"]: e["message"] for e in body["errors"]}
    assert by_field["min_endpointing_delay"] == agent_says["min_endpointing_delay"]
    assert by_field["stt_model"] == agent_says["stt_model"]


async def test_lab_runs_refuse_without_bearer_and_invalid_settings(offline,
                                                                  profiles_copy: Path) -> None:
    base, session = offline
    url = base + "/api/lab/runs"
    status, headers, _ = await call(session, "POST", url, {})
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    status, _, body = await call(session, "POST", url,
                                 {"settings": {"endpointing_ms": -5}}, headers=ADMIN)
    assert status == 400 and body["errors"][0]["field"] == "endpointing_ms"
    status, _, body = await call(session, "POST", url, {"profile": "nope"}, headers=ADMIN)
    assert status == 400 and body["errors"][0]["field"] == "profile"
    status, _, body = await call(session, "POST", url, {"scenario": "opera"}, headers=ADMIN)
    assert status == 400 and "question" in body["error"]
    status, _, body = await call(session, "POST", url, {"speed": 2}, headers=ADMIN)
    assert status == 400 and body["errors"][0]["field"] == "speed"
    status, _, _ = await call(session, "GET", url + "/unknown", headers=ADMIN)
    assert status == 404

    async with serving(config_for(profiles_copy, profiles_admin_secret=None)) as no_admin:
        status, _, body = await call(session, "POST", no_admin + "/api/lab/runs", {},
                                     headers=ADMIN)
        assert status == 401 and "PROFILES_ADMIN_SECRET" in body["error"]


@pytest.fixture
def no_lab_leftovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary directory of the test's own for the lab (this process's and serve's), empty
    again once the server stopped."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch
    assert list(scratch.glob("voice-lab-runs-*")) == []


@pytest.mark.usefixtures("no_lab_leftovers")
async def test_a_full_queue_answers_429_with_retry_after(offline) -> None:
    base, session = offline
    url = base + "/api/lab/runs"
    accepted = []
    for _ in range(lab_queue.MAX_WAITING + 1):  # one runs, the others wait
        status, headers, body = await call(session, "POST", url, {}, headers=ADMIN)
        assert status == 202 and headers["Location"] == f"/api/lab/runs/{body['id']}"
        accepted.append(headers["Location"])
    status, headers, body = await call(session, "POST", url, {}, headers=ADMIN)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    status, _, body = await call(session, "GET", base + accepted[-1], headers=ADMIN)
    assert status == 200 and body["status"] == "queued"
    status, _, _ = await call(session, "GET", base + accepted[-1])
    assert status == 401


async def test_live_updates_go_through_the_update_path(profiles_copy: Path, offline) -> None:
    base, session = offline
    url = "/api/calls/update"
    change = {"room": "r", "identity": "alice", "settings": {"endpointing_ms": 300}}
    status, _, body = await call(session, "POST", base + url, change, headers=ADMIN)
    assert status == 503 and "credentials" in body["error"]
    with socket.socket() as probe:  # a LiveKit server that is not there
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = dataclasses.replace(config_for(profiles_copy),
                                 credentials=Credentials(closed, KEY, SECRET))
    async with serving(config) as other:
        status, _, _ = await call(session, "POST", other + url, change)
        assert status == 401
        bad = {**change, "settings": {"endpointing_ms": 0.3}}
        status, _, body = await call(session, "POST", other + url, bad, headers=ADMIN)
        assert status == 400 and body["errors"][0]["field"] == "endpointing_ms"
        status, _, body = await call(session, "POST", other + url, change, headers=ADMIN)
        assert status == 502 and "nothing was changed" in body["error"]


def test_finished_runs_are_kept_under_a_count_and_a_size(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    runs = lab_queue.LabRuns({})
    for n in range(lab_queue.MAX_KEPT_RUNS + 3):
        run = lab_queue.LabRun(f"run{n}", {"label": "x"}, tmp_path / f"run{n}", finished=float(n))
        run.directory.mkdir()
        (run.directory / "recording.wav").write_bytes(b"\0" * 1000)
        runs.runs[run.id] = run
    runs._trim()
    assert set(runs.runs) == {f"run{n}" for n in range(3, lab_queue.MAX_KEPT_RUNS + 3)}
    assert not (tmp_path / "run0").exists() and (tmp_path / "run3").exists()
    monkeypatch.setattr(lab_queue, "MAX_KEPT_BYTES", 2500)
    runs._trim()
    assert set(runs.runs) == {f"run{lab_queue.MAX_KEPT_RUNS + 1}",
                              f"run{lab_queue.MAX_KEPT_RUNS + 2}"}


def test_serve_without_credentials_stops_its_simulation_on_sigterm(
        tmp_path: Path, no_lab_leftovers: Path) -> None:
    """`serve` starts without LiveKit credentials, runs a simulation, and SIGTERM (docker stop)
    stops it and removes what it wrote, as Ctrl-C does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "TOKEN_SERVER"))}
    env.update(PROFILES_ADMIN_SECRET=ADMIN_SECRET, TMPDIR=str(no_lab_leftovers))
    process = subprocess.Popen([sys.executable, str(ROOT / "token_tool.py"), "serve", "--port",
                                "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        process.stdout.readline()  # the endpoint
        page_line = process.stdout.readline()
        assert page_line.startswith("settings page: http://127.0.0.1:")
        base = page_line.split()[-1].rstrip("/")
        request = urllib.request.Request(base + "/api/lab/runs", data=b"{}", method="POST",
                                         headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "LIVEKIT_URL" in stderr and "503" in stderr  # said once, at start
