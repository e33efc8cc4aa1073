"""The lab's sessions: scenarios spoken to the real agent, measured. They run in real time.

Relations inside one run only (a larger setting gives a later reply), with generous tolerance:
the absolute figures depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from voice_settings.lab.session import run_trial

# Real-time sessions compared with each other: on one worker, one after the other, so that two of
# them (each a real VAD on real-time audio) never compete for the CPU, and ahead of the other
# workers' tests where the system allows it.
pytestmark = [pytest.mark.xdist_group("lab-sessions"), pytest.mark.usefixtures("realtime_priority")]


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
    assert slow_turn.response_delay_ms - quick_turn.response_delay_ms > 600
    assert slow_turn.first_audio_ms - quick_turn.first_audio_ms > 600


async def test_a_pause_well_under_the_wait_is_not_cut_and_one_well_over_it_is():
    waits = {"turnDetection": "vad", "minEndpointingDelay": 0.6, "maxEndpointingDelay": 3.0,
             "preemptiveGeneration": False}
    short = await run_trial(trial("hesitation", waits, pause_s=0.3))
    long = await run_trial(trial("hesitation", waits, pause_s=2.5))
    assert short.pauses == [0.3] and short.cut_ins == []
    assert long.pauses == [2.5] and long.cut_ins == [2.5]
    assert short.turns[0].first_audio_ms is not None


def test_the_lab_command_prints_one_json_document(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "voice_settings", "lab", "--scenario", "question", "--set",
         "min_endpointing_delay=0.3,0.9", "--set", "turn_detection=vad", "--json", "--jobs",
         "2", "--plot", str(tmp_path / "lab.png")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    labels = [run["label"] for run in document["runs"]]
    assert labels == ["min_endpointing_delay=0.3", "min_endpointing_delay=0.9"]
    low, high = document["runs"]
    assert low["turns"] == high["turns"] == 1
    assert high["first_audio_ms"]["p50"] > low["first_audio_ms"]["p50"]
    assert "2/2 sessions" in done.stderr
    if (tmp_path / "lab.png").exists():
        assert (tmp_path / "lab.png").stat().st_size > 1000
    else:
        pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
