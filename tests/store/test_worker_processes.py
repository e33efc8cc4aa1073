"""`python agent.py start` as a real worker (no LiveKit server: it keeps retrying to register,
while its process pool prewarms job processes): a profile store that goes bad while it runs never
fails a job process's start; the log names the file. Timeouts are safety nets only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.test_agent_process import ROOT, SAFETY_NET_S, offline_agent_env
from voice_settings.profiles import DEFAULT_PROFILES_DIR


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "agent.py", "start"], cwd=ROOT,
                                        env=offline_agent_env(env), stdout=self.out,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def records(self) -> list[dict]:
        self.out.seek(0)
        lines = self.out.read().decode("utf-8", "replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def text(self) -> str:
        self.out.seek(0)
        return self.out.read().decode("utf-8", "replace")

    def wait_for(self, predicate, what: str) -> None:
        deadline = time.monotonic() + SAFETY_NET_S
        while not predicate(self.records()):
            assert self.process.poll() is None, f"the worker ended:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"never: {what}\n{self.text()[-3000:]}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.out.close()


def initialized(records: list[dict]) -> list[int]:
    return [r["pid"] for r in records if r["message"] == "process initialized"]


def failed_starts(records: list[dict]) -> list[dict]:
    return [r for r in records if r["message"] in ("error initializing process",)
            or (r["message"].startswith("process exited with non-zero exit code")
                and not r["message"].endswith("-9"))]


# A worker takes ~25 s to start here (the forkserver's preloads): the database case is run on
# demand (VOICE_SLOW_TESTS=1); its job-side path is the directory's, tested in-process.
STORES = ["directory", "postgresql"] if os.environ.get("VOICE_SLOW_TESTS") else ["directory"]


@pytest.mark.parametrize("store", STORES)
def test_a_profile_broken_while_the_worker_runs_fails_no_process_start(
        store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    directory = shutil.copytree(DEFAULT_PROFILES_DIR, tmp_path / "profiles")
    env = {"VOICE_PROFILES_DIR": str(directory)}
    if store == "postgresql":
        url = request.getfixturevalue("profiles_db_url")
        assert subprocess.run([sys.executable, "-m", "voice_settings", "profiles", "import",
                               str(directory)], env={**os.environ, "VOICE_PROFILES_URL": url},
                              capture_output=True).returncode == 0
        env = {"VOICE_PROFILES_URL": url}
    worker = Worker({**env, "LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE": "0"})
    try:
        worker.wait_for(lambda records: len(initialized(records)) >= 1, "a prewarmed process")
        if store == "directory":
            (directory / "patient.toml").write_text('min_endpointing_delay = "slow"\n')
            (directory / ".#patient.toml").write_text("")  # an editor's lock file
            where = str(directory / "patient.toml")
        else:
            import psycopg

            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute("""UPDATE voice_profiles SET "values" = """
                                   """'{"min_endpointing_delay": "slow"}' WHERE name = 'patient'""")
            where = "row 'patient'"
        worker.wait_for(lambda records: any(where in r["message"] for r in records),
                        "the worker logs the broken profile")
        # A job ended: the pool replaces its process, which starts with the broken store.
        before = initialized(worker.records())
        os.kill(before[0], signal.SIGKILL)
        worker.wait_for(lambda records: len(initialized(records)) > len(before),
                        "a replacement process")
        time.sleep(2)  # a crash loop would show here as failed starts
        records = worker.records()
    finally:
        worker.stop()
    assert failed_starts(records) == []
    rejected = [r for r in records if r["message"].startswith("profile rejected")]
    assert len(rejected) == 1 and where in rejected[0]["message"], rejected
    assert rejected[0]["field"] == "min_endpointing_delay"
    if store == "directory":
        skipped = [r for r in records if ".#patient.toml" in r["message"]]
        assert len(skipped) == 1 and "skipped" in skipped[0]["message"]
