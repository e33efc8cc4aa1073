"""The lab's output: a side-by-side table, one JSON document, a plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..tool_errors import UsageError

SETTING_ROWS = ("turn_detection", "endpointing_ms", "min_endpointing_delay",
                "max_endpointing_delay", "min_interruption_duration", "preemptive_generation")


def json_document(runs: Sequence[dict[str, Any]], conditions: dict[str, Any]) -> str:
    return json.dumps({"runs": list(runs), "conditions": conditions}, indent=2,
                      ensure_ascii=False)


def _seconds(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def _fraction(count: int, out_of: int) -> str:
    return f"{count}/{out_of}" if out_of else "-"


def table(runs: Sequence[dict[str, Any]]) -> str:
    """Rows of figures, one column per settings set."""
    rows: list[tuple[str, list[str]]] = [
        ("sessions / user turns", [f"{r['sessions']} / {r['turns']}" for r in runs]),
        ("response delay p50", [_seconds(r["response_delay_ms"]["p50"]) for r in runs]),
        ("response delay p90", [_seconds(r["response_delay_ms"]["p90"]) for r in runs]),
        ("first audio p50", [_seconds(r["first_audio_ms"]["p50"]) for r in runs]),
        ("first audio p90", [_seconds(r["first_audio_ms"]["p90"]) for r in runs]),
        ("cut-ins (pauses answered)", [
            _fraction(r["cut_ins"], sum(p["pauses"] for p in r["cut_ins_by_pause"].values()))
            for r in runs]),
    ]
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
    return _render([header, *rows]) + (f"\n{errors} session(s) failed; see --json" if errors
                                       else "")


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
         x_of: dict[str, float] | None = None) -> None:
    """Response delay and cut-ins per swept value (or per pause length), one line per profile.

    `x_of` maps a run's label to its x value (the swept setting); without it, the x axis is the
    pause length and each run contributes its cut-ins per pause."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install -e '.[lab]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (delay_axis, cut_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for profile, members in _by_profile(runs).items():
        if x_of:
            points = sorted((x_of[r["label"]], r) for r in members)
            xs = [x for x, _ in points]
            delay_axis.plot(xs, [_s(r["response_delay_ms"]["p50"]) for _, r in points],
                            marker="o", label=f"{profile} p50")
            delay_axis.plot(xs, [_s(r["first_audio_ms"]["p50"]) for _, r in points],
                            marker="x", linestyle="--", label=f"{profile} first audio p50")
            cut_axis.plot(xs, [r["cut_ins"] for _, r in points], marker="o", label=profile)
        else:
            for r in members:
                keys = sorted(r["cut_ins_by_pause"], key=float)
                cut_axis.plot([float(k) for k in keys],
                              [r["cut_ins_by_pause"][k]["cut_ins"]
                               / max(1, r["cut_ins_by_pause"][k]["pauses"]) for k in keys],
                              marker="o", label=r["label"])
            delay_axis.bar([r["label"] for r in members],
                           [_s(r["response_delay_ms"]["p50"]) or 0 for r in members],
                           label=profile)
    delay_axis.set_title("response delay (end of speech -> LLM request)")
    delay_axis.set_ylabel("seconds")
    cut_axis.set_title("cut-ins inside mid-utterance pauses")
    cut_axis.set_ylabel("cut-ins" if x_of else "share of pauses cut")
    for axis in (delay_axis, cut_axis) if x_of else (cut_axis,):
        axis.set_xlabel(x_label)
    for axis in (delay_axis, cut_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _by_profile(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault(run["profile"] or "default", []).append(run)
    return grouped
