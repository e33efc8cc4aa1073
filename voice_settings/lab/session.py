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
from dataclasses import dataclass, field
from typing import Any

from ..harness import DeepgramStandIn, OfflineStack, OpenAIStandIn
from ..harness.speech import Scenario, from_wav, make_scenario
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
    return make_scenario(trial["scenario"], trial.get("pause_s"))


async def run_trial(trial: dict[str, Any]) -> SessionResult:
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
        if scenario.name == "backchannel":
            return await _backchannel(stack, scenario, observed)
        playback = stack.room.play(CALLER, scenario.samples)
        await playback
        return await _measured(stack, scenario, playback.started_at, observed)


async def _measured(stack: OfflineStack, scenario: Scenario, started_at: float,
                    observed: Observed) -> SessionResult:
    turn_ends = [started_at + p.start_s for p in scenario.pauses if p.kind == "turn_end"]
    await _settle(stack, after=max(turn_ends))
    turns = [_turn(stack, end) for end in turn_ends]
    pauses = [p for p in scenario.pauses if p.kind == "mid_utterance"]
    cut = [p.length_s for p in pauses
           if any(started_at + p.start_s < t <= started_at + p.start_s + p.length_s
                  + CUT_IN_GRACE_S for t in observed.user_commits)]
    return SessionResult(turns=turns, cut_ins=cut, pauses=[p.length_s for p in pauses])


def _turn(stack: OfflineStack, user_end: float) -> TurnTiming:
    requests = [r.received_at for r in stack.openai.chat_requests if r.received_at > user_end]
    onsets = _agent_onsets(stack, after=user_end)
    return TurnTiming(
        response_delay_ms=(min(requests) - user_end) * 1000 if requests else None,
        first_audio_ms=(min(onsets) - user_end) * 1000 if onsets else None)


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


async def _backchannel(stack: OfflineStack, scenario: Scenario,
                       observed: Observed) -> SessionResult:
    question, backchannel = scenario.turns()
    playback = stack.room.play(CALLER, question.samples)
    await playback
    user_end = playback.started_at + question.pauses[-1].start_s
    onset = await _agent_onset(stack, after=user_end)
    if onset is None:
        return SessionResult(turns=[_turn(stack, user_end)], error="the agent never answered")
    await asyncio.sleep(max(0.0, onset + BACKCHANNEL_AFTER_S - time.monotonic()))
    heard_from = time.monotonic()
    await stack.room.play(CALLER, backchannel.samples)
    await _settle(stack, after=heard_from)
    answers = [handle for t, handle in observed.speeches if t > user_end]
    interrupted = bool(observed.false_interruptions) or any(h.interrupted for h in answers)
    return SessionResult(turns=[_turn(stack, user_end)], backchannel_played=True,
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
