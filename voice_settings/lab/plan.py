"""What a lab run measures: settings sets (profiles x sweeps) x scenarios x pauses x repeats.

    --profile snappy --profile patient --set endpointing_ms=100,300 --scenario hesitation
    --pause 0.4,0.8 --repeat 2

gives 2 profiles x 2 endpointing values = 4 settings sets, each run on the hesitation scenario
with a 0.4 s and a 0.8 s pause, twice: 16 sessions. Every settings set is validated with the
agent's own resolver before anything runs; an invalid one stops the plan with the field, the
value and what is allowed.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SettingsError
from ..keys import split_by_audience
from ..parsing import parse_assignment
from ..profiles import ProfileStore
from ..resolution import Resolution, resolve
from ..tool_errors import SettingsRejected, UsageError

TIMING_FIELDS = (
    "turn_detection", "endpointing_ms", "utterance_end_ms", "min_endpointing_delay",
    "max_endpointing_delay", "endpointing_mode", "allow_interruptions",
    "min_interruption_duration", "min_interruption_words", "false_interruption_timeout",
    "resume_false_interruption", "preemptive_generation",
)
"""What the lab reports of each settings set's effective values."""

SCENARIOS_WITH_PAUSE = ("hesitation", "list", "dictation", "backchannel")
DEFAULT_SCENARIOS = ("question", "hesitation", "backchannel")
DEFAULT_PAUSES = (0.8, 1.6, 3.0)
"""Mid-sentence pauses (hesitation, list, dictation) when none are given: they separate the
shipped profiles (snappy waits at least 0.55 s of silence and at most 1.5 s, default 0.55-3 s,
patient 1.2-6 s, dictation 2.5-8 s, depending on the end-of-turn model's verdict)."""
MAX_SESSIONS = 2000
"""A plan over this many sessions (more than a day of real time) is refused before anything
is built."""


@dataclass(frozen=True)
class SettingsSet:
    """One column of the lab's table: a profile and values set over it."""

    label: str
    profile: str | None
    values: dict[str, Any] = field(default_factory=dict)
    """Canonical field -> value, as --set gave them."""
    resolution: Resolution | None = field(default=None, compare=False, repr=False)

    def participant_metadata(self) -> dict[str, Any]:
        participant, _ = split_by_audience(self.values)
        return {**({"profile": self.profile} if self.profile else {}), **participant}

    def dispatch_metadata(self) -> dict[str, Any]:
        return split_by_audience(self.values)[1]

    def timing(self) -> dict[str, Any]:
        assert self.resolution is not None
        return {name: getattr(self.resolution.settings, name) for name in TIMING_FIELDS}


@dataclass(frozen=True)
class Trial:
    """One session: a settings set, a scenario (and its pause), a repeat number."""

    settings: SettingsSet
    scenario: str
    pause_s: float | None = None
    repeat: int = 0
    wav: str | None = None
    text: str | None = None
    index: int = 0
    """Its place in the plan (0-based)."""

    @property
    def session(self) -> str:
        """A file-name-safe name, unique in the plan: `003-snappy-hesitation-p0.6-r1`."""
        pause = "" if self.pause_s is None else f"-p{self.pause_s:g}"
        label = re.sub(r"[^a-z0-9.]+", "-", self.settings.label.lower()).strip("-")[:60]
        return f"{self.index + 1:03d}-{label}-{self.scenario}{pause}-r{self.repeat + 1}"


def sweeps(items: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """`--set field=v1,v2` items as (field, values); a value that is a JSON list is one value."""
    found: list[tuple[str, list[Any]]] = []
    for item in items:
        name, _, raw = item.partition("=")
        try:
            values = [parse_assignment(f"{name}={part}")[1] for part in _split(raw)]
            name = parse_assignment(f"{name}=0")[0]
        except ValueError as exc:
            raise UsageError(f"--set {item!r}: {exc}") from None
        if any(existing == name for existing, _ in found):
            raise UsageError(f"--set {name} is given twice; list its values once: {name}=a,b")
        found.append((name, values))
    return found


def _split(raw: str) -> list[str]:
    parts = [part.strip() for part in raw.split(",")]
    if not raw.strip() or not all(parts):
        raise ValueError("expected one or more comma-separated values")
    return parts


def settings_sets(profiles: Sequence[str], set_items: Sequence[str],
                  store: ProfileStore) -> list[SettingsSet]:
    """Every profile (or none) x every combination of swept values, validated."""
    swept = sweeps(set_items)
    columns = max(1, len(set(profiles))) * math.prod(len(values) for _, values in swept)
    if columns > MAX_SESSIONS:
        raise UsageError(f"{columns} settings sets: at most {MAX_SESSIONS} sessions per run")
    names = [field for field, _ in swept]
    # A label names what differs between the columns; a value every column shares is shown in
    # the settings rows below the figures.
    varying = [field for field, values in swept if len(values) > 1] or names
    found = []
    for profile in list(dict.fromkeys(profiles)) or [None]:
        if profile is not None and profile not in store:
            raise UsageError(f"unknown profile {profile!r}; known: {', '.join(store.names())}")
        for combination in itertools.product(*(values for _, values in swept)):
            values = dict(zip(names, combination, strict=True))
            label = " ".join([profile or "", *(f"{k}={_shown(v)}" for k, v in values.items()
                                               if k in varying)])
            found.append(_validated(SettingsSet(label.strip() or "default", profile, values),
                                    store))
    return found


def _validated(candidate: SettingsSet, store: ProfileStore) -> SettingsSet:
    resolution = resolve(participant=candidate.participant_metadata(),
                         dispatch=candidate.dispatch_metadata(), profiles=store)
    refused = [e for e in resolution.errors if isinstance(e, SettingsError)]
    if refused:
        raise SettingsRejected(refused, f"nothing was run ({candidate.label})")
    return SettingsSet(candidate.label, candidate.profile, candidate.values, resolution)


def _shown(value: Any) -> str:
    return "off" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def trials(sets: Sequence[SettingsSet], scenarios: Sequence[str], pauses: Sequence[float],
           repeat: int, wav: str | None = None, text: str | None = None) -> list[Trial]:
    """The sessions to run, interleaved so that a slow moment of the machine hits every set."""
    if repeat < 1:
        raise UsageError("--repeat must be at least 1")
    runs: list[tuple[str, float | None]] = []
    if wav is not None:
        runs.append(("wav", None))
    for scenario in scenarios:
        if scenario not in SCENARIOS_WITH_PAUSE:
            runs.append((scenario, None))
        elif pauses:
            runs += [(scenario, p) for p in pauses]
        else:  # the backchannel's "pause" is only the wait before the mm-hm
            runs += [(scenario, p) for p in (DEFAULT_PAUSES if scenario != "backchannel"
                                             else (None,))]
    count = repeat * len(runs) * len(sets)
    if count > MAX_SESSIONS:
        raise UsageError(f"the plan has {count} sessions ({len(sets)} settings sets x "
                         f"{len(runs)} scenario runs x {repeat} repeats): at most "
                         f"{MAX_SESSIONS} per run")
    combos = [(n, scenario, pause, settings)
              for n in range(repeat) for scenario, pause in runs for settings in sets]
    return [Trial(settings, scenario, pause, n, wav, text, index)
            for index, (n, scenario, pause, settings) in enumerate(combos)]
