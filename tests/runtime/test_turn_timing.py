"""Turn timing on its own: figures from the framework's message metrics, the attribute's bounds,
and which messages make a turn, fed through a real (unstarted) AgentSession's events."""

from __future__ import annotations

import asyncio
import json
import logging
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from livekit.agents import AgentSession, CloseEvent, ConversationItemAddedEvent, llm
from livekit.agents.voice.events import CloseReason

from voice_settings.runtime.end_of_turn import RULES, EndOfTurn
from voice_settings.runtime.turn_timing import (
    FIGURES,
    MAX_MS,
    TIMING,
    TurnTiming,
    medians,
    timing_json,
    turn_figures,
)

USER = {"started_speaking_at": 100.0, "stopped_speaking_at": 101.0, "transcription_delay": 0.12,
        "end_of_turn_delay": 0.61, "on_user_turn_completed_delay": 0.0002}
REPLY = {"started_speaking_at": 101.75, "llm_node_ttft": 0.2, "tts_node_ttfb": 0.05,
         "playback_latency": 0.001, "e2e_latency": 0.75}

anything = st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.integers(),
                     st.floats(allow_nan=True, allow_infinity=True))
figure_maps = st.dictionaries(st.one_of(st.sampled_from(FIGURES), st.text(max_size=40)),
                              anything, max_size=12)


end_of_turns = st.builds(EndOfTurn, st.one_of(st.sampled_from(RULES), st.text(max_size=300)),
                         st.one_of(st.none(), st.floats()), st.one_of(st.none(), st.floats()))


@given(st.integers(min_value=-5, max_value=2**63), figure_maps, figure_maps, end_of_turns)
def test_the_attribute_is_small_valid_json_whatever_the_figures(turns, last, p50, end_of_turn):
    text = timing_json(turns, last, p50, end_of_turn)

    assert len(text.encode("utf-8")) < 1024
    decoded = json.loads(text)
    assert decoded["turns"] == max(turns, 0)
    explained = decoded["last_end_of_turn"]
    assert explained["rule"] in RULES
    assert all(explained[k] is None or 0 <= explained[k] <= 1
               for k in ("probability", "threshold"))
    for section in ("last", "p50"):
        assert set(decoded[section]) <= set(FIGURES)
        assert all(isinstance(v, int) and abs(v) <= MAX_MS for v in decoded[section].values())


@given(figure_maps)
def test_a_figure_is_published_exactly_when_it_is_a_finite_plausible_number(figures):
    published = json.loads(timing_json(1, figures, {}))["last"]
    for figure in FIGURES:
        value = figures.get(figure)
        plausible = (isinstance(value, int | float) and not isinstance(value, bool)
                     and math.isfinite(value) and abs(value) <= MAX_MS)
        assert (figure in published) == plausible
        if plausible:
            assert abs(published[figure] - value) <= 0.5


@given(st.dictionaries(st.sampled_from([*USER, *REPLY, "other"]), anything),
       st.dictionaries(st.sampled_from([*USER, *REPLY, "other"]), anything))
def test_figures_come_only_from_what_the_metrics_hold(user, reply):
    figures = turn_figures(user, reply)
    assert set(figures) <= set(FIGURES)
    if "e2e_latency" not in reply:
        assert "response_ms" not in figures
    if "end_of_turn_delay" not in user:
        assert "end_of_turn_ms" not in figures


def test_figures_are_the_framework_metrics_in_milliseconds():
    figures = turn_figures(USER, REPLY)
    assert {k: round(v, 6) for k, v in figures.items()} == {
        "response_ms": 750.0, "end_of_turn_ms": 610.0, "transcription_delay_ms": 120.0,
        "llm_ttft_ms": 200.0, "tts_ttfb_ms": 50.0}
    assert turn_figures({}, None) == {}


def test_p50_is_the_median_of_the_turns_that_gave_the_figure():
    turns = [{"response_ms": 700.0}, {"response_ms": 900.0, "llm_ttft_ms": 10.0},
             {"response_ms": 2000.0}, {}]
    assert medians(turns) == {"response_ms": 900.0, "llm_ttft_ms": 10.0}


class Recorder:
    def __init__(self, failures: int = 0) -> None:
        self.published: list[dict] = []
        self.failures = failures

    async def __call__(self, attributes: dict[str, str]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("room gone")
        self.published.append(json.loads(attributes[TIMING]))


def added(session: AgentSession, role: str, metrics: dict | None = None) -> None:
    message = llm.ChatMessage(role=role, content=["..."], metrics=metrics or {})
    session.emit("conversation_item_added", ConversationItemAddedEvent(item=message))


async def settled() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def infos(caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    return caplog


def following(publish: Recorder, **options) -> tuple[AgentSession, TurnTiming]:
    """A real, unstarted AgentSession whose events the test emits, and its TurnTiming."""
    session = AgentSession(vad=None)
    timing = TurnTiming("alice", publish, **options)
    timing.follow(session)
    return session, timing


async def test_a_turn_is_a_user_message_and_the_reply_to_it(infos):
    publish = Recorder()
    session, timing = following(publish)

    added(session, "assistant", {"e2e_latency": 9.0})  # the greeting answers nobody
    added(session, "user", USER)
    added(session, "assistant", REPLY)
    added(session, "assistant", {"e2e_latency": 5.0})  # a tool's follow-up: same turn, done
    await settled()

    [attribute] = publish.published
    assert attribute["turns"] == 1
    assert attribute["last"] == {"response_ms": 750, "end_of_turn_ms": 610,
                                 "transcription_delay_ms": 120, "llm_ttft_ms": 200,
                                 "tts_ttfb_ms": 50}
    assert attribute["p50"] == attribute["last"]
    lines = [r for r in infos.records if r.getMessage().startswith("turn timing")]
    assert [(r.participant, r.turn, r.response_ms) for r in lines] == [("alice", 1, 750)]
    assert "response_ms=750" in lines[0].getMessage()
    await timing.aclose()


async def test_an_unanswered_turn_counts_without_a_response(infos):
    publish = Recorder()
    session, timing = following(publish)

    added(session, "user", USER)
    added(session, "user", {**USER, "end_of_turn_delay": 1.0})  # interrupted before any audio
    await settled()
    assert publish.published[-1]["turns"] == 1
    assert "response_ms" not in publish.published[-1]["last"]
    assert publish.published[-1]["last"]["end_of_turn_ms"] == 610

    session.emit("close", CloseEvent(reason=CloseReason.USER_INITIATED))
    await settled()
    assert timing.turns == 2, "the turn still open at close is logged"
    assert len(publish.published) == 1, "nothing is published to a closing room"
    usage = [r for r in infos.records if r.getMessage().startswith("session usage for alice")]
    assert len(usage) == 1 and usage[0].participant == "alice"
    await timing.aclose()


async def test_a_failed_publication_is_logged_and_the_next_turn_publishes(infos):
    publish = Recorder(failures=1)
    session, timing = following(publish)

    added(session, "user", USER)
    added(session, "assistant", REPLY)
    await settled()
    failed = [r for r in infos.records if "could not publish turn timing" in r.getMessage()]
    assert publish.published == [] and failed[0].participant == "alice"

    added(session, "user", USER)
    added(session, "assistant", {**REPLY, "e2e_latency": 1.25})
    await settled()
    assert publish.published[-1]["turns"] == 2
    assert publish.published[-1]["p50"]["response_ms"] == 1000
    await timing.aclose()


async def test_p50_covers_only_the_last_turns_of_the_window():
    publish = Recorder()
    session, timing = following(publish, window=3)

    for e2e in (10.0, 10.0, 0.5, 0.6, 0.7):
        added(session, "user", USER)
        added(session, "assistant", {"e2e_latency": e2e})
        await settled()

    assert publish.published[-1]["turns"] == 5
    assert publish.published[-1]["p50"] == {"response_ms": 600, "end_of_turn_ms": 610,
                                            "transcription_delay_ms": 120}
    await timing.aclose()


async def test_each_turn_says_which_rule_ended_it(infos):
    publish = Recorder()
    session, timing = following(publish, turn_detection="model")
    timing.end_of_turn.add(0.21, 0.36)  # what the framework got from the detector

    added(session, "user", USER)
    added(session, "assistant", REPLY)
    await settled()

    [attribute] = publish.published
    assert attribute["last_end_of_turn"] == {"rule": "model_unfinished", "probability": 0.21,
                                             "threshold": 0.36}
    [line] = [r for r in infos.records if r.getMessage().startswith("turn timing")]
    assert "end_of_turn=model_unfinished probability=0.210 threshold=0.360" in line.getMessage()
    assert line.end_of_turn["rule"] == "model_unfinished"
    await timing.aclose()


@given(figure_maps, end_of_turns)
@example({}, EndOfTurn("model_done", 0.5, math.nan))  # a threshold dropped, the probability kept
def test_any_end_of_turn_is_logged_without_raising(figures, end_of_turn):
    timing = TurnTiming("alice", publish=lambda attributes: None)
    timing.record(figures, end_of_turn, publish=False)
    assert timing.turns == 1
