"""Offline demo: the real agent entrypoint, framework and plugins against the stand-ins.

    python -m voice_settings.harness

No credentials, no network beyond 127.0.0.1. Prints what a caller chose, what the agent decided
(its own log lines), and what actually went over the wire to Deepgram and the LLM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import textwrap
import time
import warnings
from typing import Any

from voice_settings.runtime import attributes

from .stack import OfflineStack

CALLER = {"profile": "patient", "endpointingMs": 400,
          "systemPrompt": "You are Ada, a librarian who recommends one book at a time.",
          "userId": "u-123"}
DISPATCH = {"participant_identity": "alice", "llm_model": "gpt-4o"}
TIMEOUT = 20.0


class _Trace(logging.Handler):
    """The agent's decisions, printed in the trace as they happen."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"    agent log [{record.levelname.lower()}] {record.getMessage()}")


def step(title: str) -> None:
    print(f"\n== {title}")


def show(label: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    lines = textwrap.wrap(text, 96, subsequent_indent=" " * 6) or [""]
    print(f"    {label}: {lines[0]}")
    for line in lines[1:]:
        print(line)


async def until(predicate: Any, what: str) -> Any:
    async with asyncio.timeout(TIMEOUT):
        while not (value := predicate()):
            await asyncio.sleep(0.02)
    return value


def published(stack: OfflineStack, name: str) -> Any:
    raw = stack.room.local_participant.attributes.get(name)
    return json.loads(raw) if raw else None


async def user_says(stack: OfflineStack, text: str) -> Any:
    before = len(stack.openai.chat_requests)
    print(f'    user says: "{text}"  (Deepgram stand-in sends the final transcript)')
    await stack.deepgram.say(text)
    request = await stack.openai.wait_for_chat_request(before + 1, timeout=TIMEOUT)
    show("LLM request, system message", request.system)
    return request


async def in_force(stack: OfflineStack, instructions: str) -> None:
    digest = attributes.instructions_digest(instructions)
    await until(lambda: (published(stack, attributes.SETTINGS) or {}).get(
        "instructions_sha256") == digest, "instructions in force")


async def run() -> None:
    import agent  # the project's agent.py, unmodified

    async with OfflineStack(job_metadata=json.dumps(DISPATCH)) as stack:
        step("A job is dispatched; the agent connects and waits for its participant")
        show("dispatch metadata (operator)", DISPATCH)
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)

        step("alice joins with her settings in the token metadata")
        show("participant metadata", CALLER)
        await stack.room.join("alice", metadata=json.dumps(CALLER))
        await until(lambda: published(stack, attributes.SETTINGS), "session started")

        step("The pipeline was built from her validated settings")
        connection = await stack.deepgram.wait_for_connection()
        params = connection.params
        show("Deepgram query", {k: params[k] for k in (
            "endpointing", "utterance_end_ms", "interim_results", "model", "language")})
        options = stack.ctx.primary_session.options
        show("AgentSession endpointing", options.endpointing)
        show("AgentSession interruption", {k: options.interruption[k] for k in (
            "enabled", "min_duration", "min_words", "false_interruption_timeout")})
        greeting = await stack.openai.wait_for_speech_request()
        show("greeting sent to TTS", greeting.input)

        step("A user turn")
        request = await user_says(stack, "Can you recommend a novel?")
        show("LLM model", request.body["model"])

        step("The app changes her instructions mid-call: applied now")
        changed = {**CALLER, "systemPrompt": "You are Ada. Answer only in French."}
        stack.room.set_metadata("alice", json.dumps(changed))
        await in_force(stack, changed["systemPrompt"])
        await user_says(stack, "And another one?")

        step("The app changes her endpointing mid-call: pending, nothing on the wire changes")
        timing = {**changed, "endpointingMs": 800}
        stack.room.set_metadata("alice", json.dumps(timing))
        await until(lambda: published(stack, attributes.PENDING), "pending published")
        show("voice.pending attribute", published(stack, attributes.PENDING))
        show("Deepgram connections so far", len(stack.deepgram.connections))

        step("The app sends an invalid value: rejected, last valid settings kept")
        stack.room.set_metadata("alice", json.dumps({**timing, "minEndpointingDelay": 1500}))
        await until(lambda: published(stack, attributes.ERRORS), "errors published")
        show("voice.errors attribute", published(stack, attributes.ERRORS))
        await user_says(stack, "Still French?")
        step("Done: the call ends")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; --help prints what it does and exits (argparse: 0, or 2 for a bad flag)."""
    argparse.ArgumentParser(prog="python -m voice_settings.harness", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter
                            ).parse_args(argv)
    warnings.simplefilter("ignore", DeprecationWarning)
    logging.basicConfig(level=logging.CRITICAL)  # the framework's own chatter stays quiet
    trace = _Trace()
    logger = logging.getLogger("voice_settings.runtime")
    logger.setLevel(logging.INFO)
    logger.addHandler(trace)
    logger.propagate = False
    started = time.perf_counter()
    asyncio.run(run())
    print(f"\n(offline demo finished in {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
