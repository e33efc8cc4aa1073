"""A throw-away PostgreSQL cluster for tests (and for trying the database store by hand).

    .venv/bin/python -m tests.pg                    # one until Enter, printing its URL

    with PostgresCluster.started() as cluster:      # initdb + pg_ctl start, on a free port
        url = cluster.create_database("mine")       # postgresql://postgres@127.0.0.1:PORT/mine
        cluster.restart()                           # e.g. to test reconnecting
    # stopped and removed

It uses Debian's `postgresql` package (initdb and pg_ctl under /usr/lib/postgresql/*/bin, or on
PATH). Run as root, the server runs as the `postgres` user (it refuses to run as root). It
listens on 127.0.0.1 only, with its socket in its own temporary directory, and trusts local
connections: never point it at data you want to keep. `pg_binaries()` is None where PostgreSQL
is not installed; the pytest fixtures in tests/conftest.py then skip with that reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

INSTALL_HINT = "PostgreSQL is not installed (Debian: apt-get install postgresql)"


def pg_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(os.path.realpath(initdb)).parent))
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresCluster:
    def __init__(self, binaries: Path, root: Path) -> None:
        self.binaries = binaries
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    @classmethod
    @contextlib.contextmanager
    def started(cls) -> Iterator[PostgresCluster]:
        binaries = pg_binaries()
        if binaries is None:
            raise RuntimeError(INSTALL_HINT)
        root = Path(tempfile.mkdtemp(prefix="voice-pg-"))
        cluster = cls(binaries, root)
        try:
            cluster._init()
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
            shutil.rmtree(root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q",
                  "-c", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      check=False)

    def restart(self) -> None:
        """Stop (dropping every connection at once) and start again on the same port."""
        self.stop()
        self.start()

    def _init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        argv = [str(self.binaries / program), *args]
        if self._as_postgres:  # the server refuses to run as root
            argv = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]
        result = subprocess.run(argv, capture_output=True, text=True, cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}")


def main() -> None:
    """`python -m tests.pg`: a cluster with a `voice` database until Enter or Ctrl+C."""
    with PostgresCluster.started() as cluster:
        print(f"VOICE_PROFILES_URL={cluster.create_database('voice')}", flush=True)
        with contextlib.suppress(KeyboardInterrupt, EOFError):
            input("Enter stops and removes it. ")


if __name__ == "__main__":
    main()
