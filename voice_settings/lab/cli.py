"""`python -m voice_settings lab`: what each timing setting does to a conversation.

    python -m voice_settings lab --profile snappy --profile patient
    python -m voice_settings lab --set min_endpointing_delay=0.3,0.8,1.5 --set turn_detection=vad \\
        --scenario hesitation --pause 0.4,0.8,1.2 --plot delay.png
    python -m voice_settings lab --wav my-user.wav --text "I would like to book a table"

Each session speaks a scenario to the REAL agent (agent.py, the framework, Silero VAD, the
turn detector) through offline stand-ins: a Deepgram that listens to the audio and finalizes
after `endpointing_ms` of silence, and OpenAI LLM/TTS stand-ins with the latencies you give.
Recognition is not modelled: the words come from the scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..profiles import ProfileStore
from ..tool_errors import EXIT_FAILURE, EXIT_OK, UsageError
from . import plan, report, runner
from .results import summarize

SCENARIO_NAMES = ("question", "hesitation", "list", "backchannel", "dictation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", action="append", default=[], metavar="NAME",
                        help="a profile to measure (repeatable; each is one column)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=V1,V2,...",
                        help="a setting, or a sweep of values (repeatable; combined with every "
                        "profile and every other sweep)")
    parser.add_argument("--scenario", action="append", default=[], choices=SCENARIO_NAMES,
                        help="what the caller says (repeatable; default: question, hesitation, "
                        "backchannel)")
    parser.add_argument("--pause", metavar="S1,S2,...", type=_seconds_list, default=[],
                        help="pause lengths in seconds for scenarios with a pause (hesitation, "
                        "list, dictation; for backchannel, the wait before the mm-hm)")
    parser.add_argument("--wav", metavar="FILE", help="your own recording of a caller")
    parser.add_argument("--text", help="what --wav says (recognition is not modelled)")
    parser.add_argument("--repeat", type=int, default=1, help="sessions per combination (1)")
    parser.add_argument("--llm-latency", type=float, default=0.0, metavar="S",
                        help="the LLM stand-in's time to first token, seconds (0)")
    parser.add_argument("--tts-latency", type=float, default=0.0, metavar="S",
                        help="the TTS stand-in's time to first byte, seconds (0)")
    parser.add_argument("--jobs", type=int, default=runner.default_jobs(),
                        help="sessions at once (default: the number of cores)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw response delay and "
                        "cut-ins per setting (or per pause length), one line per profile")


def _seconds_list(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of seconds like 0.4,0.8") \
            from None
    if any(not 0.15 <= v <= 30 for v in values):
        raise argparse.ArgumentTypeError("pauses must be from 0.15 s to 30 s")
    return values


def cmd_lab(args: argparse.Namespace, store: ProfileStore) -> int:
    if bool(args.wav) != bool(args.text):
        raise UsageError("--wav and --text go together: the recording and what it says")
    if args.llm_latency < 0 or args.tts_latency < 0:
        raise UsageError("--llm-latency and --tts-latency are seconds, 0 or more")
    sets = plan.settings_sets(args.profile, args.set, store)
    scenarios = args.scenario or ([] if args.wav else list(plan.DEFAULT_SCENARIOS))
    trials = plan.trials(sets, scenarios, args.pause, args.repeat, args.wav, args.text)
    results = asyncio.run(runner.run_all(
        trials, jobs=args.jobs, llm_latency_s=args.llm_latency, tts_latency_s=args.tts_latency,
        progress=runner.progress_bar()))
    runs = [summarize(settings, results) for settings in sets]
    conditions = {"jobs": args.jobs, "llm_latency_s": args.llm_latency,
                  "tts_latency_s": args.tts_latency, "scenarios": scenarios,
                  "pauses_s": args.pause, "repeat": args.repeat}
    if args.json:
        print(report.json_document(runs, conditions))
    else:
        print(report.table(runs))
    if args.plot:
        report.plot(runs, args.plot, *_x_axis(args, sets))
        print(f"plot written to {args.plot}", file=sys.stderr)
    return EXIT_FAILURE if any(run["errors"] for run in runs) else EXIT_OK


def _x_axis(args: argparse.Namespace, sets: list[plan.SettingsSet]) -> tuple[str, Any]:
    """The first numeric sweep is the x axis; without one, the pause length."""
    for name, values in plan.sweeps(args.set):
        if len(values) > 1 and all(isinstance(v, int | float) and not isinstance(v, bool)
                                   for v in values):
            return name, {s.label: float(s.values[name]) for s in sets}
    return "pause length (s)", None
