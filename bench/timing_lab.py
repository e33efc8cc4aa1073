"""Measure what each timing setting does, with the timing lab, and write bench/TIMING.md.

    .venv/bin/python bench/timing_lab.py [--repeat 2] [--out bench/TIMING.md]

Runs the lab (the real agent in a fresh process per session, against the listening Deepgram
stand-in), ONE SESSION AT A TIME, over: every profile on the default scenarios and pauses; the
caller's voice (festival vs espeak-ng) under the default profile; sweeps of
min_endpointing_delay ("vad" and "model") and endpointing_ms ("stt"), each fitted as a floor
and a slope above it; preemptive generation on and off; and a repeatability check (the same
plan twice; first-audio p50s must agree within 10 % or 100 ms). About 35 minutes on 2 quiet
cores. Run it on a quiet machine: a starved VAD falls behind real time and inflates every delay.
Sections already measured are cached in bench/.timing_cache.json, so a failed run resumes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from voice_settings.lab import report
from voice_settings.lab.api import LabRequest, run_lab
from voice_settings.lab.plan import DEFAULT_PAUSES, DEFAULT_SCENARIOS
from voice_settings.lab.progress import progress_bar
from voice_settings.store import load_directory

HERE = Path(__file__).resolve().parent
PROFILES = ("default", "patient", "snappy", "dictation")
DELAYS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0)
ENDPOINTINGS = (100, 300, 600, 1000, 1500)
VOICES = ("festival", "espeak")
CACHE = HERE / ".timing_cache.json"
AGREE_MS, AGREE_SHARE = 100.0, 0.10


def lab(request: LabRequest, take: int = 1) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The runs and conditions of one lab request (its `take`-th measurement), measured once
    (cached by the request)."""
    key = f"{take} {request!r}"
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if key not in cache:
        print(f"-- {command(request)}", file=sys.stderr)
        with progress_bar() as progress:
            result = run_lab(request, store=load_directory(), progress=progress)
        cache[key] = result.document
        CACHE.write_text(json.dumps(cache))
    return cache[key]["runs"], cache[key]["conditions"]


def command(request: LabRequest) -> str:
    """The lab command that measures `request`."""
    parts = ["python -m voice_settings lab"]
    parts += [f"--profile {p}" for p in request.profiles]
    parts += [f"--set {s}" for s in request.sets]
    parts += [f"--scenario {s}" for s in request.scenarios]
    if request.pauses:
        parts.append("--pause " + ",".join(f"{p:g}" for p in request.pauses))
    parts.append(f"--voice {request.voice}")
    if request.repeat != 1:
        parts.append(f"--repeat {request.repeat}")
    if request.llm_latency_s:
        parts.append(f"--llm-latency {request.llm_latency_s:g}")
    return " ".join(parts)


def hinge_fit(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(floor, knee, slope): y = floor up to x = knee, then floor + slope * (x - knee).

    Least squares over every knee between the points' x values (1 % steps): a delay that is
    flat below some setting and follows it above is one floor and one slope, not one line
    through the kink."""
    xs = sorted(x for x, _ in points)
    best: tuple[float, float, float, float] | None = None
    for step in range(101):
        knee = xs[0] + (xs[-1] - xs[0]) * step / 100
        hinge = [(max(0.0, x - knee), y) for x, y in points]
        n = len(hinge)
        mean_h = sum(h for h, _ in hinge) / n
        mean_y = sum(y for _, y in hinge) / n
        var = sum((h - mean_h) ** 2 for h, _ in hinge)
        slope = 0.0 if var == 0 else sum((h - mean_h) * (y - mean_y) for h, y in hinge) / var
        floor = mean_y - slope * mean_h
        error = sum((floor + slope * h - y) ** 2 for h, y in hinge)
        if best is None or error < best[0] - 1e-9:
            best = (error, floor, knee, slope)
    assert best is not None
    return best[1], best[2], best[3]


def _cell(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def _rules(run: dict[str, Any]) -> str:
    return ", ".join(f"{rule} {count}" for rule, count in sorted(run["end_of_turn_rules"].items()))


def fenced(text: str, kind: str = "text") -> list[str]:
    return [f"```{kind}", text, "```", ""]


def profiles_section(repeat: int) -> list[str]:
    request = LabRequest(profiles=PROFILES, repeat=repeat)
    runs, conditions = lab(request)
    report.plot(runs, HERE / "timing_profiles.png", "pause length (s)", conditions=conditions)
    pauses = ", ".join(f"{p:g}" for p in DEFAULT_PAUSES)
    return ["## Every profile", "",
            f"Scenarios {', '.join(DEFAULT_SCENARIOS)} (hesitation at pauses of {pauses} s), "
            "festival voice. \"turns ended by\" counts the rule of every caller turn (including "
            "the hesitation turns); the pause rows count the sessions where the agent took the "
            "turn inside the mid-sentence pause.", "",
            *fenced(command(request) + " --plot bench/timing_profiles.png", "sh"),
            *fenced(report.table(runs, conditions)),
            "![profiles: first audio and cut-ins per pause](timing_profiles.png)", ""]


def voice_section(repeat: int) -> list[str]:
    lines = ["## The caller's voice changes the model's verdict", "",
             "The bundled `v1-mini` end-of-turn model judges the last ~1.2 s of caller AUDIO. "
             "Below its threshold (0.36 for English) the agent waits `max_endpointing_delay`, "
             "above it `min_endpointing_delay`. The same sentence in two synthetic voices, "
             "default profile:", "",
             "| voice | first audio p50 | p90 | model P(done) p50 | turns ended by |",
             "|---|---:|---:|---:|---|"]
    commands = []
    for voice in VOICES:
        request = LabRequest(scenarios=["question"], voice=voice, repeat=repeat)
        [run], _ = lab(request)
        commands.append(command(request))
        probability = run["model_probability"]["p50"]
        lines.append(f"| {voice} | {_cell(run['first_audio_ms']['p50'])} | "
                     f"{_cell(run['first_audio_ms']['p90'])} | "
                     f"{'-' if probability is None else f'{probability:.2f}'} | {_rules(run)} |")
    return [*lines, "", *fenced("\n".join(commands), "sh")]


def sweep_section(title: str, field: str, values: tuple, mode: str, repeat: int,
                  extra: tuple[str, ...] = ()) -> tuple[list[str], list[dict[str, Any]],
                                                         dict[str, Any]]:
    sets = (f"{field}={','.join(str(v) for v in values)}", f"turn_detection={mode}", *extra)
    request = LabRequest(scenarios=["question"], sets=sets, repeat=repeat)
    runs, conditions = lab(request)
    unit = 1.0 if field.endswith("_ms") else 1000.0  # x in ms
    lines = [f"### {title}", "", *fenced(command(request), "sh"),
             f"| {field} | first audio p50 | p90 | LLM request p50 | turns ended by |",
             "|---:|---:|---:|---:|---|"]
    for value, run in zip(values, runs, strict=True):
        lines.append(f"| {value} | {_cell(run['first_audio_ms']['p50'])} | "
                     f"{_cell(run['first_audio_ms']['p90'])} | "
                     f"{_cell(run['llm_request_ms']['p50'])} | {_rules(run)} |")
    lines.append("")
    points = [(v * unit, r["first_audio_ms"]["p50"]) for v, r in zip(values, runs, strict=True)
              if r["first_audio_ms"]["p50"] is not None]
    if len(points) >= 3:
        floor, knee, slope = hinge_fit(points)
        if knee <= points[0][0]:
            lines.append(f"- first audio: no floor in this range; **{slope:.2f} s per s** from "
                         f"**{floor / 1000:.2f} s** at {field} = {_knee(knee / unit)} "
                         "(fitted to the p50s)")
        else:
            lines.append(f"- first audio: flat at **{floor / 1000:.2f} s** up to {field} = "
                         f"{_knee(knee / unit)}, then **{slope:.2f} s per s** above it "
                         "(a floor and a slope fitted to the p50s)")
    lines.append(f"- {report.conditions_line(conditions)}")
    lines.append("")
    return lines, runs, conditions


def _knee(value: float) -> str:
    """A fitted knee as a setting is written: 0.56 (seconds), 203 (ms)."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2f}".rstrip("0").rstrip(".")


def preemptive_section(repeat: int) -> list[str]:
    request = LabRequest(scenarios=["question"], repeat=repeat, llm_latency_s=0.5,
                         sets=("preemptive_generation=true,false", "turn_detection=vad",
                               "min_endpointing_delay=1.0"))
    runs, conditions = lab(request)
    return ["## Preemptive generation", "",
            "With an LLM that takes 0.5 s to its first token: preemptive generation sends the "
            "request at the STT final, so the model's time overlaps the end-of-turn wait.", "",
            *fenced(command(request), "sh"), *fenced(report.table(runs, conditions))]


def repeatability_section(repeat: int) -> list[str]:
    """The same plan twice, measured apart: do the p50s agree?"""
    first = LabRequest(scenarios=["question"], repeat=repeat,
                       sets=("turn_detection=vad", "min_endpointing_delay=1.0"))
    [a], _ = lab(first, take=1)
    [b], _ = lab(first, take=2)
    p50s = [a["first_audio_ms"]["p50"], b["first_audio_ms"]["p50"]]
    allowed = max(AGREE_MS, AGREE_SHARE * max(p50s))
    agree = abs(p50s[0] - p50s[1]) <= allowed
    return ["## Repeatability", "",
            *fenced(command(first) + "   # twice", "sh"),
            f"First audio p50: {_cell(p50s[0])} and {_cell(p50s[1])}: "
            f"{'**agree**' if agree else '**DISAGREE**'} (difference "
            f"{abs(p50s[0] - p50s[1]):.0f} ms, allowed {allowed:.0f} ms: 10 % or 100 ms, "
            "whichever is larger).", ""]


NOTES = """## Reading these numbers

- **first audio** is the caller's end of speech -> the agent's first audio frame: what the
  caller hears. **LLM request** is the end of speech -> the LLM request: with preemptive
  generation it leaves at the STT final whatever the end-of-turn wait, so it is flat in every
  sweep and says little about what the caller hears.
- **"vad"**: the framework counts the wait from the last speech frame, and Silero reports the end
  of speech only after 0.55 s of silence: a `min_endpointing_delay` below that is already spent,
  so first audio has a floor there and follows the setting one for one above it.
- **"stt"**: the final transcript comes `endpointing_ms` after the speech, so the answer follows it
  one for one.
- **"model"** with the bundled `v1-mini` detector: its verdict decides between the two delays,
  and it depends on the voice (see above). Synthetic voices are not callers: measure your own
  recordings with `--wav FILE --text "..."`, and read each turn's rule in `--json`'s `turn_log`
  or in `--record`'s timelines.
- Every figure here was taken one session at a time (`--jobs 1`); sessions sharing the CPU
  inflate each other's delays (by 0.3-0.6 s with two at once on 2 cores).
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2, help="sessions per point (2)")
    parser.add_argument("--out", default=str(HERE / "TIMING.md"))
    parser.add_argument("--keep-cache", action="store_true",
                        help="keep bench/.timing_cache.json (re-render without measuring)")
    args = parser.parse_args()
    started = time.monotonic()
    n = args.repeat

    profiles = profiles_section(n)
    voices = voice_section(n + 1)
    vad, vad_runs, vad_conditions = sweep_section(
        'min_endpointing_delay, turn detection "vad"', "min_endpointing_delay", DELAYS, "vad", n)
    model, _, _ = sweep_section('min_endpointing_delay, turn detection "model"',
                                "min_endpointing_delay", DELAYS[::2], "model", n)
    stt, _, _ = sweep_section('endpointing_ms, turn detection "stt"', "endpointing_ms",
                              ENDPOINTINGS, "stt", n, ("min_endpointing_delay=0.2",))
    report.plot(vad_runs, HERE / "timing_min_delay_vad.png", "min_endpointing_delay (s)",
                {r["label"]: v for v, r in zip(DELAYS, vad_runs, strict=True)},
                conditions=vad_conditions)
    repeatability = repeatability_section(n + 1)
    preemptive = preemptive_section(n + 1)

    minutes = (time.monotonic() - started) / 60
    load = os.getloadavg()[0]
    text = "\n".join([
        "# What the timing settings do: measured with the timing lab", "",
        f"Written by `python bench/timing_lab.py --repeat {args.repeat}` on {dt.date.today()} "
        f"({platform.machine()}, {len(os.sched_getaffinity(0))} cores, load average "
        f"{load:.1f} at the end, {minutes:.0f} min). Each session is the real agent in a fresh "
        "process hearing the festival voice (`cmu_us_slt_arctic_hts`; espeak-ng where it says "
        "so) through the real Silero VAD and the bundled `v1-mini` end-of-turn model, ONE "
        "SESSION AT A TIME; the Deepgram stand-in finalizes after `endpointing_ms` of silence "
        "(never sooner than 100 ms); LLM and TTS stand-ins answer at once unless a section "
        "says otherwise. Figures are p50/p90 over the sessions' turns. A machine shared with "
        "other work inflates them: re-run the command on a quiet machine before quoting them.",
        "", *profiles, *voices, "## How first audio follows the settings", "", *vad, *model,
        *stt, "![min_endpointing_delay, vad](timing_min_delay_vad.png)", "", *repeatability,
        *preemptive, NOTES])
    Path(args.out).write_text(text, encoding="utf-8")
    if not args.keep_cache:
        CACHE.unlink(missing_ok=True)
    print(f"wrote {args.out} in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
