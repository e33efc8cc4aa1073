"""How long a caller waits for the agent: participant joins -> session started, first jobs only.

    .venv/bin/python bench/bench_join.py [samples]      (default 20 per variant)

A worker runs each job in a process of its own, prewarmed by the setup function and used for
that one job (livekit-agents 1.8.9 `ipc/proc_pool.py`); whatever the entrypoint builds for the
first time is paid on every call. So every sample here is a fresh process, made the way the
worker makes them on Linux: forked from a forkserver that preloaded what the worker's own
forkserver preloads (the registered plugins, then the framework's warm-up
`livekit.agents.ipc._preload`). The child imports the agent (as a job process does when it
receives the entrypoint), then the offline stack runs the server's setup function and one
job; the caller joins `JOIN_AFTER_S` after the entrypoint started, as a caller arrives some
time after the dispatch.

Two variants, interleaved (a b, b a, a b, ...) so that a busy machine slows both alike:
- agent: `agent.entrypoint` as it is;
- prebuilt: the same entrypoint with the session objects (`agent.build_session`'s result) built
  before the wait, from the settings the caller will bring: the floor for a session built
  after validation.

Marks are `time.monotonic()` in the child, from events: the caller becomes active
(`participant_active`), `AgentSession.start` called and returned, the greeting's TTS request
arriving at the OpenAI stand-in. Prints p50 and p95 (nearest rank) per variant and the ratio
agent / prebuilt; `setup` is the setup function's time, before any job.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

CALLER_IDENTITY = "alice"
CALLER_METADATA = json.dumps({"endpointingMs": 300, "systemPrompt": "You are Ada.",
                              "greeting": "Hello, Ada here."})
JOIN_AFTER_S = 1.0
VARIANTS = ("agent", "prebuilt")
SPANS = {  # row -> (from mark, to mark)
    "join -> session.start called": ("joined", "start_called"),
    "join -> session started": ("joined", "started"),
    "join -> greeting TTS request": ("joined", "greeting_request"),
    "setup (prewarm), before the job": ("setup_began", "setup_ended"),
}


def job_process(variant: str, conn: Any) -> None:
    """One sample: a fresh process runs setup and one job, and sends back its marks."""
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.CRITICAL)

    def report(marks: dict[str, float]) -> None:
        conn.send(marks)
        conn.close()
        # A job process ends with its job; the teardown (about 2 s offline, the session's
        # close waits for a final transcript the stand-in does not send) is not measured.
        os._exit(0)

    try:
        asyncio.run(one_job(variant, report))
    except BaseException as exc:
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        conn.close()
        raise


async def one_job(variant: str, report: Callable[[dict[str, float]], None]) -> None:
    from livekit.agents import AgentSession

    import agent
    from voice_settings.harness import OfflineStack

    marks: dict[str, float] = {}
    mark_start_calls(AgentSession, marks)
    setup = timed(agent.server.setup_fnc, marks)
    entrypoint = agent.entrypoint if variant == "agent" else prebuilt(agent, marks)
    async with OfflineStack() as stack:
        stack.room.on("participant_active",
                      lambda p: marks.setdefault("joined", time.monotonic()))
        stack.start(entrypoint, setup=setup)
        await asyncio.sleep(JOIN_AFTER_S)
        await stack.room.join(CALLER_IDENTITY, metadata=CALLER_METADATA)
        greeting = await stack.openai.wait_for_speech_request(timeout=30)
        marks["greeting_request"] = greeting.received_at
        if marks.get("built", 0.0) > marks["joined"]:
            raise RuntimeError(f"prebuilt: the session was built after the join; raise "
                               f"JOIN_AFTER_S ({JOIN_AFTER_S} s)")
        report(marks)


def mark_start_calls(session_class: Any, marks: dict[str, float]) -> None:
    original = session_class.start

    async def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        marks["start_called"] = time.monotonic()
        result = await original(self, *args, **kwargs)
        marks["started"] = time.monotonic()
        return result

    session_class.start = start


def timed(setup: Any, marks: dict[str, float]) -> Any:
    def run(proc: Any) -> None:
        marks["setup_began"] = time.monotonic()
        setup(proc)
        marks["setup_ended"] = time.monotonic()

    return run


def prebuilt(agent: Any, marks: dict[str, float]) -> Any:
    """`agent.entrypoint`, with `build_session` answered by a session built before the wait."""
    from voice_settings.runtime.call_settings import CallSettings

    async def entrypoint(ctx: Any) -> None:
        config = ctx.proc.userdata["config"]
        profiles = ctx.proc.userdata["profiles"]
        call = CallSettings(identity=CALLER_IDENTITY, participant_metadata=CALLER_METADATA,
                            dispatch_metadata=ctx.job.metadata, profiles=profiles,
                            switchable_profiles=config.switchable(profiles))
        session = agent.build_session(call.current.settings, config,
                                      ctx.proc.userdata["models"])
        marks["built"] = time.monotonic()
        agent.build_session = lambda *args, **kwargs: session
        await agent.entrypoint(ctx)

    return entrypoint


def run_sample(mp: Any, variant: str) -> dict[str, float]:
    receiver, sender = mp.Pipe(duplex=False)
    process = mp.Process(target=job_process, args=(variant, sender), name=f"job-{variant}")
    process.start()
    sender.close()
    try:
        marks = receiver.recv()
    except EOFError:
        marks = {"error": "the job process died without a result"}
    process.join()
    if "error" in marks:
        raise RuntimeError(f"{variant} sample failed: {marks['error']}")
    return marks


def forkserver_like_the_worker() -> Any:
    """A forkserver preloading what `AgentServer` preloads under its default (Linux) context."""
    from livekit.agents import Plugin
    from livekit.agents.utils import http_context

    import agent  # noqa: F401  (registers the plugins, as the worker's own import does)

    http_context._set_default_cert_env()  # the worker does this before job processes start
    mp = multiprocessing.get_context("forkserver")
    packages = list(dict.fromkeys(p.package for p in Plugin.registered_plugins))
    mp.set_forkserver_preload(
        packages + ["livekit.agents.ipc._preload", "livekit.agents.ipc._preload_freeze"])
    return mp


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def main(samples: int) -> None:
    mp = forkserver_like_the_worker()
    results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for i in range(samples):
        for variant in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
            results[variant].append(run_sample(mp, variant))
        print(f"sample {i + 1}/{samples} done", file=sys.stderr, flush=True)

    print(f"{samples} fresh job processes per variant, interleaved; ms; p95 is nearest rank")
    print(f"{'':<34}" + "".join(f"{v + ' p50':>14}{v + ' p95':>14}" for v in VARIANTS)
          + f"{'ratio p50':>11}{'ratio p95':>11}")
    for row, (begin, end) in SPANS.items():
        stats = {}
        for variant in VARIANTS:
            spans = [(m[end] - m[begin]) * 1000 for m in results[variant]]
            stats[variant] = (percentile(spans, 0.5), percentile(spans, 0.95))
        a, b = stats["agent"], stats["prebuilt"]
        print(f"{row:<34}" + "".join(f"{p50:>14.1f}{p95:>14.1f}" for p50, p95 in stats.values())
              + f"{a[0] / b[0]:>10.2f}x{a[1] / b[1]:>10.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
