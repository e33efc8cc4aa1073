"""Acting on a call's settings: apply instructions in order, publish what the app sees.

One worker task follows the `CallSettings`: after every change it applies the latest
instructions with `Agent.update_instructions` (so a burst of changes ends with the last one in
force) and republishes the agent's attributes. A failed publication is retried with a doubling
backoff, always with the latest state, until it goes through or `PublishRetry.max_attempts` are
used up (one error line; the next change tries again). `wait_until_applied()` returns once
everything decided so far has been applied and published (or has failed for good and been logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .attributes import agent_attributes
from .call_settings import CallSettings

logger = logging.getLogger(__name__)

ApplyInstructions = Callable[[str], Awaitable[None]]
PublishAttributes = Callable[[dict[str, str]], Awaitable[None]]


@dataclass(frozen=True)
class PublishRetry:
    """How a failed publication is retried: a doubling backoff, then one error and a pause
    until the next change."""

    first_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_attempts: int = 8
    """Publications tried for one state, the first included (about 30 s with the delays above)."""

    def delay_s(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row."""
        return min(self.first_delay_s * 2 ** (failures - 1), self.max_delay_s)


class Decisions:
    """The signal from a call to its publisher: something was decided.

    Made first, so the call is built with `on_change=decisions.notify` and the publisher with
    `decisions`: each is wired when it is constructed.
    """

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.changed.set()  # publish the initial attributes as soon as the worker runs
        self.settled = asyncio.Event()

    def notify(self) -> None:
        """Something was decided: apply it and republish. Safe to call from event handlers."""
        self.settled.clear()
        self.changed.set()


class SettingsPublisher:
    """Applies and publishes a call's settings, strictly in order, on one worker task."""

    def __init__(self, call: CallSettings, decisions: Decisions | None = None,
                 retry: PublishRetry = PublishRetry()) -> None:
        self.call = call
        self.retry = retry
        self.applied_instructions = call.current.settings.instructions
        self.decisions = decisions or Decisions()
        self._changed = self.decisions.changed
        self._settled = self.decisions.settled
        self._worker: asyncio.Task[None] | None = None

    def attributes(self) -> dict[str, str]:
        """What the app sees: the instructions actually applied, not merely resolved."""
        in_force = self.call.current.settings.model_copy(
            update={"instructions": self.applied_instructions})
        return agent_attributes(in_force, self.call.pending(), self.call.errors)

    def start(self, apply_instructions: ApplyInstructions, publish: PublishAttributes) -> None:
        self._worker = asyncio.create_task(self._run(apply_instructions, publish),
                                           name="settings-publisher")

    async def wait_until_applied(self) -> None:
        """Return once every change notified so far has been applied and published."""
        await self._settled.wait()

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _run(self, apply_instructions: ApplyInstructions,
                   publish: PublishAttributes) -> None:
        failures = 0  # failed publications in a row of the latest state
        while True:
            if failures:  # retry after the backoff, or at once when something changes
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self.retry.delay_s(failures))
                if self._changed.is_set():
                    failures = 0
            else:
                await self._changed.wait()
            self._changed.clear()
            await self._apply(apply_instructions)
            failures = await self._publish(publish, failures)
            if not failures and not self._changed.is_set():
                self._settled.set()

    async def _apply(self, apply_instructions: ApplyInstructions) -> None:
        wanted = self.call.current.settings.instructions
        if wanted == self.applied_instructions:
            return
        try:
            await apply_instructions(wanted)
            self.applied_instructions = wanted
        except Exception:
            logger.exception("could not apply instructions for %s", self.call.identity,
                             extra={"participant": self.call.identity})

    async def _publish(self, publish: PublishAttributes, failures: int) -> int:
        """Publish the latest state. Returns the failures in a row (0: published, or gave up)."""
        identity = self.call.identity
        try:
            await publish(self.attributes())
            return 0
        except Exception as exc:
            failures += 1
            if failures >= self.retry.max_attempts:
                logger.error("could not publish settings attributes for %s: gave up after %d "
                             "tries (%s); the next change publishes again", identity, failures,
                             exc, exc_info=True,
                             extra={"participant": identity, "attempts": failures})
                return 0
            if failures == 1:
                logger.warning("could not publish settings attributes for %s (%s); retrying "
                               "in %g s, at most %d tries", identity, exc,
                               self.retry.delay_s(1), self.retry.max_attempts,
                               extra={"participant": identity})
            return failures
