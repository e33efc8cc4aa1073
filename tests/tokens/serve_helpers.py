"""The token server on a real 127.0.0.1 port, and a client that reads any reply, for the
profile API and connection-details tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from voice_settings.profiles import DEFAULT_PROFILES_DIR
from voice_settings.store import load_directory
from voice_settings.tokens.credentials import Credentials
from voice_settings.tokens.server import ServeConfig, make_runner

URL = "wss://voice.example.test"
KEY = "APIadmintest"
SECRET = "admin-test-secret-long-enough-for-hs256-0123456789"
ADMIN_SECRET = "profiles-admin-secret-for-the-tests"
BROWSER_SECRET = "browser-bearer-secret-for-connection-details"
CREDENTIALS = Credentials(URL, KEY, SECRET)
ADMIN = {"Authorization": f"Bearer {ADMIN_SECRET}"}


def shipped_profiles(directory: Path) -> Path:
    """A writable copy of the shipped profiles/ directory."""
    shutil.copytree(DEFAULT_PROFILES_DIR, directory)
    return directory


def config_for(directory: Path, **overrides: Any) -> ServeConfig:
    overrides.setdefault("profiles_admin_secret", ADMIN_SECRET)
    return ServeConfig(CREDENTIALS, load_directory(directory, None), **overrides)


@asynccontextmanager
async def serving(config: ServeConfig) -> AsyncIterator[str]:
    runner = make_runner(config)  # as `serve` runs it: access log included
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextmanager
def serving_in_thread(config: ServeConfig) -> Iterator[str]:
    """The server on its own event loop in a thread, for synchronous (hypothesis) tests."""
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[str] = concurrent.futures.Future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with serving(config) as base:
            started.set_result(base)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        yield started.result(30)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


async def call(session: aiohttp.ClientSession, method: str, url: str, body: Any = None, *,
               raw: bytes | None = None, headers: dict[str, str] | None = None,
               ) -> tuple[int, CIMultiDict[str], Any]:
    """(status, headers (case-insensitive), decoded JSON reply or None)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    sent = {"Content-Type": "application/json", "Origin": "https://admin.example",
            **(headers or {})}
    async with session.request(method, url, data=data, headers=sent) as response:
        text = await response.text()
        return response.status, response.headers.copy(), json.loads(text) if text else None


def raw_request(base: str, method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                body: bytes = b"") -> tuple[int, bytes, bytes]:
    """Send bytes exactly as given (no client cleans a header value or the target) on a socket;
    (status, raw response headers, response body). Content-Length is added, the connection
    closes after the reply."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    head = b"%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (
        method.encode(), target, host.encode())
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    head += b"Content-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(head + body)
        reply = b"".join(iter(lambda: connection.recv(65536), b""))
    status_line, _, rest = reply.partition(b"\r\n")
    response_headers, _, response_body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), response_headers, response_body


ROOT = Path(__file__).resolve().parent.parent.parent


def serve_env(**store: str) -> dict[str, str]:
    """The environment of a real `token_tool.py serve` with the profile API on; `store` is
    VOICE_PROFILES_DIR=... or VOICE_PROFILES_URL=..."""
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIVEKIT_", "TOKEN_SERVER", "PROFILES_ADMIN", "VOICE_"))}
    return {**env, "LIVEKIT_URL": URL, "LIVEKIT_API_KEY": KEY, "LIVEKIT_API_SECRET": SECRET,
            "PROFILES_ADMIN_SECRET": ADMIN_SECRET, "PYTHONUNBUFFERED": "1", **store}


@contextmanager
def serve_processes(count: int, env: dict[str, str]) -> Iterator[list[str]]:
    """`count` replicas of `token_tool.py serve --port 0`, each its own process on one store;
    yields their base URLs."""
    import subprocess
    import sys

    processes = [subprocess.Popen([sys.executable, str(ROOT / "token_tool.py"), "serve",
                                   "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(count)]
    try:
        bases = []
        for process in processes:
            banner = process.stdout.readline()
            assert banner.startswith("serving"), process.stderr.read()
            bases.append(banner.split()[2].rsplit("/api/", 1)[0])
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.communicate(timeout=30)
