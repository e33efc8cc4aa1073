"""Effective settings from every source, applied in the order of `sources.PRECEDENCE`.

`resolve` never raises. Given `previous` (the settings a running call has in force), a field whose
new value is refused keeps its previous value instead of falling back to a lower source, so bad
input mid-call never resets what was working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import SettingsError, shown
from .model import FIELDS, MAX_DELAY, MIN_DELAY, SILENT_TURN_END, VoiceSettings, silent_turn_end
from .parsing import ParsedMetadata, parse_metadata
from .profiles import ProfileStore
from .sources import RANK, Layer, Source

_ENDPOINTING = "endpointing_ms"
_DEFAULTS = VoiceSettings()


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


def resolve(*, participant: Any = None, dispatch: Any = None,
            profiles: ProfileStore | None = None, previous: Resolution | None = None,
            spoken_profile: str | None = None) -> Resolution:
    """Effective settings. `participant` and `dispatch` are raw metadata or already parsed
    (`ParsedMetadata`, so a running call decodes each change once); `spoken_profile` is the
    profile the caller chose by voice, which outranks the profiles named in metadata."""
    from_participant = _parsed(participant, Source.PARTICIPANT)
    from_dispatch = _parsed(dispatch, Source.DISPATCH)
    errors = [*from_dispatch.errors, *from_participant.errors]
    unknown = tuple((Source.DISPATCH, k) for k in from_dispatch.unknown_keys) + tuple(
        (Source.PARTICIPANT, k) for k in from_participant.unknown_keys)
    if previous is not None and from_participant.rejected_whole:
        return Resolution(previous.settings, previous.sources, tuple(errors), unknown)

    layers = [*_profile_layers(profiles, from_participant, from_dispatch, spoken_profile,
                               previous, errors),
              Layer(Source.DISPATCH, _without_profile(from_dispatch.values))]
    if previous is not None:
        layers.append(_kept(previous, from_participant.rejected_fields - {"profile"}))
    layers.append(Layer(Source.PARTICIPANT, _without_profile(from_participant.values)))

    assembly = _Assembly()
    for layer in sorted(layers, key=lambda layer: RANK[layer.source]):  # stable: kept first
        assembly.apply(layer)
    assembly.settle_bounds()
    assembly.settle_turn_end()
    settings = assembly.build(previous)
    return Resolution(settings, MappingProxyType(dict(assembly.sources)),
                      tuple(errors + assembly.errors), unknown)


def _parsed(raw: Any, source: Source) -> ParsedMetadata:
    return raw if isinstance(raw, ParsedMetadata) else parse_metadata(raw, source)


def _profile_layers(store: ProfileStore | None, participant: ParsedMetadata,
                    dispatch: ParsedMetadata, spoken: str | None, previous: Resolution | None,
                    errors: list[SettingsError]) -> list[Layer]:
    """The default profile, then the first known profile named: by voice, by the participant,
    by the dispatch. Mid-call, a name the participant gave but that was refused keeps the
    profile that was in force."""
    layers = []
    if store is not None and store.default_name:
        layers.append(Layer(Source.DEFAULT_PROFILE, _named(store, store.default_name),
                            store.default_name))
    candidates = [(spoken, False, Source.PARTICIPANT)] if spoken else []
    candidates += [(parsed.values.get("profile"), "profile" in parsed.rejected_fields, source)
                   for parsed, source in ((participant, Source.PARTICIPANT),
                                          (dispatch, Source.DISPATCH))]
    chosen = None
    for name, refused, source in candidates:
        if name is not None and (store is None or name not in store):
            choices = ", ".join(store.names()) if store else "none are configured"
            errors.append(SettingsError(
                "profile", name, f"unknown profile {shown(name)}; ignored. Allowed: {choices}.",
                source))
            refused = True
        if chosen is not None:
            continue  # a higher source chose; a lower one's unknown name is still reported
        if name is not None and not refused:
            chosen = name
        # Only the participant's refusal keeps: dispatch metadata is fixed for the job.
        keep = previous.settings.profile if previous is not None else None
        if refused and source is Source.PARTICIPANT and keep and store \
                and previous.sources["profile"] is Source.PROFILE and keep in store:
            chosen = keep
    if chosen is not None:
        layers.append(Layer(Source.PROFILE, _named(store, chosen), chosen))
    return layers


def _named(store: ProfileStore, name: str) -> dict[str, Any]:
    return {**store.values(name), "profile": name}


def _kept(previous: Resolution, refused: frozenset[str]) -> Layer:
    """Mid-call, a field the participant sent a bad value for keeps the value in force.

    Applied below the participant's valid values, so one of those still wins a min/max
    conflict. Only the participant's refusals count: dispatch metadata is fixed for the job,
    so keeping on its refusals would pin fields the participant has since stopped setting.
    """
    return Layer(Source.PARTICIPANT, {name: getattr(previous.settings, name) for name in refused},
                 kept_sources={name: previous.sources[name] for name in refused})


def _without_profile(values: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata names a profile to pick (a profile layer), not a value to apply over it."""
    return {name: value for name, value in values.items() if name != "profile"}


class _Assembly:
    """Effective values being assembled, with their sources."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = _DEFAULTS.model_dump()
        self.sources: dict[str, Source] = dict.fromkeys(FIELDS, Source.DEFAULT)
        self.errors: list[SettingsError] = []
        self._applied = 0
        # Which layer (by order applied) set each bound, and as what source; 0: the defaults.
        self._bound_set_by: dict[str, tuple[int, Source | None]] = dict.fromkeys(
            (MIN_DELAY, MAX_DELAY), (0, None))

    def apply(self, layer: Layer) -> None:
        self._applied += 1
        kept = layer.kept_sources or {}
        for name, value in layer.values.items():
            self.values[name] = value
            self.sources[name] = kept.get(name, layer.source)
            if name in self._bound_set_by:
                self._bound_set_by[name] = (self._applied, layer.source)

    def settle_bounds(self) -> None:
        """min > max: the bound from the higher layer wins and the other moves to meet it.

        Only the final values are compared, so a bound that a higher layer has since replaced
        cannot move the other. (A contradictory pair from one source never gets here: parsing
        refuses both, and profiles are validated whole.)
        """
        if self.values[MIN_DELAY] <= self.values[MAX_DELAY]:
            return
        set_by = self._bound_set_by
        kept = MIN_DELAY if set_by[MIN_DELAY][0] >= set_by[MAX_DELAY][0] else MAX_DELAY
        moved = MAX_DELAY if kept == MIN_DELAY else MIN_DELAY
        old = self.values[moved]
        self.values[moved], self.sources[moved] = self.values[kept], Source.ADJUSTED
        self.errors.append(SettingsError(
            moved, old, f"{kept} {self.values[kept]:g} s conflicts with {moved} {old:g} s; "
            f"{moved} was set to {self.values[kept]:g} s to keep min <= max.", set_by[kept][1]))

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

    def build(self, previous: Resolution | None) -> VoiceSettings:
        try:
            return VoiceSettings.model_validate(self.values)
        except Exception as exc:  # a resolver bug: report it, keep the call on good settings
            kept = "previous" if previous else "default"
            self.errors.append(SettingsError(
                "(settings)", None, f"internal error while combining settings ({exc}); "
                f"kept the {kept} settings."))
            return previous.settings if previous else _DEFAULTS
