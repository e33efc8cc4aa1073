"""The caller and the job's life: the participant whose settings the session is built from.

The wait is bounded. A caller who leaves, or a room that closes, before the session has started
ends the job cleanly with a log line, never with a traceback. Once started, the session decides:
when it closes for good (the caller left, or a provider failed past the framework's retries),
the job ends too, instead of sitting in the room until the room closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.voice.events import CloseEvent, CloseReason

from ..parsing import decode

logger = logging.getLogger(__name__)

IDENTITY_KEYS = ("participant_identity", "participantIdentity")


def caller_identity(dispatch_metadata: Any) -> str | None:
    """The identity the dispatch metadata asks the agent to serve, if it names one."""
    document, _ = decode(dispatch_metadata)
    for key in IDENTITY_KEYS:
        value = (document or {}).get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


async def wait_for_caller(ctx: Any, *, identity: str | None,
                          timeout: float) -> rtc.RemoteParticipant | None:
    """The participant (the one named, else the first to join), or None when nobody came within
    `timeout` seconds or the room closed first."""
    wanted = {"participant": identity or "(first to join)", "timeout_s": timeout}
    try:
        return await asyncio.wait_for(ctx.wait_for_participant(identity=identity), timeout)
    except TimeoutError:
        logger.info("no participant joined within %g s; ending the job", timeout, extra=wanted)
    except RuntimeError as exc:  # the room disconnected while we waited
        logger.info("room closed while waiting for the participant (%s); ending the job", exc,
                    extra=wanted)
    return None


async def run_while_present(room: rtc.Room, identity: str, step: Awaitable[Any]) -> bool:
    """Run `step` (starting the session) unless the caller leaves or the room closes first.

    True when `step` finished; False (after cancelling it) when the caller was gone.
    """
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[str] = loop.create_future()

    def on_left(participant: rtc.RemoteParticipant) -> None:
        if participant.identity == identity and not gone.done():
            gone.set_result("the participant left")

    def on_state(state: int) -> None:
        if state == rtc.ConnectionState.CONN_DISCONNECTED and not gone.done():
            gone.set_result("the room closed")

    room.on("participant_disconnected", on_left)
    room.on("connection_state_changed", on_state)
    task = asyncio.ensure_future(step)
    try:
        # By identity over the values: console mode's mock room keys participants by sid.
        if not any(p.identity == identity for p in room.remote_participants.values()):
            gone.set_result("the participant left")
        elif not room.isconnected():
            gone.set_result("the room closed")
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if task.done() and not gone.done():
            task.result()  # a failure to start is the operator's to see
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        logger.info("%s before the session started; ending the job", gone.result(),
                    extra={"participant": identity})
        return False
    finally:
        room.off("participant_disconnected", on_left)
        room.off("connection_state_changed", on_state)


def end_job_when_session_closes(ctx: Any, session: AgentSession, identity: str) -> None:
    """Call `ctx.shutdown` with the reason as soon as the session closes, with one log line."""

    def on_close(event: CloseEvent) -> None:
        if event.reason is CloseReason.JOB_SHUTDOWN:
            return  # the job is ending already; that is why the session closed
        why = event.reason.value
        if event.error is not None:
            why += f" ({event.error.type}: {event.error.error})"
        level = logging.WARNING if event.reason is CloseReason.ERROR else logging.INFO
        logger.log(level, "session closed for %s: %s; ending the job", identity, why,
                   extra={"participant": identity, "close_reason": event.reason.value})
        ctx.shutdown(f"session closed: {why}")

    session.on("close", on_close)
