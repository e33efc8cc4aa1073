"""Where values come from: layered sources, lowest to highest precedence.

    built-in defaults < the operator's default profile < the profile named in the metadata
    < dispatch (job) metadata < participant metadata

Every effective value records its `Source`. `resolve` never raises. Given `previous` (the settings
a running call has in force), a field whose new value is refused keeps its previous value instead
of falling back to a lower source, so bad input mid-call never resets what was working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import SettingsError, Source, shown
from .model import FIELDS, SILENT_TURN_END, VoiceSettings, silent_turn_end
from .parsing import parse_metadata
from .profiles import ProfileStore

_MIN, _MAX = "min_endpointing_delay", "max_endpointing_delay"
_ENDPOINTING = "endpointing_ms"


@dataclass(frozen=True)
class Resolution:
    """Effective settings, each value's source, and what was refused on the way."""

    settings: VoiceSettings
    sources: Mapping[str, Source]
    errors: tuple[SettingsError, ...] = ()
    unknown_keys: tuple[tuple[Source, str], ...] = ()

    def explain(self) -> list[tuple[str, Any, Source]]:
        """(field, value, source) for every field, in model order."""
        return [(name, getattr(self.settings, name), self.sources[name]) for name in FIELDS]


_DEFAULTS = VoiceSettings()


class _Layers:
    """Effective values being assembled, with their sources."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = _DEFAULTS.model_dump()
        self.sources: dict[str, Source] = dict.fromkeys(FIELDS, Source.DEFAULT)
        self.errors: list[SettingsError] = []
        self._applied = 0
        # Which layer (by order applied) set each bound, and as what source; 0: the defaults.
        self._bound_set_by: dict[str, tuple[int, Source | None]] = dict.fromkeys(
            (_MIN, _MAX), (0, None))

    def apply(self, values: Mapping[str, Any], source: Source) -> None:
        self._applied += 1
        for name, value in values.items():
            self.values[name], self.sources[name] = value, source
            if name in self._bound_set_by:
                self._bound_set_by[name] = (self._applied, source)

    def settle_bounds(self) -> None:
        """min > max: the bound from the higher layer wins and the other moves to meet it.

        Only the final values are compared, so a bound that a higher layer has since replaced
        cannot move the other. (A contradictory pair from one source never gets here: parsing
        refuses both, and profiles are validated whole.)
        """
        if self.values[_MIN] <= self.values[_MAX]:
            return
        kept = _MIN if self._bound_set_by[_MIN][0] >= self._bound_set_by[_MAX][0] else _MAX
        moved = _MAX if kept == _MIN else _MIN
        old = self.values[moved]
        self.values[moved], self.sources[moved] = self.values[kept], Source.ADJUSTED
        self.errors.append(SettingsError(
            moved, old, f"{kept} {self.values[kept]:g} s conflicts with {moved} {old:g} s; "
            f"{moved} was set to {self.values[kept]:g} s to keep min <= max.",
            self._bound_set_by[kept][1]))

    def settle_turn_end(self) -> None:
        """"stt" turn detection with Deepgram endpointing off and no UtteranceEnd would never end
        a turn: endpointing_ms goes back to the plugin default, and that is reported."""
        values = self.values
        if not silent_turn_end(values["turn_detection"], values[_ENDPOINTING],
                               values["utterance_end_ms"]):
            return
        source = self.sources[_ENDPOINTING]
        values[_ENDPOINTING] = _DEFAULTS.endpointing_ms
        self.sources[_ENDPOINTING] = Source.ADJUSTED
        self.errors.append(SettingsError(
            _ENDPOINTING, 0, f"{SILENT_TURN_END}; endpointing_ms was set to "
            f"{_DEFAULTS.endpointing_ms} ms so the agent can answer.", source))


def _profile_layers(store: ProfileStore | None, named: list[tuple[Any, bool, Source]],
                    previous: Resolution | None,
                    errors: list[SettingsError]) -> list[tuple[dict[str, Any], Source, str]]:
    """The default profile, then the first known profile named (participant before dispatch).

    `named` holds, per source: the valid profile name given (or None), and whether a name was
    given but refused. Mid-call, a name the participant gave but that was refused keeps the
    profile that was in force.
    """
    layers = []
    if store is not None and store.default_name:
        layers.append((store.values(store.default_name), Source.DEFAULT_PROFILE,
                       store.default_name))
    for name, refused, source in named:
        if name is not None and store is not None and name in store:
            return [*layers, (store.values(name), Source.PROFILE, name)]
        if name is not None:
            choices = ", ".join(store.names()) if store else "none are configured"
            errors.append(SettingsError(
                "profile", name, f"unknown profile {shown(name)}; ignored. Allowed: {choices}.",
                source))
            refused = True
        # Only the participant's refusal keeps: dispatch metadata is fixed for the job.
        keep = previous.settings.profile if previous is not None else None
        if refused and source is Source.PARTICIPANT and keep and store \
                and previous.sources["profile"] is Source.PROFILE and keep in store:
            return [*layers, (store.values(keep), Source.PROFILE, keep)]
    return layers


def resolve(*, participant: Any = None, dispatch: Any = None,
            profiles: ProfileStore | None = None,
            previous: Resolution | None = None) -> Resolution:
    """Effective settings from raw participant and dispatch metadata. Never raises."""
    from_participant = parse_metadata(participant, Source.PARTICIPANT)
    from_dispatch = parse_metadata(dispatch, Source.DISPATCH)
    errors = [*from_dispatch.errors, *from_participant.errors]
    unknown = tuple((Source.DISPATCH, k) for k in from_dispatch.unknown_keys) + tuple(
        (Source.PARTICIPANT, k) for k in from_participant.unknown_keys)
    if previous is not None and from_participant.rejected_whole:
        return Resolution(previous.settings, previous.sources, tuple(errors), unknown)

    layers = _Layers()
    profile_errors: list[SettingsError] = []
    named = [(m.values.get("profile"), "profile" in m.rejected_fields, source)
             for m, source in ((from_participant, Source.PARTICIPANT),
                               (from_dispatch, Source.DISPATCH))]
    for values, source, name in _profile_layers(profiles, named, previous, profile_errors):
        layers.apply({**values, "profile": name}, source)
    # The profile layers above consumed `profile`; the metadata layers must not reapply a name.
    layers.apply(_without_profile(from_dispatch.values), Source.DISPATCH)
    if previous is not None:
        _keep_previous(layers, previous, from_participant.rejected_fields - {"profile"})
    layers.apply(_without_profile(from_participant.values), Source.PARTICIPANT)
    layers.settle_bounds()
    layers.settle_turn_end()
    settings = _build(layers, previous)
    all_errors = tuple(errors + profile_errors + layers.errors)
    return Resolution(settings, MappingProxyType(dict(layers.sources)), all_errors, unknown)


def _keep_previous(layers: _Layers, previous: Resolution, refused: frozenset[str]) -> None:
    """Mid-call, a field the participant sent a bad value for keeps the value in force.

    Applied below the participant's valid values, so one of those still wins a min/max
    conflict. Only the participant's refusals count: dispatch metadata is fixed for the job,
    so keeping on its refusals would pin fields the participant has since stopped setting.
    """
    keep = {name: getattr(previous.settings, name) for name in refused}
    layers.apply(keep, Source.PARTICIPANT)
    for name in keep:
        layers.sources[name] = previous.sources[name]


def _without_profile(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name != "profile"}


def _build(layers: _Layers, previous: Resolution | None) -> VoiceSettings:
    try:
        return VoiceSettings.model_validate(layers.values)
    except Exception as exc:  # a resolver bug: report it, keep the call on known-good settings
        fallback = previous.settings if previous else _DEFAULTS
        kept = "previous" if previous else "default"
        layers.errors.append(SettingsError(
            "(settings)", None, f"internal error while combining settings ({exc}); "
            f"kept the {kept} settings."))
        return fallback
