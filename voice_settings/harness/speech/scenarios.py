"""Scenarios: committed clips spliced with pauses of chosen length, and their timeline.

A scenario is an ordered list of parts, :class:`Speak` (a clip of the corpus) and
:class:`Silence` (a pause in seconds). A pause is measured between the speech of its
neighbours (the clips' own padding is accounted for), so ``Silence(0.6)`` between two
clips means 0.6 s from the end of one word group's speech to the start of the next, by
the energy measure of ``audio.py``. The result is 16 kHz int16 audio plus a timeline:
word groups ``(start_s, end_s, text)`` and pauses ``(start_s, length_s, kind)``.

Named scenarios (:data:`SCENARIOS`, built with :func:`make_scenario`): ``question``,
``hesitation``, ``list``, ``backchannel`` and ``dictation``. ``recording.from_wav`` turns
a team's own recording and its text into a scenario.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .audio import SAMPLE_RATE
from .corpus import DEFAULT_VOICE, load_clip

__all__ = [
    "MAX_PAUSE_S",
    "MIN_PAUSE_S",
    "SCENARIOS",
    "Pause",
    "PauseKind",
    "Scenario",
    "Silence",
    "Speak",
    "WordGroup",
    "build",
    "make_scenario",
    "spoken",
]

PauseKind = Literal["mid_utterance", "turn_end"]
# Between word groups a pause must be clearly longer than MIN_SILENCE_S, or the energy
# measure (and the listening Deepgram stand-in) hears one stretch of speech.
MIN_PAUSE_S = 0.15
MAX_PAUSE_S = 30.0
LEAD_S = 0.2
TAIL_S = 1.0


@dataclass(frozen=True)
class Speak:
    clip: str


@dataclass(frozen=True)
class Silence:
    seconds: float
    kind: PauseKind = "mid_utterance"


@dataclass(frozen=True)
class WordGroup:
    """Words spoken as one stretch of speech, at ``start_s``..``end_s`` of the scenario."""

    text: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Pause:
    start_s: float
    length_s: float
    kind: PauseKind


@dataclass(frozen=True)
class Scenario:
    """16 kHz int16 mono audio and where its word groups and pauses lie."""

    name: str
    samples: np.ndarray
    words: tuple[WordGroup, ...]
    pauses: tuple[Pause, ...]
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def pcm(self) -> bytes:
        """The audio as little-endian linear16 bytes (what Deepgram receives)."""
        return self.samples.astype("<i2").tobytes()

    @property
    def text(self) -> str:
        return " ".join(group.text for group in self.words)

    def timeline(self) -> dict:
        """The scenario without its audio, as JSON-ready data."""
        return {
            "name": self.name,
            "duration_s": round(self.duration_s, 3),
            "words": [vars(w) for w in self.words],
            "pauses": [vars(p) for p in self.pauses],
        }

    def turns(self) -> list[Scenario]:
        """The scenario cut after each ``turn_end`` pause, each part timed from its own start.

        The lab plays them one by one, e.g. the backchannel only once the agent speaks.
        """
        cuts = [p.start_s + p.length_s for p in self.pauses if p.kind == "turn_end"]
        bounds = [0.0, *[c for c in cuts if c < self.duration_s - 1e-6], self.duration_s]
        parts = []
        for index, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
            first, last = round(start * self.sample_rate), round(end * self.sample_rate)
            parts.append(Scenario(
                name=f"{self.name}#{index + 1}",
                samples=self.samples[first:last],
                words=tuple(WordGroup(w.text, round(w.start_s - start, 3),
                                      round(w.end_s - start, 3))
                            for w in self.words if start <= w.start_s < end),
                pauses=tuple(Pause(round(p.start_s - start, 3), p.length_s, p.kind)
                             for p in self.pauses if start <= p.start_s < end),
                sample_rate=self.sample_rate,
            ))
        return parts


def check_seconds(field: str, value: float, low: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) \
            or not low <= value <= MAX_PAUSE_S:
        raise ValueError(
            f"{field}={value!r}: must be a number of seconds from {low:g} to {MAX_PAUSE_S:g}"
            + (f" (a pause under {MIN_PAUSE_S:g} s does not separate word groups)"
               if low == MIN_PAUSE_S else "")
        )
    return float(value)


def build(name: str, parts: Sequence[Speak | Silence], *,
          voice: str = DEFAULT_VOICE) -> Scenario:
    """Splice clips (of `voice`) and pauses; see the module docstring for how pauses are
    measured."""
    placed: list[tuple[int, np.ndarray]] = []  # (first sample, clip samples)
    words: list[WordGroup] = []
    pauses: list[Pause] = []
    gap, kind = 0.0, "mid_utterance"
    speech_end = 0.0  # end of the last word group's speech (or the start of the audio)
    for part in parts:
        if isinstance(part, Silence):
            gap += check_seconds(f"{name}: pause", part.seconds, 0.0)
            kind = "turn_end" if part.kind == "turn_end" else kind
            continue
        clip = load_clip(part.clip, voice)
        if words:
            check_seconds(f"{name}: pause before {part.clip!r}", gap, MIN_PAUSE_S)
            pauses.append(Pause(round(speech_end, 3), round(gap, 3), kind))
        start = max(speech_end + gap, clip.speech_start_s)
        first = round((start - clip.speech_start_s) * SAMPLE_RATE)
        placed.append((first, clip.samples))
        speech_end = first / SAMPLE_RATE + clip.speech_end_s
        words.append(WordGroup(clip.text, round(first / SAMPLE_RATE + clip.speech_start_s, 3),
                               round(speech_end, 3)))
        gap, kind = 0.0, "mid_utterance"
    if gap > 0 and words:
        pauses.append(Pause(round(speech_end, 3), round(gap, 3), kind))
    length = max([round((speech_end + gap) * SAMPLE_RATE)]
                 + [first + len(s) for first, s in placed])
    mix = np.zeros(length, dtype=np.int32)
    for first, samples in placed:
        mix[first : first + len(samples)] += samples
    audio = np.clip(mix, -32768, 32767).astype(np.int16)
    return Scenario(name=name, samples=audio, words=tuple(words), pauses=tuple(pauses))


# -- named scenarios -----------------------------------------------------------------


def spoken(name: str, clips: Sequence[str], pause_s: float, *, lead_s: float = LEAD_S,
           tail_s: float = TAIL_S, pause_kind: PauseKind = "mid_utterance",
           voice: str = DEFAULT_VOICE) -> Scenario:
    """``lead_s`` of silence, the clips with ``pause_s`` between them, ``tail_s`` to end."""
    parts: list[Speak | Silence] = [Silence(lead_s)]
    for clip in clips:
        parts += [Speak(clip), Silence(pause_s, pause_kind)]
    parts[-1] = Silence(tail_s, "turn_end")
    return build(name, parts, voice=voice)


def question(*, lead_s: float = LEAD_S, tail_s: float = TAIL_S,
             voice: str = DEFAULT_VOICE) -> Scenario:
    """A short question, then silence."""
    return spoken("question", ["question"], 0.0, lead_s=lead_s, tail_s=tail_s, voice=voice)


def hesitation(pause_s: float = 0.6, *, lead_s: float = LEAD_S, tail_s: float = TAIL_S,
               voice: str = DEFAULT_VOICE) -> Scenario:
    """"I would like to book ... a table for two": one sentence split by ``pause_s``."""
    return spoken("hesitation", ["hesitation_1", "hesitation_2"], pause_s,
                  lead_s=lead_s, tail_s=tail_s, voice=voice)


def item_list(pause_s: float = 0.8, *, lead_s: float = LEAD_S, tail_s: float = TAIL_S,
              voice: str = DEFAULT_VOICE) -> Scenario:
    """"I need eggs ... milk ... bread ... and some coffee", ``pause_s`` between items."""
    return spoken("list", [f"list_{i}" for i in range(1, 5)], pause_s,
                  lead_s=lead_s, tail_s=tail_s, voice=voice)


def backchannel(pause_s: float = 3.0, *, word: Literal["mm-hm", "yeah"] = "mm-hm",
                lead_s: float = LEAD_S, tail_s: float = TAIL_S,
                voice: str = DEFAULT_VOICE) -> Scenario:
    """A question (to make the agent talk), ``pause_s``, then a short "mm-hm" / "yeah".

    Two turns: play ``turns()[1]`` while the agent speaks.
    """
    clip = {"mm-hm": "backchannel_mm_hm", "yeah": "backchannel_yeah"}.get(word)
    if clip is None:
        raise ValueError(f"word={word!r}: must be 'mm-hm' or 'yeah'")
    return spoken("backchannel", ["question", clip], pause_s, lead_s=lead_s, tail_s=tail_s,
                  pause_kind="turn_end", voice=voice)


def dictation(pause_s: float = 0.7, *, lead_s: float = LEAD_S, tail_s: float = TAIL_S,
              voice: str = DEFAULT_VOICE) -> Scenario:
    """A long dictation-style turn: four word groups, ``pause_s`` between them."""
    return spoken("dictation", [f"dictation_{i}" for i in range(1, 5)], pause_s,
                  lead_s=lead_s, tail_s=tail_s, voice=voice)


SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "question": question,
    "hesitation": hesitation,
    "list": item_list,
    "backchannel": backchannel,
    "dictation": dictation,
}


def make_scenario(name: str, pause_s: float | None = None, **options: object) -> Scenario:
    """The named scenario; ``pause_s`` sets its pause (all but ``question`` have one)."""
    factory = SCENARIOS.get(name)
    if factory is None:
        raise ValueError(f"scenario={name!r}: must be one of {', '.join(SCENARIOS)}")
    if pause_s is None:
        return factory(**options)
    if factory is question:
        raise ValueError("pause_s: the 'question' scenario has no pause to set")
    return factory(pause_s, **options)
