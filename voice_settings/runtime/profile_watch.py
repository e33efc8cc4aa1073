"""Following the profile store while the worker runs: edits apply without a restart.

A job reads the store afresh when it starts (its process was prewarmed earlier, perhaps before
an edit), and a running call watches the profiles directory: an edited profile reaches the call
like a metadata change (instructions now, timing next session, one log line per decision with
cause "profile edited"). A profile that is broken on disk is rejected with an error log naming
the file and the field, and its last valid version keeps serving: an edit never crashes a call.

Watching uses `watchfiles` (inotify and friends); on a network or bind-mounted directory that
does not deliver file events, set `WATCHFILES_FORCE_POLLING=1`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import watchfiles

from ..profile_files import reload_store
from ..profiles import ProfileStore

logger = logging.getLogger(__name__)


def fresh_profiles(store: ProfileStore) -> ProfileStore:
    """The store as it is on disk now; broken files keep their last valid version (logged)."""
    fresh, errors = reload_store(store)
    for error in errors:
        kept = Path(error.path).stem in fresh
        outcome = "its last valid version stays in use" if kept else "it is not served"
        logger.error("profile rejected, %s: %s", outcome, error,
                     extra={"file": error.path, "field": error.field, "reason": error.problem})
    return fresh


class ProfileWatch:
    """The profiles one call follows: `store` as it is on disk now (edits since the process
    loaded `prewarmed` included), then, once started, `on_change(store)` after each edit."""

    def __init__(self, prewarmed: ProfileStore) -> None:
        self.store = fresh_profiles(prewarmed)
        self._on_change: Callable[[ProfileStore], None] = lambda store: None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, on_change: Callable[[ProfileStore], None]) -> None:
        self._on_change = on_change
        if self.store.directory.is_dir():
            self._task = asyncio.create_task(self._run(), name="profile-watch")

    async def aclose(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        async for _ in watchfiles.awatch(self.store.directory, stop_event=self._stop,
                                         watch_filter=_toml_files, debounce=200):
            try:
                fresh = fresh_profiles(self.store)
                if fresh != self.store:
                    self.store = fresh
                    self._on_change(fresh)
            except Exception:  # a watcher that dies would silently stop following edits
                logger.exception("could not reload profiles from %s", self.store.directory)


def _toml_files(change: watchfiles.Change, path: str) -> bool:
    return path.endswith(".toml")
