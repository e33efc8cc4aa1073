"""A storm of metadata changes through the real entrypoint: valid and invalid, mixed, in bursts.

Each valid instructions change is numbered ("Version 7."), so order can be followed from what
leaves the agent: the `instructions_sha256` of each `voice.settings` publication, and the system
prompt of each LLM request. Every `turn_every` changes the caller speaks, once the agent reports
the last valid instructions in force. `tests/test_change_storm.py` runs 200 changes on every CI
run; `bench/reliability.py --storm 1000` the long one, with memory figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import random
import re
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.agent_helpers import settled, until, user_turn
from tests.hostile_payloads import HostilePayloads
from tests.log_capture import project_logs_only_into
from voice_settings.harness import OfflineStack
from voice_settings.runtime import attributes

BASE = {"endpointingMs": 300, "minEndpointingDelay": 0.4, "greeting": ""}
BAD_INSTRUCTIONS = ("", "   ", "x" * 8001, 42, None, ["Version 999."])


def prompt(version: int) -> str:
    return f"Version {version}."


def start_metadata() -> str:
    return json.dumps({**BASE, "systemPrompt": prompt(0)})


@dataclass
class StormReport:
    changes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    last_valid: int = 0
    turns: int = 0
    published_versions: list[int] = field(default_factory=list)
    llm_versions: list[int] = field(default_factory=list)
    llm_expected: list[int] = field(default_factory=list)
    llm_messages: list[int] = field(default_factory=list)
    """Messages in each LLM request: the conversation, not the instructions' history."""
    unknown_publications: int = 0
    history_items_before: int = 0
    history_items_after: int = 0
    """Items in the session's chat history: `update_instructions` adds one each time (the
    framework's `AgentConfigUpdate`, holding the instructions)."""
    own_objects_before: dict[str, int] = field(default_factory=dict)
    own_objects_after: dict[str, int] = field(default_factory=dict)
    """Live objects of this project's classes (settings, resolutions, errors, calls...)."""
    tasks_before: int = 0
    tasks_after: int = 0
    tasks_added: list[str] = field(default_factory=list)
    traced_kib_growth: dict[str, float] = field(default_factory=dict)
    """Memory allocated during the storm and still held at its end, by who holds it (with
    `trace_memory`); see `MEMORY_HOLDERS`."""
    rss_kib_by_turn: list[int] = field(default_factory=list)
    rss_kib_before: int = 0
    rss_kib_after: int = 0
    seconds: float = 0.0

    @property
    def backwards(self) -> int:
        """Publications of instructions older than the one published before them."""
        seq = self.published_versions
        return sum(1 for a, b in zip(seq, seq[1:], strict=False) if b < a)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items()
                if k not in ("published_versions", "llm_versions", "llm_expected")}
        data["publications_of_instructions"] = len(self.published_versions)
        data["backwards"] = self.backwards
        data["llm_requests"] = list(zip(self.llm_expected, self.llm_versions, strict=True))
        return data


class ChangeStorm:
    """Drives the storm on a started `running_agent` stack whose caller is `identity`."""

    def __init__(self, stack: OfflineStack, *, seed: int, identity: str = "alice") -> None:
        self.stack, self.identity = stack, identity
        self.rng = random.Random(seed)
        self.hostile = HostilePayloads(seed)
        self.version = 0  # the last valid instructions sent
        self.report = StormReport()
        self._digests = {attributes.instructions_digest(prompt(0)): 0}

    async def run(self, changes: int, *, turn_every: int, trace_memory: bool = False,
                  idle_s: float = 0.0) -> StormReport:
        """`changes` changes, a turn every `turn_every`; measures after `idle_s` of quiet (for
        audio queued while the process ran behind real time to drain)."""
        report = self.report
        await self.checkpoint()  # the session's own start-up tasks have settled
        if trace_memory:
            tracemalloc.start(TRACE_FRAMES)
            first = tracemalloc.take_snapshot()
        history = self.stack.ctx.primary_session.history
        report.history_items_before = len(history.items)
        report.own_objects_before = own_objects()
        report.tasks_before, names_before = _tasks()
        report.rss_kib_before = _rss_kib()
        began = time.monotonic()
        for n in range(1, changes + 1):
            self.stack.room.set_metadata(self.identity, self.next_metadata())
            report.changes += 1
            roll = self.rng.random()  # how long the app waits before its next change
            if roll < 0.4:
                await asyncio.sleep(0)
            elif roll < 0.45:
                await asyncio.sleep(0.005)
            if n % turn_every == 0 or n == changes:
                await self.checkpoint()
        report.seconds = time.monotonic() - began
        await asyncio.sleep(idle_s)
        report.last_valid = self.version
        gc.collect()
        report.history_items_after = len(history.items)
        report.tasks_after, names_after = _tasks()
        report.tasks_added = sorted(set(names_after) - set(names_before))
        report.rss_kib_after = _rss_kib()
        report.own_objects_after = own_objects()
        if trace_memory:
            # Left on: stopping it while the FFI's threads allocate crashes CPython 3.11.
            report.traced_kib_growth = held_since(first)
        return report

    def next_metadata(self) -> str:
        """The next change: a new valid prompt, a timing change only, a refused prompt, a new
        prompt beside a refused field, or a document refused whole."""
        rng, kinds = self.rng, self.report.kinds
        roll = rng.random()
        document: dict[str, Any] = {**BASE, "systemPrompt": prompt(self.version)}
        if roll < 0.35:
            kind = "new instructions"
            self._bump(document)
        elif roll < 0.5:
            kind = "timing only"
            document["endpointingMs"] = rng.randint(0, 5000)
        elif roll < 0.7:
            kind = "instructions refused"
            document["systemPrompt"] = rng.choice(BAD_INSTRUCTIONS)
        elif roll < 0.8:
            kind = "new instructions, another field refused"
            self._bump(document)
            document[rng.choice(["endpointingMs", "minEndpointingDelay", "llm_model"])] = 90000
        else:
            kind = "refused whole"
        kinds[kind] = kinds.get(kind, 0) + 1
        return self._refused_whole() if kind == "refused whole" else json.dumps(document)

    def _bump(self, document: dict[str, Any]) -> None:
        self.version += 1
        document["systemPrompt"] = prompt(self.version)
        self._digests[attributes.instructions_digest(prompt(self.version))] = self.version

    def _refused_whole(self) -> str:
        """Text LiveKit can carry (UTF-8) that the agent must refuse whole."""
        while True:
            payload = self.hostile.next()
            if payload.whole_rejected and isinstance(payload.value, str):
                try:
                    payload.value.encode("utf-8")
                except UnicodeEncodeError:
                    continue
                return payload.value

    async def checkpoint(self) -> None:
        """Wait for the last valid prompt to be reported in force; the caller speaks; collect
        what was published (and clear the harness's records, so memory measures the agent)."""
        await settled(self.stack, prompt(self.version))
        said = f"turn {self.report.turns}"
        request = await user_turn(self.stack, said)
        self.report.turns += 1
        self.report.llm_expected.append(self.version)
        self.report.llm_versions.append(_version(request.system))
        self.report.llm_messages.append(len(request.messages))
        self.report.rss_kib_by_turn.append(_rss_kib())
        await self.stack.openai.wait_for_speech_request(lambda r: said in r.input)
        session = self.stack.ctx.primary_session
        await until(lambda: session.agent_state == "listening", "the reply played")
        self._harvest()

    def _harvest(self) -> None:
        local = self.stack.room.local_participant
        for update in local.attribute_updates:
            if attributes.SETTINGS in update:
                digest = json.loads(update[attributes.SETTINGS])["instructions_sha256"]
                if digest in self._digests:
                    self.report.published_versions.append(self._digests[digest])
                else:
                    self.report.unknown_publications += 1
        local.attribute_updates.clear()
        self.stack.room.dispatched.clear()
        for recording in local.audio.values():
            recording.pcm.clear()  # the agent's track, recorded even when silent: 48 KB/s


def _version(system: str | None) -> int:
    match = re.fullmatch(r"Version (\d+)\.", system or "")
    return int(match.group(1)) if match else -1


class CountingHandler(logging.Handler):
    """Counts the agent's log lines by decision ("input rejected", "change applied"...)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines[record.getMessage().split(" for ", 1)[0][:60]] += 1


def counted_logs() -> contextlib.AbstractContextManager[CountingHandler]:
    return project_logs_only_into(CountingHandler())


def own_objects() -> dict[str, int]:
    """Live objects of the project's own classes, by class name, after a collection."""
    gc.collect()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        module = getattr(type(obj), "__module__", None)
        if isinstance(module, str) and module.startswith("voice_settings.") \
                and not module.startswith("voice_settings.harness"):
            counts[type(obj).__qualname__] += 1
    return dict(sorted(counts.items()))


def _tasks() -> tuple[int, list[str]]:
    """Tasks alive, and what each runs (the coroutine's name, which a task name may not say)."""
    tasks = [t for t in asyncio.all_tasks() if not t.done()]
    return len(tasks), [getattr(t.get_coro(), "__qualname__", t.get_name()) for t in tasks]


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


TRACE_FRAMES = 4
MEMORY_HOLDERS = (
    ("chat history", ("livekit/agents/voice/agent_activity.py", "livekit/agents/llm/")),
    ("audio frames in flight", ("livekit/rtc/audio_frame.py", "livekit/rtc/audio_stream.py")),
    ("harness records", ("voice_settings/harness/",)),
)
"""Who holds memory that grows with a storm, by where it was allocated: the framework's chat
history (each `update_instructions` inserts an `AgentConfigUpdate` holding the instructions;
each turn its messages), audio frames queued between the FFI and the VAD/STT (more when
tracing slows the process below real time), the harness's own records; the rest is "other"."""


def held_since(first: tracemalloc.Snapshot) -> dict[str, float]:
    """KiB allocated since `first` and still held, by holder (`MEMORY_HOLDERS`), and in all."""
    gc.collect()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    now = tracemalloc.take_snapshot().filter_traces(ignore)
    held = dict.fromkeys([name for name, _ in MEMORY_HOLDERS] + ["other"], 0.0)
    for stat in now.compare_to(first.filter_traces(ignore), "traceback"):
        files = [frame.filename for frame in stat.traceback]
        holder = next((name for name, parts in MEMORY_HOLDERS
                       if any(part in f for part in parts for f in files)), "other")
        held[holder] += stat.size_diff / 1024
    held["all"] = sum(held.values())
    return {name: round(kib, 1) for name, kib in held.items()}
