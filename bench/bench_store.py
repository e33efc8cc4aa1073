"""The profile store: how soon an edit reaches a follower (what every live call runs), and how
long a conditional write takes, for the directory and for PostgreSQL (a throw-away cluster from
tests/pg.py; skipped where PostgreSQL is not installed).

    .venv/bin/python bench/bench_store.py [ROUNDS]

Prints medians and p95 in milliseconds. No assertions: numbers go into bench/RESULTS.md by hand,
with the machine they came from.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pg import PostgresCluster, pg_binaries  # noqa: E402
from voice_settings.store import (  # noqa: E402
    DirectoryBackend,
    Expect,
    ProfileBackend,
    StoreFollower,
    load_strict,
)


async def measure(backend: ProfileBackend, rounds: int) -> dict[str, list[float]]:
    version = backend.write("bench", {"instructions": "start"}, "", None, Expect(absent=True))
    follower = StoreFollower(backend, load_strict(backend))
    follower.start()
    await asyncio.sleep(0.5)  # following
    writes, reached = [], []
    try:
        for number in range(rounds):
            text = f"edit {number}"
            started = time.perf_counter()
            version = await asyncio.to_thread(backend.write, "bench", {"instructions": text},
                                              "", None, Expect(versions=frozenset({version})))
            written = time.perf_counter()
            while follower.store.values("bench").get("instructions") != text:
                await asyncio.sleep(0.001)
            writes.append((written - started) * 1000)
            reached.append((time.perf_counter() - written) * 1000)
    finally:
        await follower.aclose()
    return {"conditional write": writes, "write -> follower has it": reached}


def report(store: str, results: dict[str, list[float]]) -> None:
    for what, values in results.items():
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{store:<11} {what:<26} median {statistics.median(values):7.1f} ms   "
              f"p95 {p95:7.1f} ms   (n={len(values)})")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory() as directory:
        report("directory", asyncio.run(measure(DirectoryBackend(directory), rounds)))
    if pg_binaries() is None:
        print("postgresql: not installed, skipped")
        return
    with PostgresCluster.started() as cluster:
        from voice_settings.store.postgres import PostgresBackend

        backend = PostgresBackend(cluster.create_database("bench"))
        report("postgresql", asyncio.run(measure(backend, rounds)))
        backend.close()


if __name__ == "__main__":
    main()
