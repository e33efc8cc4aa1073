"""`python -m voice_settings lab`: what each timing setting does to a conversation.

    python -m voice_settings lab --profile snappy --profile patient
    python -m voice_settings lab --set min_endpointing_delay=0.3,0.8,1.5 --set turn_detection=vad \\
        --scenario hesitation --pause 0.4,0.8,1.2 --plot delay.png
    python -m voice_settings lab --wav my-user.wav --text "I would like to book a table"
    python -m voice_settings lab --profile snappy --profile patient --record out/   # listen

Each session speaks a scenario to the REAL agent (agent.py, the framework, Silero VAD, the
turn detector) through offline stand-ins: a Deepgram that listens to the audio and finalizes
after `endpointing_ms` of silence, and OpenAI LLM/TTS stand-ins with the latencies you give.
Recognition is not modelled: the words come from the scenario. Sessions run one at a time.
First audio (the caller's end of speech -> the agent's first audio) leads the table; each
caller turn says which end-of-turn rule ended it. From Python: `voice_settings.lab.api`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..harness.speech import DEFAULT_VOICE, VOICES
from ..profiles import ProfileStore
from ..tool_errors import EXIT_FAILURE, EXIT_OK
from . import plan, report
from .api import LabRequest, run_lab
from .progress import progress_bar

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
                        "list, dictation; default "
                        f"{','.join(f'{p:g}' for p in plan.DEFAULT_PAUSES)}; for backchannel, "
                        "the wait before the mm-hm)")
    parser.add_argument("--voice", choices=VOICES, default=DEFAULT_VOICE,
                        help=f"the synthetic caller's voice (default {DEFAULT_VOICE}, the most "
                        "natural; the bundled end-of-turn model judges audio, so the voice "
                        "changes its verdicts)")
    parser.add_argument("--wav", metavar="FILE", help="your own recording of a caller")
    parser.add_argument("--text", help="what --wav says (recognition is not modelled)")
    parser.add_argument("--repeat", type=int, default=1, help="sessions per combination (1)")
    parser.add_argument("--llm-latency", type=float, default=0.0, metavar="S",
                        help="the LLM stand-in's time to first token, seconds (0)")
    parser.add_argument("--tts-latency", type=float, default=0.0, metavar="S",
                        help="the TTS stand-in's time to first byte, seconds (0)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="sessions at once (default 1: sessions that share the CPU inflate "
                        "each other's delays; more is for quick exploration)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--plot", metavar="FILE.png", type=Path,
                        help="also draw first audio (p50, p90 whiskers) and cut-ins per pause")
    parser.add_argument("--record", metavar="DIR", type=Path,
                        help="write <session>.wav (caller left, agent right), "
                        "<session>.timeline.json and <session>.timeline.png per session")


def _seconds_list(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of seconds like 0.4,0.8") \
            from None
    if any(not 0.15 <= v <= 30 for v in values):  # also refuses NaN
        raise argparse.ArgumentTypeError("pauses must be from 0.15 s to 30 s")
    return values


def request_from(args: argparse.Namespace) -> LabRequest:
    return LabRequest(
        profiles=args.profile, sets=args.set, scenarios=args.scenario, pauses=args.pause,
        repeat=args.repeat, voice=args.voice, wav=args.wav, text=args.text,
        llm_latency_s=args.llm_latency, tts_latency_s=args.tts_latency, jobs=args.jobs,
        record_dir=args.record, plot=args.plot)


def cmd_lab(args: argparse.Namespace, store: ProfileStore) -> int:
    request = request_from(args)
    trials = request.check(store)  # every refusal before the first session (and the bar)
    with progress_bar() as progress:
        result = run_lab(request, store=store, progress=progress, trials=trials)
    if args.json:
        print(report.json_document(result.runs, result.document["conditions"]))
    else:
        print(report.table(result.runs, result.document["conditions"]))
    if args.plot:
        report.plot(result.runs, args.plot, *_x_axis(args, result.runs),
                    conditions=result.document["conditions"])
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.record:
        pictures = "" if all("png" in r for r in result.recordings) else (
            " (WAV and timeline JSON; no timeline pictures without matplotlib: "
            "pip install -e '.[lab]')")
        print(f"{len(result.recordings)} recording(s) written to {args.record}{pictures}",
              file=sys.stderr)
    return EXIT_FAILURE if result.failed else EXIT_OK


def _x_axis(args: argparse.Namespace, runs: list[dict[str, Any]]) -> tuple[str, Any]:
    """The first numeric sweep of a timing setting is the x axis; without one, the pause."""
    for name, values in plan.sweeps(args.set):
        if len(values) > 1 and name in plan.TIMING_FIELDS and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return name, {run["label"]: float(run["settings"][name]) for run in runs}
    return "pause length (s)", None
