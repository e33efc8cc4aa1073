"""How fast the agent starts and reacts, through the real entrypoint and plugins, offline.

    .venv/bin/python bench/bench_agent.py [runs]

Per run (default 7), in a fresh OfflineStack:
- join -> settings resolved: the participant becomes active until the agent has resolved
  and built everything (first Deepgram connection opened);
- join -> session started: until the agent publishes its settings attributes;
- change -> in force: `participant_metadata_changed` until the new instructions are applied
  (the agent republishes its attributes after `update_instructions` returns);
- transcript -> LLM request, for each caller `min_endpointing_delay` in DELAYS: the final
  transcript of a user turn until the chat request arrives, and the overhead beyond the delay
  the caller chose (turn detection "model" with the offline v1-mini detector, preemptive
  generation on, as in the default profile).
Prints medians; the latency table also gives the ratio to the instructions-change latency.
Loopback servers, so provider latency is zero: these are the agent's and framework's own costs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import time
import warnings

from voice_settings.harness import OfflineStack
from voice_settings.runtime import attributes

CALLER = {"endpointingMs": 300, "systemPrompt": "You are Ada."}
DELAYS = (0.2, 0.5, 1.2)  # snappy, default, patient


async def poll(predicate) -> None:
    async with asyncio.timeout(30):
        while not predicate():
            await asyncio.sleep(0.001)


def settings_attr(stack: OfflineStack) -> dict:
    raw = stack.room.local_participant.attributes.get(attributes.SETTINGS)
    return json.loads(raw) if raw else {}


async def one_run(min_delay: float) -> dict[str, float]:
    import agent

    caller = {**CALLER, "minEndpointingDelay": min_delay}
    async with OfflineStack() as stack:
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        t_join = time.perf_counter()
        await stack.room.join("alice", metadata=json.dumps(caller))
        await poll(lambda: stack.deepgram.connections)
        t_built = time.perf_counter()
        await poll(lambda: settings_attr(stack))
        t_started = time.perf_counter()

        digest = attributes.instructions_digest("You are Bob.")
        t_change = time.perf_counter()
        stack.room.set_metadata("alice", json.dumps({**caller, "systemPrompt": "You are Bob."}))
        await poll(lambda: settings_attr(stack).get("instructions_sha256") == digest)
        t_applied = time.perf_counter()

        utterance = stack.deepgram.queue_utterance("hello there")
        await utterance.delivered
        t_final = time.perf_counter()
        await stack.openai.wait_for_chat_request(1)
        t_llm = time.perf_counter()
    return {
        "join -> pipeline built (Deepgram connected)": t_built - t_join,
        "join -> session started (attributes published)": t_started - t_join,
        "instructions change -> in force": t_applied - t_change,
        "final transcript -> LLM request": t_llm - t_final,
    }


async def main(runs: int) -> None:
    results: dict[float, dict[str, list[float]]] = {}
    for delay in DELAYS:
        for _ in range(runs):
            for name, seconds in (await one_run(delay)).items():
                results.setdefault(delay, {}).setdefault(name, []).append(seconds)
    default = results[0.5]
    change = statistics.median(default["instructions change -> in force"])
    print(f"{runs} runs per row; medians; min_endpointing_delay 0.5 s for the first table")
    for name, values in default.items():
        median = statistics.median(values)
        print(f"{name:<48} {median * 1000:>8.1f} ms {median / change:>7.1f}x change")
    print("\nfinal transcript -> LLM request, by the caller's min_endpointing_delay")
    for delay, rows in results.items():
        median = statistics.median(rows["final transcript -> LLM request"])
        print(f"  min_endpointing_delay {delay:>4.1f} s: {median * 1000:>7.1f} ms "
              f"(overhead beyond the delay: {(median - delay) * 1000:>5.1f} ms)")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
