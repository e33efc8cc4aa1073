"""The listening Deepgram stand-in's logic, fed audio directly (clocked by the audio)."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_settings.harness.deepgram_listen import Listener, ListenOptions
from voice_settings.harness.deepgram_wire import validate_params
from voice_settings.harness.speech import Scenario, make_scenario

FRAME = 0.0101


def listen(scenario: Scenario, *, endpointing: str = "300", chunk: int = 1600,
           extra_silence_s: float = 0.0, words: bool = True, **params: str) -> list[dict]:
    """Messages the listener sends for the scenario's audio, each with its audio time."""
    query = {"endpointing": endpointing, "interim_results": "true", "vad_events": "true",
             **params}
    expected = deque((w.text, w.duration_s) for w in scenario.words) if words else deque()
    listener = Listener(ListenOptions.from_params(query), request_id="r",
                        next_words=lambda: expected.popleft() if expected else None)
    pcm = scenario.pcm + b"\0" * int(32000 * extra_silence_s)
    out = []
    for first in range(0, len(pcm), chunk):
        out += listener.feed(pcm[first : first + chunk])
    return [{**message, "at": at} for message, at in out]


def finals(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["type"] == "Results" and m["is_final"]]


def text(message: dict) -> str:
    return message["channel"]["alternatives"][0]["transcript"]


@pytest.mark.parametrize("endpointing_ms", [100, 300, 800])
def test_the_final_comes_endpointing_ms_after_the_speech(endpointing_ms: int) -> None:
    scenario = make_scenario("question")
    [final] = finals(listen(scenario, endpointing=str(endpointing_ms)))
    assert final["speech_final"] and text(final) == "What time do you open tomorrow?"
    speech_end = scenario.words[0].end_s
    assert final["at"] - speech_end == pytest.approx(endpointing_ms / 1000, abs=FRAME)
    assert final["channel"]["alternatives"][0]["words"][-1]["end"] == pytest.approx(speech_end,
                                                                                    abs=FRAME)


def test_endpointing_below_the_detectors_minimum_silence_acts_as_100_ms() -> None:
    scenario = make_scenario("question")
    [at_10] = finals(listen(scenario, endpointing="10"))
    [at_100] = finals(listen(scenario, endpointing="100"))
    assert at_10["at"] == at_100["at"]


@pytest.mark.parametrize(("pause_s", "expected"), [
    (0.3, ["I would like to book a table for two"]),
    (1.0, ["I would like to book", "a table for two"]),
])
def test_a_pause_shorter_than_endpointing_stays_in_one_final(pause_s: float,
                                                             expected: list[str]) -> None:
    messages = listen(make_scenario("hesitation", pause_s), endpointing="500")
    assert [text(m) for m in finals(messages)] == expected
    assert all(m["speech_final"] for m in finals(messages))
    started = [m for m in messages if m["type"] == "SpeechStarted"]
    assert len(started) == len(expected)  # one per segment, not per word group


def test_interim_results_grow_towards_the_final() -> None:
    messages = listen(make_scenario("dictation", 0.5), endpointing="800")
    [final] = finals(messages)
    interims = [text(m) for m in messages if m["type"] == "Results" and not m["is_final"]]
    assert len(interims) >= 10
    assert all(text(final).startswith(t) for t in interims)
    assert [len(t) for t in interims] == sorted(len(t) for t in interims)
    assert not any(m["type"] == "Results" and not m["is_final"]
                   for m in listen(make_scenario("question"), interim_results="false"))


def test_without_endpointing_no_speech_final_and_utterance_end_ends_the_utterance() -> None:
    scenario = make_scenario("list", 0.4)
    messages = listen(scenario, endpointing="false", utterance_end_ms="1000",
                      extra_silence_s=0.5)
    assert not any(m.get("speech_final") for m in messages)
    assert [text(m) for m in finals(messages)] == [w.text for w in scenario.words]
    [end] = [m for m in messages if m["type"] == "UtteranceEnd"]
    assert end["last_word_end"] == pytest.approx(scenario.words[-1].end_s, abs=FRAME)
    assert end["at"] - end["last_word_end"] == pytest.approx(1.0, abs=FRAME)


def test_utterance_end_waits_for_a_silence_of_utterance_end_ms() -> None:
    # pauses of 0.8 s inside the list: no UtteranceEnd until the 1.2 s after the last item
    scenario = make_scenario("list", 0.8, tail_s=1.2)
    ends = [m for m in listen(scenario, utterance_end_ms="1000") if m["type"] == "UtteranceEnd"]
    assert len(ends) == 1 and ends[0]["at"] > scenario.words[-1].end_s
    assert not any(m["type"] == "UtteranceEnd" for m in listen(scenario))


def test_vad_events_off_sends_no_speech_started() -> None:
    messages = listen(make_scenario("question"), vad_events="false")
    assert not any(m["type"] == "SpeechStarted" for m in messages) and finals(messages)


def test_speech_without_expected_words_gets_an_empty_transcript() -> None:
    [final] = finals(listen(make_scenario("question"), words=False))
    assert text(final) == "" and final["speech_final"]


def test_finalize_and_close_flush_what_is_pending() -> None:
    scenario = make_scenario("hesitation", 0.5)
    expected = deque((w.text, w.duration_s) for w in scenario.words)
    listener = Listener(ListenOptions.from_params({"endpointing": "false"}), request_id="r",
                        next_words=lambda: expected.popleft() if expected else None)
    middle = int(scenario.words[0].start_s * 32000 + 16000) // 2 * 2  # 0.5 s into the speech
    assert finals([m for m, _ in listener.feed(scenario.pcm[:middle])]) == []
    [(flushed, _)] = listener.finalize()
    assert flushed["from_finalize"] and flushed["is_final"] and not flushed["speech_final"]
    assert text(flushed) == "I would like to book"
    rest = [m for m, _ in listener.feed(scenario.pcm[middle:])]
    # the rest of the first group's speech has no words left: nothing to finalize
    assert [text(m) for m in finals(rest)] == ["a table for two"]
    assert listener.close() == []
    listener.feed(scenario.pcm[: int(0.4 * 32000)])  # speech again, still going on at close
    [(closed, _)] = listener.close()
    assert closed["is_final"] and not closed["from_finalize"]


@settings(max_examples=25, deadline=None)
@given(chunks=st.lists(st.integers(1, 4000), min_size=1, max_size=30))
def test_messages_do_not_depend_on_how_the_audio_is_chunked(chunks: list[int]) -> None:
    scenario = make_scenario("hesitation", 0.4, tail_s=0.6)
    reference = listen(scenario, utterance_end_ms="1000", chunk=3200)
    expected = deque((w.text, w.duration_s) for w in scenario.words)
    listener = Listener(
        ListenOptions.from_params({"endpointing": "300", "interim_results": "true",
                                   "vad_events": "true", "utterance_end_ms": "1000"}),
        request_id="r", next_words=lambda: expected.popleft() if expected else None)
    pcm, out, position, index = scenario.pcm, [], 0, 0
    while position < len(pcm):
        size = chunks[index % len(chunks)]
        out += listener.feed(pcm[position : position + size])
        position, index = position + size, index + 1
    assert [{**m, "at": at} for m, at in out] == reference


query_values = st.one_of(st.text(max_size=6), st.sampled_from(
    ["0", "10", "300", "false", "true", "1000", "16000", "1", "2", "-5", "1e3", " 7"]))


@given(st.dictionaries(st.sampled_from(["endpointing", "utterance_end_ms", "interim_results",
                                        "vad_events", "sample_rate", "channels", "encoding"]),
                       query_values))
def test_accepted_query_strings_always_give_listen_options(params: dict[str, str]) -> None:
    error = validate_params(params)
    if error is not None:
        assert any(name in error for name in params)
        return
    options = ListenOptions.from_params(params)
    assert options.sample_rate >= 8000 and options.channels >= 1
    listener = Listener(options, next_words=lambda: None, request_id="r")
    listener.feed(b"\x01\x02" * 999 + b"\x03")
