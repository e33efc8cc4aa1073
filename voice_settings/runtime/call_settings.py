"""The settings of one call: what it started with, what is in force, and every decision.

Synchronous and pure apart from logging: inputs (the caller's metadata changes, a profile chosen
by voice) -> a new resolution against the settings in force (`previous=`, so bad input never
resets what was working) -> decisions -> one log line each, with the participant identity:
`settings resolved`, `change applied` (live), `change deferred to next session`, `input rejected`.
Acting on the decisions (applying instructions, publishing attributes) is the publisher's job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from ..changes import FieldChange, diff, pending_fields
from ..errors import SettingsError
from ..parsing import ParsedMetadata, parse_metadata
from ..profiles import ProfileStore
from ..resolution import Resolution, resolve
from ..sources import Source
from ..store import store_with

logger = logging.getLogger(__name__)

METADATA_CHANGE = "metadata change"
VOICE_SWITCH = "profile switch by voice"
PROFILE_EDITED = "profile edited"


class CallSettings:
    """Owns the caller's effective settings for the life of one session."""

    def __init__(self, *, identity: str, participant_metadata: Any, dispatch_metadata: Any,
                 profiles: ProfileStore | None, switchable_profiles: Collection[str] = (),
                 on_change: Callable[[], None] | None = None) -> None:
        self.identity = identity
        self.switchable = sorted(switchable_profiles)
        self._profiles = profiles
        self._dispatch = parse_metadata(dispatch_metadata, Source.DISPATCH)  # fixed for the job
        self._participant = parse_metadata(participant_metadata, Source.PARTICIPANT)
        self._spoken_profile: str | None = None  # chosen by voice, until metadata picks again
        self._on_change: Callable[[], None] = on_change or (lambda: None)
        """Called after every decision (the publisher's `notify`)."""
        self.current = self._resolve(previous=None)
        self.started = self.current.settings  # what the STT and the session were built with
        self.errors: tuple[SettingsError, ...] = self.current.errors
        log_resolution(identity, self.current, "settings resolved")

    # --- inputs ---------------------------------------------------------------------------
    def on_metadata_changed(self, participant: Any, old: Any, new: Any) -> None:
        """Room event handler (`participant_metadata_changed`): only the caller's count."""
        if getattr(participant, "identity", None) != self.identity:
            logger.debug("ignored a metadata change of another participant",
                         extra={"participant": getattr(participant, "identity", None)})
            return
        try:
            self.metadata_changed(new)
        except Exception:  # an event handler that raises would silently stop all updates
            logger.exception("could not process a metadata change for %s", self.identity,
                             extra={"participant": self.identity})

    def metadata_changed(self, metadata: Any) -> list[FieldChange]:
        """The caller's new metadata, decoded once. Returns the changes it made."""
        parsed = parse_metadata(metadata, Source.PARTICIPANT)
        if not parsed.rejected_whole and _profile(parsed) != _profile(self._participant):
            self._spoken_profile = None  # the app chose a profile after the voice did
        if not parsed.rejected_whole:
            self._participant = parsed
        return self._update(METADATA_CHANGE, parsed)

    def switch_profile(self, name: str) -> str:
        """The voice command: switch to an allowed profile. Returns what to tell the user."""
        if name not in self.switchable:
            error = SettingsError("profile", name, "this profile cannot be chosen by voice. "
                                  f"Allowed: {', '.join(self.switchable) or 'none'}.")
            self.errors = (error,)
            log_rejected(self.identity, self.errors)
            self._on_change()
            return f"Cannot switch to {name!r}. Available: {', '.join(self.switchable)}."
        self._spoken_profile = name
        self._update(VOICE_SWITCH, self._participant)
        pending = sorted(self.pending())
        later = f" Timing changes ({', '.join(pending)}) apply on the next call." if pending else ""
        return f"Switched to the {name} profile; its instructions apply now.{later}"

    def profiles_changed(self, profiles: ProfileStore) -> list[FieldChange]:
        """The operator edited the profile store: the call follows, like a metadata change. A
        profile the call uses that was deleted keeps its last valid version for this call: the
        operator's edit must not switch the caller to other instructions, or blame them."""
        in_use = self.current.settings.profile
        if self._profiles is not None and in_use in self._profiles and in_use not in profiles:
            logger.warning("profile %s deleted from the store; this call keeps its last valid "
                           "version", in_use, extra={"participant": self.identity,
                                                     "profile": in_use, "source": "operator"})
            profiles = store_with(profiles, in_use, self._profiles.values(in_use),
                                  self._profiles.descriptions.get(in_use, ""))
        self._profiles = profiles
        return self._update(PROFILE_EDITED, self._participant)

    # --- state ----------------------------------------------------------------------------
    def pending(self) -> dict[str, Any]:
        """Session-start fields changed since the session started: they wait for the next one."""
        return pending_fields(self.started, self.current.settings)

    def _resolve(self, previous: Resolution | None,
                 participant: ParsedMetadata | None = None) -> Resolution:
        return resolve(participant=participant or self._participant, dispatch=self._dispatch,
                       profiles=self._profiles, previous=previous,
                       spoken_profile=self._spoken_profile)

    def _update(self, cause: str, participant: ParsedMetadata) -> list[FieldChange]:
        resolution = self._resolve(self.current, participant)
        log_rejected(self.identity, resolution.errors)
        changes = diff(self.current.settings, resolution.settings)
        for change in changes:
            log_change(self.identity, change, cause)
        self.current, self.errors = resolution, resolution.errors
        self._on_change()
        return changes


def _profile(parsed: ParsedMetadata) -> Any:
    return parsed.values.get("profile")


def log_resolution(identity: str, resolution: Resolution, event: str) -> None:
    """One line for the settings in force, one per rejected input."""
    settings = resolution.settings
    logger.info(
        "%s for %s: profile=%s endpointing_ms=%d min_endpointing_delay=%g "
        "max_endpointing_delay=%g turn_detection=%s", event, identity, settings.profile,
        settings.endpointing_ms, settings.min_endpointing_delay,
        settings.max_endpointing_delay, settings.turn_detection,
        extra={"participant": identity, "settings": settings.model_dump(mode="json"),
               "sources": {k: v.value for k, v in resolution.sources.items()}})
    log_rejected(identity, resolution.errors)


def log_rejected(identity: str, errors: Collection[SettingsError]) -> None:
    for error in errors:
        entry = error.to_dict()
        # `message` is a reserved LogRecord attribute: log it as `reason`.
        entry["reason"] = entry.pop("message")
        logger.warning("input rejected for %s: %s", identity, error,
                       extra={"participant": identity, **entry})


def log_change(identity: str, change: FieldChange, cause: str) -> None:
    decision = "change applied" if change.live else "change deferred to next session"
    logger.info("%s for %s: %s %s -> %s (%s)", decision, identity, change.field,
                _short(change.old), _short(change.new), cause,
                extra={"participant": identity, "field": change.field, "old": change.old,
                       "new": change.new, "applies": change.applies, "cause": cause})


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
