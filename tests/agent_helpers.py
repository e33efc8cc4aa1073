"""Shared steps for the agent tests: run the real entrypoint against the offline stack."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import agent
from voice_settings.harness import OfflineStack
from voice_settings.runtime import attributes

TIMEOUT = 20.0


async def until(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll an observable condition; fail with `what` if it never holds."""
    async with asyncio.timeout(timeout):
        while not (value := predicate()):
            await asyncio.sleep(0.02)
    assert value, what
    return value


def published(stack: OfflineStack, name: str) -> Any:
    """The agent's attribute `name`, decoded, or None before the first publication."""
    raw = stack.room.local_participant.attributes.get(name)
    return json.loads(raw) if raw is not None else None


async def settled(stack: OfflineStack, instructions: str) -> None:
    """Wait until the agent reports `instructions` in force (published after they applied)."""
    digest = attributes.instructions_digest(instructions)
    await until(lambda: (published(stack, attributes.SETTINGS) or {}).get(
        "instructions_sha256") == digest, f"instructions {instructions!r} in force")


@contextlib.asynccontextmanager
async def running_agent(participant_metadata: str = "", *, job_metadata: str = "",
                        identity: str = "alice", env: dict[str, str] | None = None,
                        wait_for_start: bool = True) -> AsyncIterator[OfflineStack]:
    """The real `agent.entrypoint` in a stack, with `identity` joined and the session started."""
    async with OfflineStack(job_metadata=job_metadata, env=env) as stack:
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        await stack.room.join(identity, metadata=participant_metadata)
        if wait_for_start:
            await until(lambda: published(stack, attributes.SETTINGS), "session started")
            if greeting := _greeting(participant_metadata):
                # What the caller says over a greeting that cannot be interrupted gets no reply.
                await until(lambda: said(stack, greeting), f"the greeting {greeting!r} said")
        yield stack


def said(stack: OfflineStack, text: str) -> bool:
    """Whether the agent has said `text` to the end (it is in the session's history)."""
    return any(getattr(item, "role", None) == "assistant" and text in (item.text_content or "")
               for item in stack.ctx.primary_session.history.items)


def _greeting(participant_metadata: str) -> str:
    with contextlib.suppress(ValueError):
        document = json.loads(participant_metadata)
        if isinstance(document, dict) and isinstance(document.get("greeting"), str):
            return document["greeting"].strip()
    return ""


async def user_turn(stack: OfflineStack, text: str):
    """The user says `text`; returns the LLM request that answers it."""
    before = len(stack.openai.chat_requests)
    await stack.deepgram.say(text)
    return await stack.openai.wait_for_chat_request(before + 1, timeout=TIMEOUT)
