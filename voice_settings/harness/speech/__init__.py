"""Offline speech for the timing lab: an espeak-ng corpus and scenarios spliced from it.

See ``voice_settings/harness/README.md`` ("Speech, offline").
"""

from .corpus import CLIPS, Clip, clip_names, load_clip
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
    "MIN_PAUSE_S",
    "SCENARIOS",
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
]
