"""The profile store in the worker: checked once by the main process, read by each job at its
start, followed by each live call. Edits apply without a restart; nothing about a profile ever
fails a job process.

- Main process (`keep_for_jobs`): after the start-up check it follows the store in a thread of
  its own, logs each profile rejected (file or row, field) once, and keeps the last valid set in
  a file its job processes inherit (`store.last_valid`).
- Job start (`job_profiles`): the store as it is now, settled over that last valid set, so a
  profile broken after start-up serves its last valid version in new calls too; a store that
  cannot be read (a database restarting) serves the last valid set.
- Live call (`CallProfiles`): an edited profile reaches the call like a metadata change
  (instructions now, timing next session, one log line per decision with cause "profile
  edited"); a broken one is rejected with one log line and its last valid version keeps serving.

The directory is followed with `watchfiles` (inotify and friends); on a network or bind-mounted
directory that does not deliver file events, set `WATCHFILES_FORCE_POLLING=1`. A database is
followed with LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from ..profiles import ProfileStore
from ..store import (
    ProfileBackend,
    StoreError,
    StoreFollower,
    empty_store,
    last_valid,
    load_lenient,
    log_refused,
)
from ..store.rules import profile_name_of
from .config import AgentConfig

logger = logging.getLogger(__name__)


async def job_profiles(backend: ProfileBackend,
                       default_name: str | None = None) -> ProfileStore:
    """The profiles a job starts with (read off the event loop); never raises."""
    previous = last_valid.recall(empty_store(backend))
    try:
        store, errors = await asyncio.to_thread(load_lenient, backend, previous, default_name)
    except StoreError as exc:
        logger.error("profile store unreadable at job start, the last valid profiles are used: "
                     "%s", exc.message, extra={"file": backend.location, "source": "operator"})
        return previous or empty_store(backend)
    for error in errors:
        log_refused(error, kept=profile_name_of(error) in store)
    return store


class CallProfiles(StoreFollower):
    """The profiles of one call: the store as the job read it at its start, then followed."""

    @classmethod
    async def read(cls, backend: ProfileBackend, config: AgentConfig) -> CallProfiles:
        return cls(backend, await job_profiles(backend, config.default_profile))


def keep_for_jobs(backend: ProfileBackend, store: ProfileStore) -> None:
    """In the worker's main process: share `store` (checked at start-up) with job processes and
    keep it up to date from a daemon thread that follows the store."""
    last_valid.share_with_jobs(store)

    async def follow() -> None:
        follower = StoreFollower(backend, store, on_change=last_valid.remember)
        follower.start()
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(follow(),), name="profile-store", daemon=True
                     ).start()
