"""The lab's output: a side-by-side table, one JSON document, a plot.

Figures (all from the caller's end of speech, in the session's real time):

- **first audio** (`first_audio_ms`): -> the agent's first audio frame. What the caller hears;
  the headline.
- **LLM request** (`llm_request_ms`): -> the LLM request. With preemptive generation it leaves
  at the STT's final transcript, whatever the end-of-turn wait, so it says little about what
  the caller hears.
- **end of turn**: which rule ended each turn (`voice_settings/runtime/end_of_turn.py`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..runtime.end_of_turn import RULES
from .results import NOT_COMMITTED

SETTING_ROWS = ("turn_detection", "endpointing_ms", "min_endpointing_delay",
                "max_endpointing_delay", "min_interruption_duration", "preemptive_generation")


def json_document(runs: Sequence[dict[str, Any]], conditions: dict[str, Any]) -> str:
    return json.dumps({"runs": list(runs), "conditions": conditions}, indent=2,
                      ensure_ascii=False, allow_nan=False)


def _seconds(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def _fraction(count: int, out_of: int) -> str:
    return f"{count}/{out_of}" if out_of else "-"


def conditions_line(conditions: dict[str, Any]) -> str:
    """Where the figures came from, for the table's foot and the plot's caption."""
    jobs = conditions.get("jobs", 1)
    how = ("one session at a time" if jobs <= 1 else
           f"{jobs} sessions at a time IN PARALLEL: they competed for the CPU, so delays are "
           "inflated; use --jobs 1 for figures to compare")
    latency = (f"LLM stand-in {conditions.get('llm_latency_s', 0):g} s, TTS stand-in "
               f"{conditions.get('tts_latency_s', 0):g} s")
    return f"voice {conditions.get('voice', '?')}; {latency}; {how}"


def table(runs: Sequence[dict[str, Any]], conditions: dict[str, Any] | None = None) -> str:
    """Rows of figures, one column per settings set; first audio leads."""
    rows: list[tuple[str, list[str]]] = [
        ("sessions / user turns", [f"{r['sessions']} / {r['turns']}" for r in runs]),
        ("first audio p50 (caller hears)", [_seconds(r["first_audio_ms"]["p50"]) for r in runs]),
        ("first audio p90", [_seconds(r["first_audio_ms"]["p90"]) for r in runs]),
    ]
    if any(r["repeat_halves"] for r in runs):
        rows.append(("  p50, repeats split in two", [_halves(r["repeat_halves"]) for r in runs]))
    rows += [
        ("LLM request p50", [_seconds(r["llm_request_ms"]["p50"]) for r in runs]),
        ("turns ended by", ["" for _ in runs]),
    ]
    for rule in [*RULES, NOT_COMMITTED]:
        if any(r["end_of_turn_rules"].get(rule) for r in runs):
            rows.append((f"  {rule}", [_fraction(r["end_of_turn_rules"].get(rule, 0), r["turns"])
                                        for r in runs]))
    if any(r["model_probability"]["p50"] is not None for r in runs):
        rows.append(("  model P(done) p50 / threshold", [_probability(r) for r in runs]))
    rows.append(("cut-ins (pauses answered)", [
        _fraction(r["cut_ins"], sum(p["pauses"] for p in r["cut_ins_by_pause"].values()))
        for r in runs]))
    pauses = sorted({key for r in runs for key in r["cut_ins_by_pause"]}, key=float)
    for key in pauses:
        rows.append((f"  cut-ins at a {float(key):g} s pause", [
            _fraction(r["cut_ins_by_pause"].get(key, {}).get("cut_ins", 0),
                      r["cut_ins_by_pause"].get(key, {}).get("pauses", 0)) for r in runs]))
    if any(r["backchannels"]["played"] for r in runs):
        rows.append(("backchannel interrupted the agent", [
            _fraction(r["backchannels"]["interrupted"], r["backchannels"]["played"])
            for r in runs]))
        rows.append(("  ... and the agent resumed", [
            _fraction(r["backchannels"]["resumed"], r["backchannels"]["interrupted"])
            for r in runs]))
    rows.append(("", ["" for _ in runs]))
    for name in SETTING_ROWS:
        rows.append((name, [_setting(r["settings"].get(name)) for r in runs]))
    errors = sum(len(r["errors"]) for r in runs)
    header = ("", [r["label"] for r in runs])
    foot = [] if conditions is None else [conditions_line(conditions)]
    if errors:
        foot.append(f"{errors} session(s) failed; see --json")
    return "\n".join([_render([header, *rows]), *foot])


def _halves(halves: list[float | None] | None) -> str:
    if not halves:
        return "-"
    return " / ".join("-" if h is None else f"{h / 1000:.2f}" for h in halves) + " s"


def _probability(run: dict[str, Any]) -> str:
    p, threshold = run["model_probability"]["p50"], run["model_probability"]["threshold"]
    return "-" if p is None else f"{p:.2f} / {threshold:.2f}"


def _setting(value: Any) -> str:
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _render(rows: list[tuple[str, list[str]]]) -> str:
    first = max(len(label) for label, _ in rows)
    widths = [max(len(cells[i]) for _, cells in rows) for i in range(len(rows[0][1]))]
    lines = []
    for n, (label, cells) in enumerate(rows):
        line = label.ljust(first) + "  " + "  ".join(
            cell.rjust(width) for cell, width in zip(cells, widths, strict=True))
        lines.append(line.rstrip())
        if n == 0:
            lines.append("-" * len(line))
    return "\n".join(lines)


def plot(runs: Sequence[dict[str, Any]], path: str | Path, x_label: str,
         x_of: dict[str, float] | None = None, *,
         conditions: dict[str, Any] | None = None) -> None:
    """First audio (p50, whiskers to p90) per swept value or per column, and, when the runs
    had mid-sentence pauses, cut-ins per pause as steps with the number of sessions behind
    each point; one line per column (per profile along a sweep)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_pauses = any(run["cut_ins_by_pause"] for run in runs)
    figure, axes = plt.subplots(1, 2 if with_pauses else 1,
                                figsize=(12, 4.6) if with_pauses else (7, 4.6), squeeze=False)
    delay_axis = axes[0][0]
    if x_of:
        for profile, members in _by_profile(runs).items():
            points = sorted((x_of[r["label"]], r) for r in members)
            _whiskers(delay_axis, [x for x, _ in points], [r for _, r in points], profile)
        delay_axis.set_xlabel(x_label)
        delay_axis.legend(fontsize=7, title="profile", title_fontsize=7)
    else:
        for n, run in enumerate(runs):
            _whiskers(delay_axis, [n], [run], run["label"])
        delay_axis.set_xticks(range(len(runs)), [r["label"] for r in runs], fontsize=7,
                              rotation=15)
    delay_axis.set_title("first audio: caller's end of speech -> agent's first audio\n"
                         "(dot p50, whisker to p90)", fontsize=9)
    delay_axis.set_ylabel("seconds")
    delay_axis.set_ylim(bottom=0)
    delay_axis.grid(alpha=0.3)
    if with_pauses:
        _cut_ins(axes[0][1], runs)
    if conditions is not None:
        figure.text(0.01, 0.01, conditions_line(conditions), fontsize=7)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _cut_ins(axis: Any, runs: Sequence[dict[str, Any]]) -> None:
    """Share of pauses cut per pause length, as steps; lines nudged apart so none hides."""
    for n, run in enumerate(runs):
        keys = sorted(run["cut_ins_by_pause"], key=float)
        if not keys:
            continue
        nudge = 0.015 * (n - (len(runs) - 1) / 2)
        counts = [run["cut_ins_by_pause"][k] for k in keys]
        share = [c["cut_ins"] / max(1, c["pauses"]) + nudge for c in counts]
        xs = [float(k) for k in keys]
        [line] = axis.step(xs, share, where="post", marker="o", label=run["label"])
        for x, y, c in zip(xs, share, counts, strict=True):
            axis.annotate(f"{c['cut_ins']}/{c['pauses']}", (x, y), fontsize=6,
                          color=line.get_color(), textcoords="offset points", xytext=(3, 3))
    axis.set_title("cut-ins: share of mid-sentence pauses the agent answered in\n"
                   "(labels: cut / sessions at that pause)", fontsize=9)
    axis.set_xlabel("pause length (s)")
    axis.set_ylabel("share of pauses cut")
    axis.set_ylim(-0.08, 1.12)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, title="lines differ in", title_fontsize=7)


def _whiskers(axis: Any, xs: list[float], runs: list[dict[str, Any]], label: str) -> None:
    p50 = [_s(r["first_audio_ms"]["p50"]) for r in runs]
    p90 = [_s(r["first_audio_ms"]["p90"]) for r in runs]
    above = [0 if a is None or b is None else max(0.0, b - a) for a, b in zip(p50, p90,
                                                                             strict=True)]
    axis.errorbar(xs, [float("nan") if v is None else v for v in p50],
                  yerr=[[0] * len(xs), above], marker="o", capsize=4, label=label)


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _by_profile(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault(run["profile"] or "default", []).append(run)
    return grouped
