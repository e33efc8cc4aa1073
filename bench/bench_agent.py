"""How fast the agent reacts during a call, through the real entrypoint and plugins, offline.

    .venv/bin/python bench/bench_agent.py [runs]      (default 3 per row)

Each run is a fresh OfflineStack in this process (one discarded warm-up run first; the join of
a fresh job process is bench_join.py's). The caller sets `min_endpointing_delay` (DELAYS), a
greeting of about GREETING_S seconds, turn detection "model" (the offline v1-mini detector) and
preemptive generation on, as in the default profile. Two cases, interleaved run by run:
- after the greeting: the user speaks USER_PAUSE_S after the greeting has played (the agent is
  back to listening);
- over the greeting: the user speaks as soon as the greeting starts playing. The framework does
  not generate preemptively while the agent's speech plays (`agent_activity.py`).
In each run, first the caller's instructions change (when the case's moment comes), then the
user speaks.

Every time is taken from an event, in this process, with `time.monotonic()`:
- change -> in force: `participant_metadata_changed` is delivered (synchronously, by
  `FakeRoom.set_metadata`) until the agent republishes its attributes with the new
  instructions' digest, which it does right after `Agent.update_instructions` returned;
- update_instructions: that call alone, from its start to its return;
- final transcript: the session's `user_input_transcribed` event with `is_final`;
- LLM request: its arrival at the OpenAI stand-in;
- reply plays: the session's `agent_state_changed` to "speaking" after the final transcript.
Prints p50 and p95 (nearest rank) per row. Loopback stand-ins: provider latency is zero, so
these are the agent's and the framework's own costs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from voice_settings.harness import OfflineStack
from voice_settings.harness.openai import OpenAIStandIn
from voice_settings.runtime import attributes

GREETING = "Hello, this is Ada at the library. What would you like to read today?"
MS_PER_CHAR = 25  # the TTS stand-in's audio per character: the greeting plays about 1.8 s
GREETING_S = len(GREETING) * MS_PER_CHAR / 1000
DELAYS = (0.2, 0.5, 1.2)  # snappy, default, patient
CASES = ("after the greeting", "over the greeting")
USER_PAUSE_S = 0.5  # after the greeting, the user answers this long after it ended
TIMEOUT_S = 30.0


UPDATE_INSTRUCTIONS_S: list[float] = []  # each `update_instructions` call, start to return


def time_update_instructions(agent_class: Any) -> None:
    original = agent_class.update_instructions

    async def update_instructions(agent: Any, instructions: str) -> None:
        began = time.monotonic()
        await original(agent, instructions)
        UPDATE_INSTRUCTIONS_S.append(time.monotonic() - began)

    agent_class.update_instructions = update_instructions


class CallEvents:
    """What the agent did, with the `time.monotonic()` of each event, and a way to wait."""

    def __init__(self, agent_identity: str) -> None:
        self.agent_identity = agent_identity
        self.states: list[tuple[float, str]] = []
        self.finals: list[tuple[float, str]] = []  # (time, agent state then)
        self.published: list[tuple[float, dict]] = []
        self._changed = asyncio.Event()

    def on_attributes(self, changed: dict[str, str], participant: Any) -> None:
        raw = changed.get(attributes.SETTINGS)
        if raw is not None and participant.identity == self.agent_identity:
            self._record(self.published, json.loads(raw))

    def on_state(self, event: Any) -> None:
        self._record(self.states, event.new_state)

    def on_transcript(self, event: Any) -> None:
        if event.is_final:
            self._record(self.finals, self.states[-1][1] if self.states else "?")

    def _record(self, into: list, value: Any) -> None:
        into.append((time.monotonic(), value))
        self._changed.set()

    async def until(self, found: Callable[[], float | None]) -> float:
        """Wait for the event `found` looks for; its time."""
        async with asyncio.timeout(TIMEOUT_S):
            while (at := found()) is None:
                self._changed.clear()
                await self._changed.wait()
        return at

    def state_entered(self, state: str, after: float = 0.0) -> Callable[[], float | None]:
        return lambda: next((t for t, s in self.states if s == state and t > after), None)

    def instructions_published(self, text: str) -> Callable[[], float | None]:
        digest = attributes.instructions_digest(text)
        return lambda: next((t for t, a in self.published
                             if a.get("instructions_sha256") == digest), None)


async def one_run(case: str, min_delay: float) -> dict[str, float]:
    import agent

    caller = {"systemPrompt": "You are Ada.", "greeting": GREETING, "endpointingMs": 300,
              "minEndpointingDelay": min_delay}
    openai = OpenAIStandIn(ms_per_char=MS_PER_CHAR, max_audio_s=GREETING_S + 1)
    async with OfflineStack(openai=openai) as stack:
        events = CallEvents(stack.room.local_participant.identity)
        stack.room.on("participant_attributes_changed", events.on_attributes)
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        await stack.room.join("alice", metadata=json.dumps(caller))
        await events.until(lambda: events.published[0][0] if events.published else None)
        session = stack.ctx.primary_session
        events.states.append((time.monotonic(), session.agent_state))
        session.on("agent_state_changed", events.on_state)
        session.on("user_input_transcribed", events.on_transcript)

        greeting_began = await events.until(events.state_entered("speaking"))
        if case == CASES[0]:
            await events.until(events.state_entered("listening", after=greeting_began))
            await asyncio.sleep(USER_PAUSE_S)

        changed_at = time.monotonic()
        stack.room.set_metadata("alice", json.dumps({**caller, "systemPrompt": "You are Bob."}))
        in_force_at = await events.until(events.instructions_published("You are Bob."))

        stack.deepgram.queue_utterance("hello there")
        await events.until(lambda: events.finals[0][0] if events.finals else None)
        final_at, state_at_final = events.finals[0]
        request = await stack.openai.wait_for_chat_request(1, timeout=TIMEOUT_S)
        reply_at = await events.until(events.state_entered("speaking", after=final_at))
    return {
        "change -> in force": in_force_at - changed_at,
        "update_instructions": UPDATE_INSTRUCTIONS_S[-1],
        "final transcript -> LLM request": request.received_at - final_at,
        "final transcript -> reply plays": reply_at - final_at,
        "greeting playing at the final": float(state_at_final == "speaking"),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def main(runs: int) -> None:
    import agent

    time_update_instructions(agent.SettingsAgent)
    await one_run(CASES[0], DELAYS[0])  # warm-up: first-time costs of this process
    results: dict[tuple[str, float], list[dict[str, float]]] = {}
    for i in range(runs):
        for delay in DELAYS:
            for case in CASES if i % 2 == 0 else CASES[::-1]:
                results.setdefault((case, delay), []).append(await one_run(case, delay))
        print(f"round {i + 1}/{runs} done", file=sys.stderr, flush=True)

    print(f"{runs} runs per row, cases interleaved; ms; p95 is nearest rank; greeting "
          f"{GREETING_S:.1f} s; turn detection 'model' (v1-mini), preemptive generation on")
    columns = {"change -> in force": "change->in force", "update_instructions": "update_instr.",
               "final transcript -> LLM request": "final->LLM request",
               "final transcript -> reply plays": "final->reply plays"}
    print(f"{'case':<20}{'delay':>7}" + "".join(f"{c:>20}" for c in columns.values())
          + f"{'beyond delay':>14}{'early':>7}{'overlap':>9}")
    for (case, delay), rows in results.items():
        cells = []
        for name in columns:
            values = [r[name] * 1000 for r in rows]
            cells.append(f"{percentile(values, 0.5):>8.1f} /{percentile(values, 0.95):>8.1f}")
        beyond = [r["final transcript -> reply plays"] * 1000 - delay * 1000 for r in rows]
        overlap = sum(int(r["greeting playing at the final"]) for r in rows)
        early = sum(int(r["final transcript -> LLM request"] < delay) for r in rows)
        print(f"{case:<20}{delay:>6.1f}s" + "".join(f"{c:>20}" for c in cells)
              + f"{percentile(beyond, 0.5):>14.1f}{early:>5}/{len(rows)}{overlap:>7}/{len(rows)}")
    print("\ncells are p50 / p95; 'beyond delay': p50 of final->reply plays minus the caller's "
          "min_endpointing_delay; 'early': runs whose LLM request came before that delay "
          "elapsed (preemptive generation); 'overlap': runs whose final transcript arrived while "
          "the greeting played")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
