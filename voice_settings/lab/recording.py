"""`--record DIR`: what one lab session sounded like and when each thing happened.

Per session, three files named after the session (`runner.session_name`):

- `<session>.wav`: 16 kHz stereo 16-bit PCM, the caller on the left, the agent on the right,
  each placed at the moment it was played, so the gaps are the session's real timing;
- `<session>.timeline.json`: seconds from the session start (the caller's microphone starting
  the scenario):

      {"session", "label", "scenario", "pause_s", "voice", "duration_s",
       "caller_speech": [{"start_s", "end_s", "text"}],
       "agent_speech": [{"start_s", "end_s"}],
       "end_of_turn": [{"at_s", "rule", "probability", "threshold", "waited_ms"}],
       "llm_requests": [{"at_s"}],
       "cut_ins": [{"at_s", "pause_s"}]}

  `end_of_turn` has one entry per user turn the framework committed, at the moment it was
  committed, with the rule that ended it (`voice_settings/runtime/end_of_turn.py`);
  `probability`/`threshold` are null where no model decided; `waited_ms` is the framework's
  own end of speech -> commit;
- `<session>.timeline.png`: who spoke when, with the decisions, LLM requests and cut-ins marked
  (needs matplotlib, the `lab` extra; without it the PNG is left out).
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..harness.records import AudioRecording
from ..harness.speech.audio import SAMPLE_RATE

TAIL_S = 0.5  # silence kept after the last sound


@dataclass
class Trace:
    """What a session did, on the session's monotonic clock."""

    started_at: float
    caller_audio: list[tuple[float, np.ndarray]] = field(default_factory=list)
    """(when it started playing, int16 samples at 16 kHz) per playback."""
    caller_speech: list[tuple[float, float, str]] = field(default_factory=list)
    agent_audio: list[AudioRecording] = field(default_factory=list)
    end_of_turn: list[dict[str, Any]] = field(default_factory=list)
    """{"at", "rule", "probability", "threshold", "waited_ms"} per committed user turn."""
    llm_requests: list[float] = field(default_factory=list)
    cut_ins: list[tuple[float, float]] = field(default_factory=list)
    """(when the agent took the turn, the length of the pause it cut into)."""


def _s(trace: Trace, at: float) -> float:
    return round(at - trace.started_at, 3)


def timeline(trace: Trace, about: dict[str, Any]) -> dict[str, Any]:
    """The timeline JSON (see the module docstring); `about` names the session."""
    agent = [(start, end) for rec in trace.agent_audio for start, end in rec.stretches()]
    return {
        **about,
        "duration_s": round(_end(trace) - trace.started_at, 3),
        "caller_speech": [{"start_s": _s(trace, a), "end_s": _s(trace, b), "text": text}
                          for a, b, text in trace.caller_speech],
        "agent_speech": [{"start_s": _s(trace, a), "end_s": _s(trace, b)}
                         for a, b in sorted(agent) if b > trace.started_at],
        "end_of_turn": [{"at_s": _s(trace, d["at"]),
                         **{k: d.get(k) for k in ("rule", "probability", "threshold",
                                                  "waited_ms")}}
                        for d in trace.end_of_turn],
        "llm_requests": [{"at_s": _s(trace, at)} for at in trace.llm_requests],
        "cut_ins": [{"at_s": _s(trace, at), "pause_s": pause} for at, pause in trace.cut_ins],
    }


def _end(trace: Trace) -> float:
    ends = [start + len(samples) / SAMPLE_RATE for start, samples in trace.caller_audio]
    ends += [end for rec in trace.agent_audio for _, end in rec.stretches()]
    ends += [d["at"] for d in trace.end_of_turn] + trace.llm_requests
    return max([trace.started_at, *ends]) + TAIL_S


def stereo(trace: Trace) -> np.ndarray:
    """(n, 2) int16 at 16 kHz: the caller left, the agent right, at their real times."""
    length = round((_end(trace) - trace.started_at) * SAMPLE_RATE)
    out = np.zeros((length, 2), dtype=np.int32)
    for start, samples in trace.caller_audio:
        _place(out[:, 0], samples, round((start - trace.started_at) * SAMPLE_RATE))
    for rec in trace.agent_audio:
        agent = _to_16k(np.frombuffer(bytes(rec.pcm), dtype="<i2"), rec.sample_rate)
        ends = [offset for _, offset, _ in rec.frame_log[1:]] + [rec.samples]
        for (at, offset, _), end in zip(rec.frame_log, ends, strict=True):
            first, last = (round(o * SAMPLE_RATE / rec.sample_rate) for o in (offset, end))
            _place(out[:, 1], agent[first:last], round((at - trace.started_at) * SAMPLE_RATE))
    return np.clip(out, -32768, 32767).astype(np.int16)


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.int32)
    count = round(samples.size * SAMPLE_RATE / rate)
    positions = np.arange(count) * rate / SAMPLE_RATE
    return np.interp(positions, np.arange(samples.size), samples).astype(np.int32)


def _place(channel: np.ndarray, samples: np.ndarray, at: int) -> None:
    if at < 0:
        samples, at = samples[-at:], 0
    samples = samples[: max(0, channel.size - at)]
    channel[at : at + samples.size] += samples


def write(directory: Path, session: str, trace: Trace, about: dict[str, Any]) -> dict[str, str]:
    """Write the session's WAV, timeline JSON and PNG; returns their paths by kind."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"wav": directory / f"{session}.wav",
             "timeline": directory / f"{session}.timeline.json",
             "png": directory / f"{session}.timeline.png"}
    with wave.open(str(paths["wav"]), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(stereo(trace).astype("<i2").tobytes())
    data = timeline(trace, about)
    paths["timeline"].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
    if not draw(data, paths["png"]):
        del paths["png"]
    return {kind: str(path) for kind, path in paths.items()}


def draw(data: dict[str, Any], path: Path) -> bool:
    """The timeline as a picture; False when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(10, 2.8))
    caller = [(s["start_s"], s["end_s"] - s["start_s"]) for s in data["caller_speech"]]
    agent = [(s["start_s"], s["end_s"] - s["start_s"]) for s in data["agent_speech"]]
    axis.broken_barh(caller, (1.6, 0.6), color="tab:blue", label="caller speaks")
    axis.broken_barh(agent, (0.4, 0.6), color="tab:orange", label="agent speaks")
    for s in data["caller_speech"]:
        axis.text(s["start_s"], 2.3, s["text"], fontsize=7, va="bottom")
    for n, decision in enumerate(data["end_of_turn"]):
        axis.axvline(decision["at_s"], color="tab:green", linestyle="--",
                     label="end of turn decided" if n == 0 else None)
        axis.text(decision["at_s"], 1.3, " " + _decision_words(decision), fontsize=7,
                  color="tab:green", va="center")
    requests = [r["at_s"] for r in data["llm_requests"]]
    axis.plot(requests, [1.15] * len(requests), "v", color="tab:purple", label="LLM request")
    cuts = [c["at_s"] for c in data["cut_ins"]]
    axis.plot(cuts, [1.9] * len(cuts), "x", color="tab:red", markersize=10,
              label="cut-in (agent took the turn in a pause)")
    axis.set_yticks([0.7, 1.9], ["agent", "caller"])
    axis.set_ylim(0, 2.9)
    axis.set_xlim(0, data["duration_s"])
    axis.set_xlabel("seconds from the session start")
    axis.set_title(f"{data.get('session', '')}: {data.get('label', '')}, "
                   f"{data.get('scenario', '')}, voice {data.get('voice', '')}", fontsize=9)
    axis.grid(axis="x", alpha=0.3)
    axis.legend(fontsize=7, loc="upper right", ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def _decision_words(decision: dict[str, Any]) -> str:
    if decision.get("probability") is None:
        return decision["rule"]
    return f"{decision['rule']} p={decision['probability']:.2f} < {decision['threshold']:.2f}" \
        if decision["probability"] < decision["threshold"] else \
        f"{decision['rule']} p={decision['probability']:.2f} >= {decision['threshold']:.2f}"
