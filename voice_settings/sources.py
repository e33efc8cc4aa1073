"""Where values come from: the sources of settings, in order of precedence.

`PRECEDENCE` is the whole rule, lowest first: each layer's values are applied over every layer
before it, and every effective value remembers the `Source` that set it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Source(enum.StrEnum):
    """Where an effective value came from."""

    DEFAULT = "default"
    DEFAULT_PROFILE = "default_profile"
    PROFILE = "profile"
    DISPATCH = "dispatch"
    PARTICIPANT = "participant"
    # Moved by the resolver to keep min_endpointing_delay <= max_endpointing_delay, or to let an
    # "stt" turn end; always reported.
    ADJUSTED = "adjusted"


@dataclass(frozen=True)
class LayerRule:
    """One rung of the precedence ladder: which source, and what it is."""

    source: Source
    what: str


PRECEDENCE: tuple[LayerRule, ...] = (
    LayerRule(Source.DEFAULT, "the built-in defaults of voice_settings/model.py"),
    LayerRule(Source.DEFAULT_PROFILE, "the operator's default profile ($VOICE_DEFAULT_PROFILE, "
              "else profiles/default.toml when it exists)"),
    LayerRule(Source.PROFILE, "one named profile: the one chosen by voice during the call, else "
              "the one named in participant metadata, else in dispatch metadata"),
    LayerRule(Source.DISPATCH, "the agent dispatch (job) metadata, fixed for the job"),
    LayerRule(Source.PARTICIPANT, "the participant's metadata, which the app may change mid-call"),
)
"""Lowest precedence first."""

RANK: Mapping[Source, int] = {rule.source: rank for rank, rule in enumerate(PRECEDENCE)}


@dataclass(frozen=True)
class Layer:
    """The values one source gives; `name` says which profile, for profile layers."""

    source: Source
    values: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    kept_sources: Mapping[str, Source] | None = None
    """For values a running call keeps (their new value was refused): the sources they had."""

    def __post_init__(self) -> None:
        if self.source not in RANK:
            raise ValueError(f"{self.source} is not a layer of PRECEDENCE")
