"""The committed speech corpus: what the manifest says, what Silero hears, how it is made."""

from __future__ import annotations

import json
import shutil
import wave

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import vad as agents_vad
from livekit.plugins import silero

from voice_settings.harness.speech import CLIPS, VOICES, load_clip, make_scenario
from voice_settings.harness.speech.audio import speech_runs
from voice_settings.harness.speech.corpus import CORPUS_DIR, manifest_path

needs_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="regenerating the corpus needs espeak-ng and sox (apt-get install espeak-ng sox)",
)
needs_festival = pytest.mark.skipif(
    shutil.which("text2wave") is None or shutil.which("sox") is None,
    reason="the festival voice needs festival, festvox-us-slt-hts and sox (apt-get install)",
)


@pytest.fixture(scope="module")
def vad() -> silero.VAD:
    return silero.VAD.load(min_silence_duration=0.3)


async def vad_segments(vad: silero.VAD, samples: np.ndarray) -> list[float]:
    """Durations of the speech segments Silero finds in ``samples`` (16 kHz)."""
    audio = np.concatenate([np.zeros(3200, np.int16), samples, np.zeros(12800, np.int16)])
    stream = vad.stream()
    for first in range(0, len(audio) - 160, 160):
        stream.push_frame(rtc.AudioFrame(audio[first : first + 160].tobytes(), 16000, 1, 160))
    stream.end_input()
    ends = [ev.speech_duration async for ev in stream
            if ev.type == agents_vad.VADEventType.END_OF_SPEECH]
    await stream.aclose()
    return ends


def test_the_whole_corpus_stays_small() -> None:
    assert sum(p.stat().st_size for p in CORPUS_DIR.rglob("*") if p.is_file()) < 2_000_000


@pytest.mark.parametrize("voice", VOICES)
def test_manifest_describes_the_committed_wavs(voice: str) -> None:
    manifest = json.loads(manifest_path(voice).read_text())
    assert set(manifest["clips"]) == set(CLIPS)
    for name, entry in manifest["clips"].items():
        with wave.open(str(CORPUS_DIR / voice / entry["file"])) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.getnframes() / 16000 == pytest.approx(entry["duration_s"], abs=1e-3)
        clip = load_clip(name, voice)
        assert clip.text == CLIPS[name].text == entry["text"]
        # one word group = one stretch of speech, where the manifest says it is
        assert speech_runs(clip.samples) == [(entry["speech_start_s"], entry["speech_end_s"])]


@pytest.mark.parametrize("voice", VOICES)
async def test_silero_hears_every_clip_as_speech(vad: silero.VAD, voice: str) -> None:
    for name in CLIPS:
        clip = load_clip(name, voice)
        durations = await vad_segments(vad, clip.samples)
        assert len(durations) == 1, name
        speech = clip.speech_end_s - clip.speech_start_s
        assert durations[0] == pytest.approx(speech, abs=0.15), name


async def test_silero_splits_a_sentence_at_the_scenario_pause(vad: silero.VAD) -> None:
    # Silero (min_silence_duration 0.3 s) hears two utterances only when the pause is longer
    assert len(await vad_segments(vad, make_scenario("hesitation", 0.6).samples)) == 2
    assert len(await vad_segments(vad, make_scenario("hesitation", 0.15).samples)) == 1


@pytest.mark.parametrize("voice", [pytest.param("espeak", marks=needs_tools),
                                   pytest.param("festival", marks=needs_festival)])
def test_generation_reproduces_the_committed_corpus(voice: str) -> None:
    from voice_settings.harness.speech import generate

    manifest = json.loads(manifest_path(voice).read_text())
    if generate.synth_version(voice) != manifest["synthesizer"]:
        pytest.skip(f"{generate.synth_version(voice)} is not the corpus's "
                    f"{manifest['synthesizer']}; byte-for-byte comparison would fail")
    assert generate.main(["--check", "--voice", voice]) == 0


@needs_tools
def test_generation_refuses_a_clip_that_is_not_one_stretch_of_speech() -> None:
    from voice_settings.harness.speech import generate
    from voice_settings.harness.speech.corpus import ClipText

    with pytest.raises(generate.GenerationError, match="one stretch of speech"):
        generate.make_clip("sentences", ClipText("Eggs. Milk. Bread. And coffee."), "espeak")
