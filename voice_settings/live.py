"""The settings a running call has in force, and how later changes reach it.

Every metadata change of the caller is resolved at once, in the order the events arrive, against
the settings in force (`previous=`), so bad input never resets what was working. Each decision
is one log line with the participant identity: change applied (live), change deferred (next
session), input rejected. Prompt-level changes reach the agent through one worker that applies
the latest instructions, strictly in order: a burst of changes ends with the last one in force.
The agent's attributes (see `attributes.py`) are republished after every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from .attributes import agent_attributes
from .changes import diff, pending_fields
from .errors import SettingsError
from .parsing import decode
from .profiles import ProfileStore
from .sources import Resolution, resolve

logger = logging.getLogger("voice_settings.live")

ApplyInstructions = Callable[[str], Awaitable[None]]
PublishAttributes = Callable[[dict[str, str]], Awaitable[None]]


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


class LiveSettings:
    """Owns the caller's effective settings for the life of one session."""

    def __init__(self, *, identity: str, resolution: Resolution, participant_metadata: Any,
                 dispatch_metadata: Any, profiles: ProfileStore | None,
                 switchable_profiles: Collection[str]) -> None:
        self.identity = identity
        self.started = resolution.settings  # what the STT and the session were built with
        self.current = resolution
        self.errors: tuple[SettingsError, ...] = resolution.errors
        self.switchable = sorted(switchable_profiles)
        self._metadata = participant_metadata
        self._metadata_profile = _profile_named(participant_metadata)
        self._dispatch = dispatch_metadata
        self._profiles = profiles
        self._spoken_profile: str | None = None  # chosen by voice, until metadata picks again
        self._changed = asyncio.Event()
        self._changed.set()  # publish the initial attributes as soon as the worker runs
        self._applied_instructions = resolution.settings.instructions
        self._worker: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()

    # --- inputs ---------------------------------------------------------------------------
    def on_metadata_changed(self, participant: Any, old: Any, new: Any) -> None:
        """Room event handler: only the caller's changes count."""
        if getattr(participant, "identity", None) != self.identity:
            logger.debug("ignored a metadata change of another participant",
                         extra={"participant": getattr(participant, "identity", None)})
            return
        try:
            profile = _profile_named(new)
            if profile != self._metadata_profile:
                self._spoken_profile = None  # the app chose a profile after the voice did
            self._metadata, self._metadata_profile = new, profile
            self._update("metadata change")
        except Exception:  # an event handler that raises would silently stop all updates
            logger.exception("could not process a metadata change for %s", self.identity,
                             extra={"participant": self.identity})

    def switch_profile(self, name: str) -> str:
        """The voice command: switch to an allowed profile. Returns what to tell the user."""
        if name not in self.switchable:
            error = SettingsError("profile", name, "this profile cannot be chosen by voice. "
                                  f"Allowed: {', '.join(self.switchable) or 'none'}.")
            self.errors = (error,)
            log_rejected(self.identity, self.errors)
            self._notify()
            return f"Cannot switch to {name!r}. Available: {', '.join(self.switchable)}."
        self._spoken_profile = name
        self._update("profile switch by voice")
        pending = sorted(self.pending())
        later = f" Timing changes ({', '.join(pending)}) apply on the next call." if pending else ""
        return f"Switched to the {name} profile; its instructions apply now.{later}"

    # --- state ----------------------------------------------------------------------------
    def pending(self) -> dict[str, Any]:
        return pending_fields(self.started, self.current.settings)

    def attributes(self) -> dict[str, str]:
        """What the app sees: the instructions actually applied, not merely resolved."""
        in_force = self.current.settings.model_copy(
            update={"instructions": self._applied_instructions})
        return agent_attributes(in_force, self.pending(), self.errors)

    def _participant_input(self) -> Any:
        if self._spoken_profile is None:
            return self._metadata
        document, _ = decode(self._metadata)
        if document is None:  # unreadable metadata: let resolve report it and keep what was
            return self._metadata
        return {**document, "profile": self._spoken_profile}

    def _update(self, cause: str) -> None:
        resolution = resolve(participant=self._participant_input(), dispatch=self._dispatch,
                             profiles=self._profiles, previous=self.current)
        log_rejected(self.identity, resolution.errors)
        for change in diff(self.current.settings, resolution.settings):
            decision = "change applied" if change.live else "change deferred to next session"
            logger.info("%s for %s: %s %s -> %s (%s)", decision, self.identity, change.field,
                        _short(change.old), _short(change.new), cause,
                        extra={"participant": self.identity, "field": change.field,
                               "old": change.old, "new": change.new,
                               "applies": change.applies, "cause": cause})
        self.current, self.errors = resolution, resolution.errors
        self._notify()

    def _notify(self) -> None:
        """Wake the worker: apply what changed and republish."""
        self.idle.clear()
        self._changed.set()

    # --- output ---------------------------------------------------------------------------
    def start(self, apply_instructions: ApplyInstructions, publish: PublishAttributes) -> None:
        self._worker = asyncio.create_task(self._run(apply_instructions, publish),
                                           name="live-settings")

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _run(self, apply_instructions: ApplyInstructions,
                   publish: PublishAttributes) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            wanted = self.current.settings.instructions
            if wanted != self._applied_instructions:
                try:
                    await apply_instructions(wanted)
                    self._applied_instructions = wanted
                except Exception:
                    logger.exception("could not apply instructions for %s", self.identity,
                                     extra={"participant": self.identity})
            try:
                await publish(self.attributes())
            except Exception:
                logger.exception("could not publish settings attributes for %s", self.identity,
                                 extra={"participant": self.identity})
            if not self._changed.is_set():
                self.idle.set()


def _profile_named(metadata: Any) -> Any:
    document, _ = decode(metadata)
    return (document or {}).get("profile")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
