"""Cold start: how long a fresh interpreter takes to import the agent and the settings package.

    .venv/bin/python bench/bench_import.py [runs]

Median wall time of `python -c "import X"` over fresh processes (default 5), and the ratio to a
bare interpreter start. Importing `agent` pulls in livekit-agents and the plugins: that is what
`python agent.py start` pays before the worker registers.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

CASES = {"bare interpreter": "pass", "import voice_settings": "import voice_settings",
         "import token_tool": "import token_tool", "import agent": "import agent"}


def median_seconds(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(runs: int) -> None:
    results = {name: median_seconds(code, runs) for name, code in CASES.items()}
    base = results["bare interpreter"]
    print(f"{runs} fresh processes per row; median")
    for name, seconds in results.items():
        print(f"{name:<24} {seconds * 1000:>8.0f} ms {seconds / base:>6.1f}x bare")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
