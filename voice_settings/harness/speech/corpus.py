"""The committed speech corpus: one short WAV per word group and voice, described by a
manifest.json per voice (``clips/<voice>/``).

Voices (``generate.py`` makes them, reproducibly): ``festival`` (Festival with the HTS voice
``cmu_us_slt_arctic_hts``, Debian ``festvox-us-slt-hts``; the default, the most natural) and
``espeak`` (espeak-ng, en-us). Each clip is one word group, 16 kHz mono int16, trimmed to its
speech plus ``PAD_S`` of silence either side. The manifest records per clip its text, duration
and where the speech starts and ends (by the energy measure in ``audio.py``), so scenarios can
splice clips with exact pauses between the speech.

The voice matters to the bundled end-of-turn model (``v1-mini`` judges the caller's audio): on
the same sentences it scores espeak-ng lower than festival, so turns wait
``max_endpointing_delay`` more often with espeak.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, read_wav

__all__ = ["CLIPS", "CORPUS_DIR", "DEFAULT_VOICE", "VOICES", "Clip", "ClipText", "clip_names",
           "load_clip", "manifest_path", "voices"]

CORPUS_DIR = Path(__file__).parent / "clips"
VOICES = ("festival", "espeak")
DEFAULT_VOICE = "festival"
PAD_S = 0.05


def manifest_path(voice: str = DEFAULT_VOICE) -> Path:
    return CORPUS_DIR / voice / "manifest.json"


def voices() -> list[str]:
    """The voices whose clips are here."""
    return [voice for voice in VOICES if manifest_path(voice).is_file()]


@dataclass(frozen=True)
class ClipText:
    """What a clip says (its transcript) and, when it reads badly, what the synthesizer is given."""

    text: str
    spoken: str | None = None

    @property
    def synth_input(self) -> str:
        return self.spoken or self.text


# Word groups without commas: espeak-ng pauses at punctuation, and a group must be one
# stretch of speech (no silence of MIN_SILENCE_S inside it).
CLIPS: dict[str, ClipText] = {
    "question": ClipText("What time do you open tomorrow?"),
    "hesitation_1": ClipText("I would like to book"),
    "hesitation_2": ClipText("a table for two"),
    "list_1": ClipText("I need eggs"),
    "list_2": ClipText("milk"),
    "list_3": ClipText("bread"),
    "list_4": ClipText("and some coffee"),
    "backchannel_mm_hm": ClipText("mm-hm", spoken="mm hmm"),
    "backchannel_yeah": ClipText("yeah"),
    "dictation_1": ClipText("Please take a note for the team"),
    "dictation_2": ClipText("the meeting moves to Thursday at ten"),
    "dictation_3": ClipText("bring the budget numbers"),
    "dictation_4": ClipText("and send the slides by Wednesday"),
}


@dataclass(frozen=True)
class Clip:
    """One committed word group: int16 samples at 16 kHz and where its speech lies."""

    name: str
    text: str
    samples: np.ndarray
    speech_start_s: float
    speech_end_s: float
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def clip_names() -> list[str]:
    return list(CLIPS)


@cache
def _manifest(voice: str) -> dict:
    if voice not in VOICES:
        raise ValueError(f"voice={voice!r}: must be one of {', '.join(VOICES)}")
    return json.loads(manifest_path(voice).read_text(encoding="utf-8"))


@cache
def load_clip(name: str, voice: str = DEFAULT_VOICE) -> Clip:
    """The committed clip ``name`` (one of :data:`CLIPS`) in ``voice``."""
    entries = _manifest(voice)["clips"]
    if name not in entries:
        raise KeyError(f"no clip {name!r} in {manifest_path(voice)}; clips: "
                       f"{', '.join(sorted(entries))}")
    entry = entries[name]
    samples = read_wav(CORPUS_DIR / voice / entry["file"])
    samples.setflags(write=False)
    return Clip(
        name=name,
        text=entry["text"],
        samples=samples,
        speech_start_s=entry["speech_start_s"],
        speech_end_s=entry["speech_end_s"],
    )
