"""The token server's answers to the store's own faults: a read-only or full file system, and a
directory where a profile file should be -> 503 or 409 with a message, never a traceback; and
secrets that could never work refused at start.

The file-system faults are real: a small tmpfs mounted for the test (needs root, else skipped).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.tokens.serve_helpers import ADMIN, ROOT, call, config_for, serve_env, serving
from voice_settings.profiles import DEFAULT_PROFILES_DIR

CREATE = {"If-None-Match": "*"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs holding a copy of the shipped profiles."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
            capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield shutil.copytree(DEFAULT_PROFILES_DIR, mount_point / "profiles")
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def put(base: str, session: aiohttp.ClientSession, name: str, body: dict | None,
              condition: dict[str, str], raw: bytes | None = None):
    return await call(session, "PUT", f"{base}/api/profiles/{name}", body, raw=raw,
                      headers={**ADMIN, **condition})


def assert_store_fault(status: int, reply: dict, expected: int, words: str) -> None:
    assert status == expected and words in reply["error"], reply
    assert reply["errors"][0]["message"] == reply["error"]
    assert "Traceback" not in str(reply)


async def test_a_full_disk_and_a_read_only_store_answer_503(small_disk: Path) -> None:
    async with serving(config_for(small_disk)) as base, aiohttp.ClientSession() as session:
        _, headers, _ = await call(session, "GET", f"{base}/api/profiles/patient", headers=ADMIN)
        with contextlib.suppress(OSError), open(small_disk.parent / "filler", "wb") as filler:
            while True:
                filler.write(b"x" * 4096)
                filler.flush()
        before = (small_disk / "patient.toml").read_bytes()
        status, _, reply = await put(base, session, "patient", {"endpointing_ms": 300},
                                     {"If-Match": headers["ETag"]})
        assert_store_fault(status, reply, 503, "full disk")
        assert (small_disk / "patient.toml").read_bytes() == before
        assert sorted(p.name for p in small_disk.iterdir() if p.name.endswith(".tmp")) == []

        (small_disk.parent / "filler").unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk.parent)], check=True)
        status, _, reply = await put(base, session, "patient", {"endpointing_ms": 300},
                                     {"If-Match": headers["ETag"]})
        assert_store_fault(status, reply, 503, "read-only")
        status, _, reply = await call(session, "GET", f"{base}/api/profiles/patient",
                                      headers=ADMIN)
        assert status == 200 and reply["version"] == headers["ETag"].strip('"')


async def test_a_directory_where_a_profile_file_should_be_answers_409(tmp_path: Path) -> None:
    directory = shutil.copytree(DEFAULT_PROFILES_DIR, tmp_path / "profiles")
    (directory / "blocked.toml").mkdir()
    (directory / "dangling.toml").symlink_to(tmp_path / "nowhere")
    async with serving(config_for(directory)) as base, aiohttp.ClientSession() as session:
        for name in ("blocked", "dangling"):
            status, _, reply = await put(base, session, name, {"endpointing_ms": 300}, CREATE)
            assert_store_fault(status, reply, 409, f"{name}.toml")
        # The rest of the store still works, and a new profile is in use at once.
        assert (await put(base, session, "fresh", {"endpointing_ms": 300}, CREATE))[0] == 201
        status, _, _ = await call(session, "POST", f"{base}/api/connection-details",
                                  {"participant_metadata": '{"profile": "fresh"}'})
        assert status == 201


@pytest.mark.parametrize("raw", [b"", b"  \n", b"[]", b'"text"', b"null"])
async def test_an_empty_or_non_object_body_is_a_400_and_changes_nothing(
        tmp_path: Path, raw: bytes) -> None:
    directory = shutil.copytree(DEFAULT_PROFILES_DIR, tmp_path / "profiles")
    before = (directory / "patient.toml").read_bytes()
    async with serving(config_for(directory)) as base, aiohttp.ClientSession() as session:
        _, headers, _ = await call(session, "GET", f"{base}/api/profiles/patient", headers=ADMIN)
        status, _, reply = await put(base, session, "patient", None,
                                     {"If-Match": headers["ETag"]}, raw=raw)
        assert status == 400 and reply["error"]
    assert (directory / "patient.toml").read_bytes() == before


@pytest.mark.parametrize(("secrets", "words"), [
    ({"PROFILES_ADMIN_SECRET": "same-secret-for-both", "TOKEN_SERVER_SECRET":
      "same-secret-for-both"}, "must differ from TOKEN_SERVER_SECRET"),
    ({"PROFILES_ADMIN_SECRET": b"caf\xe9-secret"}, "PROFILES_ADMIN_SECRET is not valid UTF-8"),
])
def test_serve_refuses_an_admin_secret_that_cannot_work(tmp_path: Path, secrets: dict,
                                                       words: str) -> None:
    env = {k.encode(): v.encode() for k, v in serve_env(
        VOICE_PROFILES_DIR=str(DEFAULT_PROFILES_DIR)).items()}
    env.update({k.encode(): v if isinstance(v, bytes) else v.encode()
                for k, v in secrets.items()})
    result = subprocess.run([sys.executable, str(ROOT / "token_tool.py"),
                             "serve", "--port", "0"], env=env, capture_output=True, timeout=60)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2 and result.stdout == b""
    assert stderr.count("\n") == 1 and words in stderr, stderr
    assert "same-secret-for-both" not in stderr
