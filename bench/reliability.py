"""Reliability figures: hostile payloads through the settings code, and a change storm through
the real agent. The figures and these commands are in docs/RELIABILITY.md.

    .venv/bin/python bench/reliability.py --payloads 1000000 --seed 1 --storm 0
    .venv/bin/python bench/reliability.py --payloads 0 --storm 1000 --seed 1

--payloads N: N seeded hostile payloads, each through `resolve` (a call starting with it) and
through `CallSettings.metadata_changed` + `SettingsPublisher.attributes()` (a change mid-call),
with every invariant checked (tests/payload_run.py). Prints counts, escapes by check (must be
0) and throughput (payloads per second of wall and of CPU time, one process).

--storm N: N metadata changes, valid and invalid mixed, through the real `agent.py` entrypoint
on the offline stack (tests/change_storm.py): the last valid instructions in force, published
and sent to the LLM in order, asyncio tasks and memory (tracemalloc, RSS) before and after.

Exit status 1 when anything escaped or went backwards. --json prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers

from tests.agent_helpers import running_agent  # noqa: E402
from tests.change_storm import ChangeStorm, counted_logs, start_metadata  # noqa: E402
from tests.payload_run import PayloadRun  # noqa: E402


def run_payloads(count: int, seed: int, progress: bool) -> dict:
    run = PayloadRun(seed)
    began_cpu, done = time.process_time(), 0
    step = 50_000 if progress else count
    while done < count:  # in steps, so a long run shows it is alive
        run.run(min(step, count - done))
        done = run.report.payloads
        if progress:
            print(f"  {done} payloads, {run.report.per_second:.0f}/s, "
                  f"{len(run.report.escapes)} escapes", file=sys.stderr, flush=True)
    result = run.report.as_dict()
    result["payloads_per_cpu_second"] = round(count / (time.process_time() - began_cpu))
    return result


async def run_storm(changes: int, seed: int) -> dict:
    with counted_logs() as logs:  # the agent's decisions, counted instead of printed
        async with running_agent(start_metadata()) as stack:
            storm = ChangeStorm(stack, seed=seed)
            report = await storm.run(changes, turn_every=100, trace_memory=True, idle_s=5)
    result = report.as_dict()
    result["final_in_force"] = report.llm_versions[-1] == report.last_valid
    result["log_lines"] = dict(logs.lines.most_common(8))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payloads", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--storm", type=int, default=1000, help="changes (0: no storm)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict = {"seed": args.seed}
    failed = False
    if args.payloads:
        results["payloads"] = run_payloads(args.payloads, args.seed, progress=not args.json)
        failed |= results["payloads"]["escapes"] > 0
    if args.storm:
        results["storm"] = asyncio.run(run_storm(args.storm, args.seed))
        storm = results["storm"]
        failed |= bool(storm["backwards"] or storm["unknown_publications"]
                       or not storm["final_in_force"])
    print(json.dumps(results, indent=None if args.json else 1, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
