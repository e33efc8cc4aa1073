"""Acting on a call's settings: apply instructions in order, publish what the app sees.

One worker task follows the `CallSettings`: after every change it applies the latest
instructions with `Agent.update_instructions` (so a burst of changes ends with the last one in
force) and republishes the agent's attributes. `wait_until_applied()` returns once everything
decided so far has been applied and published (or has failed and been logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from .attributes import agent_attributes
from .call_settings import CallSettings

logger = logging.getLogger(__name__)

ApplyInstructions = Callable[[str], Awaitable[None]]
PublishAttributes = Callable[[dict[str, str]], Awaitable[None]]


class SettingsPublisher:
    """Applies and publishes a call's settings, strictly in order, on one worker task."""

    def __init__(self, call: CallSettings) -> None:
        self.call = call
        self.applied_instructions = call.current.settings.instructions
        self._changed = asyncio.Event()
        self._changed.set()  # publish the initial attributes as soon as the worker runs
        self._settled = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Something was decided: apply it and republish. Safe to call from event handlers."""
        self._settled.clear()
        self._changed.set()

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
        identity = self.call.identity
        while True:
            await self._changed.wait()
            self._changed.clear()
            wanted = self.call.current.settings.instructions
            if wanted != self.applied_instructions:
                try:
                    await apply_instructions(wanted)
                    self.applied_instructions = wanted
                except Exception:
                    logger.exception("could not apply instructions for %s", identity,
                                     extra={"participant": identity})
            try:
                await publish(self.attributes())
            except Exception:
                logger.exception("could not publish settings attributes for %s", identity,
                                 extra={"participant": identity})
            if not self._changed.is_set():
                self._settled.set()
