"""Following a store while something runs (a call, the token server, the worker's main process):
the last valid profiles, read again off the event loop whenever the store says it changed.

One line per change of state: profiles that changed, each profile newly rejected (its file or
row, field and problem), the store becoming unreadable and readable again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ..profiles import ProfileError, ProfileStore
from .base import ProfileBackend, StoreError
from .rules import log_refused, log_settled, profile_name_of, settle

logger = logging.getLogger(__name__)


class StoreFollower:
    """`store` is the last valid set; `on_change(store)` is called after each change of it."""

    def __init__(self, backend: ProfileBackend, store: ProfileStore,
                 on_change: Callable[[ProfileStore], None] | None = None) -> None:
        self.backend = backend
        self.store = store
        self.problems: dict[str, ProfileError] = {}
        """The profiles rejected by the last reading, by name."""
        self.unreadable: str | None = None
        self._on_change = on_change or (lambda store: None)
        self._task: asyncio.Task[None] | None = None
        self._reading = asyncio.Lock()

    async def refresh(self) -> ProfileStore:
        """The store read again now (in a thread), settled over the last valid set."""
        async with self._reading:
            try:
                entries = await asyncio.to_thread(self.backend.read_all)
            except StoreError as exc:
                if self.unreadable is None:
                    logger.error("profile store unreadable, the last valid profiles stay in "
                                 "use: %s", exc.message,
                                 extra={"file": self.backend.location, "source": "operator"})
                self.unreadable = exc.message
                return self.store
            if self.unreadable is not None:
                logger.info("profile store %s readable again", self.backend.location)
                self.unreadable = None
            old = self.store
            self.store, errors = settle(old, entries)
            self._report(old, errors)
            if self.store != old:
                self._on_change(self.store)
            return self.store

    def _report(self, old: ProfileStore, errors: list[ProfileError]) -> None:
        problems = {profile_name_of(e): e for e in errors}
        log_settled(old, self.store)
        for key, error in problems.items():
            if key not in self.problems or str(self.problems[key]) != str(error):
                log_refused(error, kept=key in self.store)
        self.problems = problems

    def start(self, on_change: Callable[[ProfileStore], None] | None = None) -> None:
        """Follow the store from now on; `on_change` replaces the one given at construction."""
        if on_change is not None:
            self._on_change = on_change
        self._task = asyncio.create_task(self._run(), name="profile-store-follower")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        changes = self.backend.changes()
        try:
            async for _ in changes:
                try:
                    await self.refresh()
                except Exception:  # a follower that dies would silently stop following edits
                    logger.exception("could not read the profile store %s",
                                     self.backend.location)
        finally:
            await changes.aclose()
