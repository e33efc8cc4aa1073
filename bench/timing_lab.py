"""Measure what each timing setting does, with the timing lab, and write bench/TIMING.md.

    .venv/bin/python bench/timing_lab.py [--repeat 2] [--sweep-repeat 1] [--jobs 1]

Runs the lab (`python -m voice_settings lab`, the real agent in fresh processes against the
listening Deepgram stand-in) over: every profile on three scenarios; sweeps of
min_endpointing_delay ("vad" and "model") and endpointing_ms ("stt"), fitting slope and offset;
the hesitation pause at which each profile starts cutting in; preemptive generation on and off.
Real time: about 45 minutes with the defaults (--jobs 1) on 2 cores. Run it on a quiet machine: a
starved VAD falls behind real time and inflates every delay.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from voice_settings.lab import plan, report, runner
from voice_settings.lab.results import summarize
from voice_settings.store import load_directory

HERE = Path(__file__).resolve().parent
PROFILES = ("default", "patient", "snappy", "dictation")
DELAYS = (0.2, 0.5, 1.0, 1.5, 2.0)
ENDPOINTINGS = (100, 300, 600, 1000, 1500)
PAUSES = (0.3, 0.6, 1.0, 1.5, 2.5)


CACHE = HERE / ".timing_cache.json"  # sections already measured, so a failed run resumes


NOTES = """## Reading these numbers

- **"vad"**: the agent answers after Silero's end of speech (0.55 s of silence) plus the wait, so
  `min_endpointing_delay` below about 0.5 s changes little, and above it every extra second of
  wait is about a second more before the caller hears the answer.
- **"stt"**: the final transcript comes `endpointing_ms` after the speech, so the answer follows it
  one for one.
- **"model"** with the bundled `v1-mini` detector and espeak-ng speech: the detector judged these
  synthetic sentences unfinished, so the agent waited `max_endpointing_delay` every time (the
  flat line). With human speech it ends turns sooner; measure your own recordings with
  `--wav FILE --text "..."`. `max_endpointing_delay` is what a caller waits when it misjudges.
- **Preemptive generation** sends the LLM request at the final transcript, before the wait ends:
  with instant stand-ins that saves little of the first audio, with a real LLM it saves the
  model's time to first token (try `--llm-latency 0.6`).
- **Backchannels**: an "mm-hm" 1.5 s into the answer pauses the agent when
  `min_interruption_duration` is short enough, and it resumes after `false_interruption_timeout`.
"""


def lab(profiles: list[str], sets: list[str], scenarios: list[str], pauses: list[float],
        repeat: int, jobs: int) -> list[dict[str, Any]]:
    key = json.dumps([profiles, sets, scenarios, pauses, repeat])
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if key not in cache:
        cache[key] = _measure(profiles, sets, scenarios, pauses, repeat, jobs)
        CACHE.write_text(json.dumps(cache))
    return cache[key]


def _measure(profiles: list[str], sets: list[str], scenarios: list[str], pauses: list[float],
             repeat: int, jobs: int) -> list[dict[str, Any]]:
    store = load_directory()
    settings = plan.settings_sets(profiles, sets, store)
    trials = plan.trials(settings, scenarios, pauses, repeat)
    results = asyncio.run(runner.run_all(trials, jobs=jobs, llm_latency_s=0.0,
                                         tts_latency_s=0.0, progress=runner.progress_bar()))
    return [summarize(s, results) for s in settings]


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope and offset of y against x."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var
    return slope, mean_y - slope * mean_x


def _ms(run: dict[str, Any], metric: str) -> float | None:
    return run[metric]["p50"]


def sweep_section(title: str, field: str, values: tuple, mode: str, repeat: int, jobs: int,
                  extra: list[str]) -> tuple[str, list[dict[str, Any]]]:
    joined = ",".join(str(v) for v in values)
    sets = [f"{field}={joined}", f"turn_detection={mode}", *extra]
    runs = lab([], sets, ["question"], [], repeat, jobs)
    unit = 1.0 if field.endswith("_ms") else 1000.0  # x in ms
    lines = [f"### {title}", "", "```sh", "python -m voice_settings lab --scenario question "
             + " ".join(f"--set {s}" for s in sets) + f" --repeat {repeat}", "```", "",
             f"| {field} | LLM request p50 | first audio p50 |", "|---:|---:|---:|"]
    for value, run in zip(values, runs, strict=True):
        lines.append(f"| {value} | {_cell(_ms(run, 'response_delay_ms'))} | "
                     f"{_cell(_ms(run, 'first_audio_ms'))} |")
    lines.append("")
    for metric, name in (("first_audio_ms", "first audio"), ("response_delay_ms", "LLM request")):
        points = [(v * unit, _ms(r, metric)) for v, r in zip(values, runs, strict=True)
                  if _ms(r, metric) is not None]
        if len(points) >= 2:
            slope, offset = fit(points)
            lines.append(f"- {name}: slope **{slope:.2f}** ms per ms of {field}, offset "
                         f"**{offset:.0f} ms** (least squares over the p50s)")
    lines.append("")
    return "\n".join(lines), runs


def _cell(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def cut_in_section(repeat: int, jobs: int) -> str:
    lines = ["### The pause at which each profile starts cutting in", "", "```sh",
             "python -m voice_settings lab --scenario hesitation --pause "
             + ",".join(str(p) for p in PAUSES) + " "
             + " ".join(f"--profile {p}" for p in PROFILES) + f" --repeat {repeat}", "```", ""]
    runs = lab(list(PROFILES), [], ["hesitation"], list(PAUSES), repeat, jobs)
    lines.append("| profile | " + " | ".join(f"{p:g} s pause" for p in PAUSES)
                 + " | first pause cut |")
    lines.append("|---|" + "---:|" * (len(PAUSES) + 1))
    for run in runs:
        cells, first = [], "none up to 2.5 s"
        for pause in PAUSES:
            entry = run["cut_ins_by_pause"].get(f"{pause:.2f}", {"pauses": 0, "cut_ins": 0})
            cells.append(f"{entry['cut_ins']}/{entry['pauses']}")
            if entry["cut_ins"] and first.startswith("none"):
                first = f"{pause:g} s"
        lines.append(f"| {run['label']} | " + " | ".join(cells) + f" | {first} |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2,
                        help="sessions per profile and scenario, and per preemptive case x2 (2)")
    parser.add_argument("--sweep-repeat", type=int, default=1,
                        help="sessions per point of the sweeps and the cut-in table (1)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "TIMING.md"))
    args = parser.parse_args()
    started = time.monotonic()

    profiles = lab(list(PROFILES), [], list(plan.DEFAULT_SCENARIOS), [], args.repeat, args.jobs)
    report.plot(profiles, HERE / "timing_profiles.png", "pause length (s)")
    sweep_repeat = args.sweep_repeat
    vad, vad_runs = sweep_section("min_endpointing_delay, turn detection \"vad\"",
                                  "min_endpointing_delay", DELAYS, "vad", sweep_repeat,
                                  args.jobs, [])
    model, model_runs = sweep_section("min_endpointing_delay, turn detection \"model\"",
                                      "min_endpointing_delay", DELAYS, "model", sweep_repeat,
                                      args.jobs, [])
    stt, stt_runs = sweep_section("endpointing_ms, turn detection \"stt\"", "endpointing_ms",
                                  ENDPOINTINGS, "stt", sweep_repeat, args.jobs,
                                  ["min_endpointing_delay=0.2"])
    report.plot(vad_runs, HERE / "timing_min_delay_vad.png", "min_endpointing_delay (s)",
                {r["label"]: v for v, r in zip(DELAYS, vad_runs, strict=True)})
    cut_ins = cut_in_section(sweep_repeat, args.jobs)
    preemptive = lab([], ["preemptive_generation=true,false", "turn_detection=vad",
                          "min_endpointing_delay=1.0"], ["question"], [], args.repeat * 2,
                     args.jobs)

    minutes = (time.monotonic() - started) / 60
    text = "\n".join([
        "# What the timing settings do: measured with the timing lab", "",
        f"Written by `{' '.join(['python', *sys.argv])}` on {dt.date.today()} "
        f"({platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
        f"{minutes:.0f} min, --jobs {args.jobs}, --repeat {args.repeat}, --sweep-repeat "
        f"{args.sweep_repeat}). Each session is the "
        "real agent in a fresh process hearing espeak-ng speech through the real Silero VAD; "
        "the Deepgram stand-in finalizes after `endpointing_ms` of silence (never sooner than "
        "100 ms); LLM and TTS stand-ins answer at once (add `--llm-latency`/`--tts-latency` to "
        "the lab for your providers). Figures are p50s over the sessions. **LLM request**: the "
        "caller's end of speech -> the LLM request; **first audio**: -> the agent's first "
        "audio frame, the delay the caller hears.", "",
        "## Every profile", "", "```sh",
        "python -m voice_settings lab " + " ".join(f"--profile {p}" for p in PROFILES)
        + f" --repeat {args.repeat} --plot bench/timing_profiles.png", "```", "", "```text",
        report.table(profiles), "```", "", "![profiles](timing_profiles.png)", "",
        "## How the delay follows the settings", "", vad, model, stt,
        "![min_endpointing_delay, vad](timing_min_delay_vad.png)", "", cut_ins,
        "## Preemptive generation", "", "```sh",
        "python -m voice_settings lab --scenario question --set preemptive_generation=true,false "
        f"--set turn_detection=vad --set min_endpointing_delay=1.0 --repeat {args.repeat * 2}",
        "```", "", "```text", report.table(preemptive), "```", "", NOTES])
    Path(args.out).write_text(text, encoding="utf-8")
    CACHE.unlink(missing_ok=True)
    print(f"wrote {args.out} in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
