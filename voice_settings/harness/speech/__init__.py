"""Offline speech for the timing lab: a corpus in two voices (festival, espeak-ng) and scenarios
spliced from it.

See ``voice_settings/harness/README.md`` ("Speech, offline").
"""

from .corpus import CLIPS, DEFAULT_VOICE, VOICES, Clip, clip_names, load_clip, voices
from .recording import from_wav
from .scenarios import (
    MIN_PAUSE_S,
    SCENARIOS,
    Pause,
    Scenario,
    Silence,
    Speak,
    WordGroup,
    build,
    make_scenario,
    spoken,
)

__all__ = [
    "CLIPS",
    "DEFAULT_VOICE",
    "MIN_PAUSE_S",
    "SCENARIOS",
    "VOICES",
    "Clip",
    "Pause",
    "Scenario",
    "Silence",
    "Speak",
    "WordGroup",
    "build",
    "clip_names",
    "from_wav",
    "load_clip",
    "make_scenario",
    "spoken",
    "voices",
]
