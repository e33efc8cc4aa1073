"""How long resolving settings takes: what every call pays once at start and per change.

    .venv/bin/python bench/bench_settings.py

Prints the median of 7 runs (each timing many calls) per case, in microseconds per call, and the
ratio to the plain-defaults case. No assertions: numbers go into bench/RESULTS.md by hand, with
the machine they came from.
"""

from __future__ import annotations

import json
import statistics
import timeit

from voice_settings import resolve
from voice_settings.store import load_directory

PROFILES = load_directory()
PREVIOUS = resolve(participant='{"profile": "patient"}', profiles=PROFILES)

TYPICAL = json.dumps({"endpointingMs": 300, "minEndpointingDelay": 0.8,
                      "systemPrompt": "You are a helpful assistant. " * 20, "userId": "u-123"})
HOSTILE = json.dumps({"endpointing_ms": 90000, "min_endpointing_delay": 500, "stt_model": "x",
                      "profile": "../etc/passwd", "allow_interruptions": 1,
                      "instructions": "x" * 9000})
OVERSIZED = json.dumps({"padding": "x" * 70_000})

CASES = {
    "defaults (empty metadata)": lambda: resolve(participant="", profiles=PROFILES),
    "typical participant metadata": lambda: resolve(participant=TYPICAL, profiles=PROFILES),
    "profile + dispatch + participant": lambda: resolve(
        participant=TYPICAL, dispatch='{"profile": "snappy", "llm_model": "gpt-4o"}',
        profiles=PROFILES),
    "hostile metadata (6 bad fields)": lambda: resolve(participant=HOSTILE, profiles=PROFILES),
    "oversized metadata (70 KB)": lambda: resolve(participant=OVERSIZED, profiles=PROFILES),
    "mid-call change (previous=)": lambda: resolve(participant=TYPICAL, profiles=PROFILES,
                                                   previous=PREVIOUS),
    "profiles load (4 files)": lambda: load_directory(),
}


def median_us(fn, number: int) -> float:
    runs = timeit.repeat(fn, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    results = {name: median_us(fn, 200) for name, fn in CASES.items()}
    base = results["defaults (empty metadata)"]
    print(f"{'case':<36} {'median us/call':>15} {'x defaults':>11}")
    for name, value in results.items():
        print(f"{name:<36} {value:>15.1f} {value / base:>11.2f}")


if __name__ == "__main__":
    main()
