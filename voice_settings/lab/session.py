"""One lab session: a scenario spoken to the REAL agent, measured from the caller's side.

Runs in a process of its own, the way a worker runs each job (`python -m
voice_settings.lab.session` reads trials as JSON lines on stdin and writes one result line
each): `agent.py`'s setup function and entrypoint, the real framework, the real Silero VAD
hearing the scenario's audio on the caller's microphone, the turn detector, the listening
Deepgram stand-in (finals follow the audio and `endpointing_ms`), and OpenAI stand-ins with
the chosen latencies.

Clock: every time is `time.monotonic()` in this process. The caller's end of speech is when
the last word group before a turn end left the microphone (`Playback.started_at` + its end in
the scenario); the greeting is off, so the caller speaks into a listening agent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..harness import DeepgramStandIn, OfflineStack, OpenAIStandIn
from ..harness.speech import DEFAULT_VOICE, Scenario, from_wav, make_scenario
from ..runtime import turn_timing
from . import recording
from .recording import Trace
from .results import SessionResult, TurnTiming

CALLER = "caller"
# The agent hears the microphone about 0.14 s late (capture, resampling, 50 ms STT chunks): a
# turn committed this soon after the caller resumed was decided during the pause.
CUT_IN_GRACE_S = 0.3
# Into the agent's answer, past the framework's 1 s backchannel boundary at the start of a turn.
BACKCHANNEL_AFTER_S = 1.5
REPLY = "Sure, we open at nine."
# Long enough (60 ms a character, 8 s at most) to still be speaking when the backchannel comes.
LONG_REPLY = ("Sure. We open at nine in the morning tomorrow, the kitchen serves breakfast until "
              "eleven, and lunch starts at noon on the terrace if the weather holds.")
SETTLE_S = 4.0  # after the last expected event, how long to wait for more


@dataclass
class Observed:
    """What the session did, as it happened."""

    user_commits: list[float] = field(default_factory=list)
    false_interruptions: list[bool] = field(default_factory=list)
    speeches: list[Any] = field(default_factory=list)

    def attach(self, session: Any) -> None:
        session.on("conversation_item_added", self._item_added)
        session.on("agent_false_interruption", lambda ev: self.false_interruptions.append(
            bool(ev.resumed)))
        session.on("speech_created", lambda ev: self.speeches.append(
            (time.monotonic(), ev.speech_handle)))

    def _item_added(self, event: Any) -> None:
        if getattr(event.item, "role", None) == "user":
            self.user_commits.append(time.monotonic())


def scenario_for(trial: dict[str, Any]) -> Scenario:
    if trial["scenario"] == "wav":
        return from_wav(trial["wav"], trial["text"])
    return make_scenario(trial["scenario"], trial.get("pause_s"),
                         voice=trial.get("voice") or DEFAULT_VOICE)


class TurnLog(logging.Handler):
    """The agent's per-turn log lines (`runtime/turn_timing.py`): its figures and the rule that
    ended each turn, as the framework decided; the k-th line is the k-th user message."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.turns: list[dict[str, Any]] = []
        self._logger = logging.getLogger(turn_timing.__name__)

    def __enter__(self) -> TurnLog:
        self._logger.addHandler(self)
        self._level = self._logger.level
        self._logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "turn"):
            self.turns.append({"end_of_turn": getattr(record, "end_of_turn", None),
                               "end_of_turn_ms": getattr(record, "end_of_turn_ms", None)})


async def run_trial(trial: dict[str, Any]) -> SessionResult:
    """One session; with `trial["record"]` = {"dir", "session", ...}, also its recording."""
    with TurnLog() as log:
        outcome = await _run(trial)
    result, trace = outcome
    decisions = _decisions(trace.end_of_turn, log.turns)
    trace.end_of_turn = decisions
    turns = [replace(turn, end_of_turn=_explained(decisions, turn.user_end))
             for turn in result.turns]
    result = replace(result, turns=turns)
    if trial.get("record"):
        about = {k: trial["record"].get(k) for k in ("session", "label", "voice")}
        about.update(scenario=trial["scenario"], pause_s=trial.get("pause_s"))
        paths = recording.write(Path(trial["record"]["dir"]), trial["record"]["session"], trace,
                                about)
        result = replace(result, recording=paths)
    return result


async def _run(trial: dict[str, Any]) -> tuple[SessionResult, Trace]:
    import agent  # the project's agent: its setup function and entrypoint, unchanged

    scenario = scenario_for(trial)
    reply = LONG_REPLY if trial["scenario"] == "backchannel" else REPLY
    openai = OpenAIStandIn(default_reply=lambda _req: reply, ms_per_char=60, max_audio_s=8.0,
                           llm_latency_s=trial.get("llm_latency_s", 0.0),
                           tts_latency_s=trial.get("tts_latency_s", 0.0))
    participant = {**trial["participant_metadata"], "greeting": ""}
    async with OfflineStack(deepgram=DeepgramStandIn(listen=True), openai=openai,
                            job_metadata=json.dumps(trial["dispatch_metadata"])) as stack:
        stack.start(agent.entrypoint, setup=agent.server.setup_fnc)
        await stack.room.join(CALLER, metadata=json.dumps(participant))
        await stack.deepgram.wait_for_connection(timeout=30)
        observed = Observed()
        observed.attach(stack.ctx.primary_session)
        stack.deepgram.expect_words(scenario.words)
        trace = Trace(started_at=time.monotonic())
        if scenario.name == "backchannel":
            result = await _backchannel(stack, scenario, observed, trace)
        else:
            playback = stack.room.play(CALLER, scenario.samples)
            await playback
            _heard(trace, playback, scenario)
            result = await _measured(stack, scenario, playback.started_at, observed, trace)
    # the session is closed: the turn still open has been logged too
    trace.agent_audio = list(stack.room.local_participant.audio.values())
    trace.llm_requests = [r.received_at for r in stack.openai.chat_requests]
    trace.end_of_turn = [{"at": at} for at in observed.user_commits]
    return result, trace


def _heard(trace: Trace, playback: Any, scenario: Scenario) -> None:
    """The caller's audio and word groups, placed where the microphone played them."""
    if not trace.caller_audio:
        trace.started_at = playback.started_at
    trace.caller_audio.append((playback.started_at, scenario.samples))
    trace.caller_speech += [(playback.started_at + w.start_s, playback.started_at + w.end_s,
                             w.text) for w in scenario.words]


def _decisions(commits: list[dict[str, Any]], logged: list[dict[str, Any]]) -> list[dict]:
    """Each committed user turn: when, and the rule the agent's log line gave it."""
    decisions = []
    for commit, line in zip(commits, logged, strict=False):
        explained = line.get("end_of_turn") or {"rule": None, "probability": None,
                                                "threshold": None}
        waited = line.get("end_of_turn_ms")
        decisions.append({**commit, **explained, "waited_ms": waited})
    return decisions


def _explained(decisions: list[dict[str, Any]], user_end: float) -> dict[str, Any] | None:
    """The decision that ended the caller's turn: the first commit after their end of speech."""
    later = [d for d in decisions if d["at"] > user_end]
    if not later:
        return None
    return {k: later[0][k] for k in ("rule", "probability", "threshold", "waited_ms")}


async def _measured(stack: OfflineStack, scenario: Scenario, started_at: float,
                    observed: Observed, trace: Trace) -> SessionResult:
    turn_ends = [started_at + p.start_s for p in scenario.pauses if p.kind == "turn_end"]
    await _settle(stack, after=max(turn_ends))
    turns = [_turn(stack, scenario.name, end) for end in turn_ends]
    pauses = [p for p in scenario.pauses if p.kind == "mid_utterance"]
    cut = []
    for p in pauses:
        start = started_at + p.start_s
        taken = [t for t in observed.user_commits
                 if start < t <= start + p.length_s + CUT_IN_GRACE_S]
        if taken:
            cut.append(p.length_s)
            trace.cut_ins.append((taken[0], p.length_s))
    return SessionResult(turns=turns, cut_ins=cut, pauses=[p.length_s for p in pauses])


def _turn(stack: OfflineStack, scenario: str, user_end: float) -> TurnTiming:
    requests = [r.received_at for r in stack.openai.chat_requests if r.received_at > user_end]
    onsets = _agent_onsets(stack, after=user_end)
    return TurnTiming(
        scenario=scenario, user_end=user_end,
        first_audio_ms=_ms(min(onsets) - user_end) if onsets else None,
        llm_request_ms=_ms(min(requests) - user_end) if requests else None)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _agent_onsets(stack: OfflineStack, *, after: float) -> list[float]:
    """When the agent started to be heard, after monotonic time `after`."""
    return [t for rec in stack.room.local_participant.audio.values() for t in rec.onsets
            if t > after]


async def _settle(stack: OfflineStack, *, after: float) -> None:
    """Wait until the agent has answered after `after` and gone quiet, or SETTLE_S passed."""
    deadline = time.monotonic() + SETTLE_S + 10.0
    while time.monotonic() < deadline:
        heard_all = not stack.deepgram.expected  # every word group reached the STT
        answered = heard_all and bool(_agent_onsets(stack, after=after))
        quiet = stack.ctx.primary_session.agent_state in ("listening", "idle")
        if answered and quiet:
            return
        await asyncio.sleep(0.05)


async def _backchannel(stack: OfflineStack, scenario: Scenario, observed: Observed,
                       trace: Trace) -> SessionResult:
    question, backchannel = scenario.turns()
    playback = stack.room.play(CALLER, question.samples)
    await playback
    _heard(trace, playback, question)
    user_end = playback.started_at + question.pauses[-1].start_s
    onset = await _agent_onset(stack, after=user_end)
    if onset is None:
        return SessionResult(turns=[_turn(stack, scenario.name, user_end)],
                             error="the agent never answered")
    await asyncio.sleep(max(0.0, onset + BACKCHANNEL_AFTER_S - time.monotonic()))
    heard_from = time.monotonic()
    second = stack.room.play(CALLER, backchannel.samples)
    await second
    _heard(trace, second, backchannel)
    await _settle(stack, after=heard_from)
    answers = [handle for t, handle in observed.speeches if t > user_end]
    interrupted = bool(observed.false_interruptions) or any(h.interrupted for h in answers)
    return SessionResult(turns=[_turn(stack, scenario.name, user_end)], backchannel_played=True,
                         interrupted=interrupted, resumed=any(observed.false_interruptions))


async def _agent_onset(stack: OfflineStack, *, after: float) -> float | None:
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        onsets = _agent_onsets(stack, after=after)
        if onsets:
            return min(onsets)
        await asyncio.sleep(0.02)
    return None


async def _safe(trial: dict[str, Any]) -> SessionResult:
    try:
        return await run_trial(trial)
    except Exception as exc:  # one failed session is reported, the lab goes on
        return SessionResult(error=f"{type(exc).__name__}: {exc}")


def main() -> int:
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.CRITICAL)
    for line in sys.stdin:
        if line.strip():
            result = asyncio.run(_safe(json.loads(line)))
            print(json.dumps(result.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
