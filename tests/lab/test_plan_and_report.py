"""The lab's plan, figures and output, without running sessions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_settings.lab import plan, report
from voice_settings.lab.results import SessionResult, TurnTiming, percentile, summarize
from voice_settings.store import load_directory
from voice_settings.tool_errors import SettingsRejected, UsageError

STORE = load_directory()


def test_profiles_times_sweeps_make_the_columns():
    sets = plan.settings_sets(["snappy", "patient"],
                              ["endpointing_ms=100,300", "turnDetection=vad"], STORE)
    # the label names what differs; turn_detection=vad is shared and shows in the settings rows
    assert [s.label for s in sets] == [
        "snappy endpointing_ms=100", "snappy endpointing_ms=300",
        "patient endpointing_ms=100", "patient endpointing_ms=300"]
    assert sets[0].participant_metadata() == {"profile": "snappy", "endpointing_ms": 100,
                                              "turn_detection": "vad"}
    assert sets[3].timing()["min_endpointing_delay"] == STORE.values("patient")[
        "min_endpointing_delay"]


def test_a_single_set_of_values_is_labelled_by_all_of_them():
    [only] = plan.settings_sets([], ["turn_detection=vad", "min_endpointing_delay=0.8"], STORE)
    assert only.label == "turn_detection=vad min_endpointing_delay=0.8"


def test_no_profile_and_no_sweep_is_one_default_column():
    [only] = plan.settings_sets([], [], STORE)
    assert only.label == "default" and only.participant_metadata() == {}


@pytest.mark.parametrize("profiles, items, words", [
    ([], ["endpointing_ms=300,90000"], "endpointing_ms = 90000"),
    ([], ["min_endpointing_delay=800"], "Did you mean 0.8?"),
    ([], ["endpointingms=300"], "unknown setting"),
    ([], ["endpointing_ms="], "comma-separated"),
    ([], ["endpointing_ms=1", "endpointing_ms=2"], "given twice"),
    (["nope"], [], "unknown profile 'nope'"),
])
def test_an_invalid_plan_names_what_is_wrong(profiles, items, words):
    with pytest.raises(UsageError, match=words.replace("?", r"\?")) as caught:
        plan.settings_sets(profiles, items, STORE)
    if "=" in words:
        assert isinstance(caught.value, SettingsRejected)


def test_trials_interleave_sets_and_give_pauses_only_where_they_exist():
    sets = plan.settings_sets(["snappy", "patient"], [], STORE)
    trials = plan.trials(sets, ["question", "hesitation"], [0.4, 0.8], repeat=2)
    assert len(trials) == 2 * (1 + 2) * 2
    assert [t.settings.label for t in trials[:2]] == ["snappy", "patient"]
    assert {(t.scenario, t.pause_s) for t in trials} == {
        ("question", None), ("hesitation", 0.4), ("hesitation", 0.8)}


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_percentiles_stay_within_the_values_and_are_ordered(values, q):
    p = percentile(values, q)
    assert min(values) <= p <= max(values)
    assert percentile(values, 50) <= percentile(values, 90)


DONE = {"rule": "model_done", "probability": 0.6, "threshold": 0.36, "waited_ms": 510}
UNFINISHED = {"rule": "model_unfinished", "probability": 0.2, "threshold": 0.36,
              "waited_ms": 3010}


def _results():
    [snappy, patient] = plan.settings_sets(["snappy", "patient"], [], STORE)
    fast = SessionResult(turns=[TurnTiming(900.0, 200.0, "hesitation", DONE)], cut_ins=[0.8],
                         pauses=[0.8])
    slow = SessionResult(turns=[TurnTiming(2000.0, 300.0, "hesitation", UNFINISHED)],
                         pauses=[0.8])
    played = SessionResult(turns=[TurnTiming(None, 250.0, "backchannel", DONE)],
                           backchannel_played=True, interrupted=True, resumed=True)
    trials = [plan.Trial(snappy, "hesitation", 0.8, index=0),
              plan.Trial(patient, "hesitation", 0.8, index=1),
              plan.Trial(patient, "backchannel", index=2)]
    return (snappy, patient), list(zip(trials, [fast, slow, played], strict=True))


def test_the_json_document_has_the_documented_shape():
    sets, results = _results()
    runs = [summarize(s, results) for s in sets]
    document = json.loads(report.json_document(runs, {"jobs": 2}))
    patient = document["runs"][1]
    assert set(patient) >= {"label", "settings", "turns", "first_audio_ms", "llm_request_ms",
                            "cut_ins", "cut_ins_by_pause", "backchannels", "turn_log"}
    assert "response_delay_ms" not in json.dumps(document)
    assert patient["turns"] == 2 and patient["llm_request_ms"] == {"p50": 275.0, "p90": 295.0}
    assert patient["first_audio_ms"]["p50"] == 2000.0  # a turn without audio is left out
    assert patient["end_of_turn_rules"] == {"model_unfinished": 1, "model_done": 1}
    assert patient["turn_log"][0] == {
        "scenario": "hesitation", "pause_s": 0.8, "session": "002-patient-hesitation-p0.8-r1",
        "first_audio_ms": 2000.0, "llm_request_ms": 300.0, "end_of_turn": UNFINISHED}
    assert patient["backchannels"] == {"played": 1, "interrupted": 1, "resumed": 1}
    assert document["runs"][0]["cut_ins_by_pause"] == {"0.80": {"pauses": 1, "cut_ins": 1}}


def test_the_table_shows_each_set_side_by_side_in_seconds_and_counts():
    sets, results = _results()
    text = report.table([summarize(s, results) for s in sets], {"jobs": 1, "voice": "festival"})
    lines = text.splitlines()
    assert lines[0].split() == ["snappy", "patient"]
    assert lines[3].startswith("first audio p50") and "0.90 s" in lines[3]  # the headline
    assert "0.20 s" in text and "0.28 s" in text  # LLM request p50 of each
    assert any(line.split() == ["model_unfinished", "0/1", "1/2"] for line in lines)
    assert lines[-1].startswith("voice festival") and "one session at a time" in lines[-1]
    assert any(line.startswith("  cut-ins at a 0.8 s pause") and "1/1" in line and "0/1" in line
               for line in lines)


def test_the_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (pip install '.[lab]')")
    sets, results = _results()
    path = tmp_path / "lab.png"
    report.plot([summarize(s, results) for s in sets], path, "pause length (s)",
                conditions={"jobs": 2, "voice": "espeak"})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_pauses_the_default_ones_separate_the_profiles_and_sessions_are_named():
    [default] = plan.settings_sets(["default"], [], STORE)
    trials = plan.trials([default], list(plan.DEFAULT_SCENARIOS), [], repeat=1)
    assert [(t.scenario, t.pause_s) for t in trials] == [
        ("question", None), *(("hesitation", p) for p in plan.DEFAULT_PAUSES),
        ("backchannel", None)]
    assert trials[1].session == "002-default-hesitation-p0.8-r1"
    assert len({t.session for t in trials}) == len(trials)


def test_a_plan_too_large_is_refused_before_it_is_built():
    with pytest.raises(UsageError, match="at most"):
        plan.trials(plan.settings_sets([], [], STORE), ["question"], [], repeat=10**9)
