"""The lab's sessions: scenarios spoken to the real agent, measured. They run in real time.

Relations inside one run only (a larger setting gives a later reply), with generous tolerance:
the absolute figures depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from voice_settings.lab.session import run_trial

# Real-time sessions compared with each other: on one worker, one after the other, so that two of
# them (each a real VAD on real-time audio) never compete for the CPU, and ahead of the other
# workers' tests where the system allows it.
pytestmark = [pytest.mark.xdist_group("lab-sessions"),
              pytest.mark.usefixtures("ahead_of_other_workers")]


def trial(scenario: str, participant: dict, pause_s: float | None = None) -> dict:
    return {"scenario": scenario, "pause_s": pause_s, "participant_metadata": participant,
            "dispatch_metadata": {}}


async def test_with_stt_turn_detection_a_larger_endpointing_gives_a_later_reply():
    quick = await run_trial(trial("question", {"turnDetection": "stt", "endpointingMs": 100,
                                               "minEndpointingDelay": 0.2}))
    slow = await run_trial(trial("question", {"turnDetection": "stt", "endpointingMs": 1200,
                                              "minEndpointingDelay": 0.2}))
    [quick_turn], [slow_turn] = quick.turns, slow.turns
    assert quick.error is None and slow.error is None
    # 1.1 s more endpointing: the final, so the request and the audio, come about 1.1 s later
    assert slow_turn.llm_request_ms - quick_turn.llm_request_ms > 600
    assert slow_turn.first_audio_ms - quick_turn.first_audio_ms > 600


async def test_a_pause_well_under_the_wait_is_not_cut_and_one_well_over_it_is():
    waits = {"turnDetection": "vad", "minEndpointingDelay": 0.6, "maxEndpointingDelay": 3.0,
             "preemptiveGeneration": False}
    short = await run_trial(trial("hesitation", waits, pause_s=0.3))
    long = await run_trial(trial("hesitation", waits, pause_s=2.5))
    assert short.pauses == [0.3] and short.cut_ins == []
    assert long.pauses == [2.5] and long.cut_ins == [2.5]
    assert short.turns[0].first_audio_ms is not None


async def test_in_model_mode_each_turn_has_the_models_verdict_and_the_wait_it_chose():
    # espeak-ng's flat voice: v1-mini mostly judges it unfinished, and the agent waits the max
    result = await run_trial({**trial("question", {"turnDetection": "model",
                                                   "minEndpointingDelay": 0.3,
                                                   "maxEndpointingDelay": 2.0}),
                              "voice": "espeak"})
    [turn] = result.turns
    decision = turn.end_of_turn
    assert decision["rule"] in ("model_done", "model_unfinished")
    assert 0 <= decision["probability"] <= 1 and decision["threshold"] == 0.36
    unfinished = decision["probability"] < decision["threshold"]
    assert (decision["rule"] == "model_unfinished") == unfinished
    # the framework's own wait (end of speech -> commit): the max delay exactly when unfinished
    assert (decision["waited_ms"] >= 1900) == unfinished, decision


def test_the_lab_command_prints_one_json_document_and_records_each_session(tmp_path):
    record = tmp_path / "sessions"
    done = subprocess.run(
        [sys.executable, "-m", "voice_settings", "lab", "--scenario", "question", "--set",
         "min_endpointing_delay=0.8,1.8", "--set", "turn_detection=vad", "--json",
         "--record", str(record), "--plot", str(tmp_path / "lab.png")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "response_delay_ms" not in done.stdout
    document = json.loads(done.stdout)
    assert document["conditions"]["jobs"] == 1 and document["conditions"]["voice"] == "festival"
    labels = [run["label"] for run in document["runs"]]
    assert labels == ["min_endpointing_delay=0.8", "min_endpointing_delay=1.8"]
    low, high = document["runs"]
    assert low["turns"] == high["turns"] == 1
    # above Silero's 0.55 s of silence the wait adds one for one: 1 s more, about 1 s later
    moved = high["first_audio_ms"]["p50"] - low["first_audio_ms"]["p50"]
    assert 500 < moved < 1500, [run["turn_log"] for run in document["runs"]]
    [entry] = high["turn_log"]
    assert entry["end_of_turn"]["rule"] == "vad" and entry["end_of_turn"]["probability"] is None
    assert {"first_audio_ms", "llm_request_ms", "scenario"} <= entry.keys()
    assert "2/2 sessions" in done.stderr
    for run in document["runs"]:
        [recorded] = run["recordings"]
        check_recording(recorded, run["turn_log"][0]["first_audio_ms"])
    if (tmp_path / "lab.png").exists():
        assert (tmp_path / "lab.png").stat().st_size > 1000
    else:
        pytest.importorskip("matplotlib", reason="--plot needs matplotlib")


def check_recording(recorded: dict, first_audio_ms: float) -> None:
    """A stereo WAV (caller left, agent right), its timeline and its picture."""
    with wave.open(recorded["wav"]) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 16000, 2)
        both = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    with open(recorded["timeline"]) as file:
        timeline = json.load(file)
    [caller] = timeline["caller_speech"]
    first_agent = timeline["agent_speech"][0]
    assert first_agent["start_s"] > caller["end_s"]
    assert (first_agent["start_s"] - caller["end_s"]) * 1000 == pytest.approx(first_audio_ms,
                                                                             abs=60)
    [decision] = timeline["end_of_turn"]
    assert caller["end_s"] < decision["at_s"] <= first_agent["start_s"]
    assert decision["rule"] == "vad" and timeline["llm_requests"]
    # the caller is heard on the left while they speak, the agent on the right when it answers
    def loud(channel: int, start_s: float, end_s: float) -> bool:
        part = both[int(start_s * 16000):int(end_s * 16000), channel].astype(np.int32)
        return bool(np.abs(part).max(initial=0) > 1000)

    assert loud(0, caller["start_s"], caller["end_s"])
    assert not loud(1, caller["start_s"], caller["end_s"])
    assert loud(1, first_agent["start_s"], first_agent["end_s"])
    if "png" in recorded:
        with open(recorded["png"], "rb") as file:
            assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    else:
        pytest.importorskip("matplotlib", reason="the timeline picture needs matplotlib")
