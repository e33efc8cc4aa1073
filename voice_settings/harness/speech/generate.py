"""Regenerate the speech corpus (clips/<voice>/*.wav + manifest.json) for each voice.

    python -m voice_settings.harness.speech.generate                  # rewrite every voice
    python -m voice_settings.harness.speech.generate --voice festival # one voice
    python -m voice_settings.harness.speech.generate --check          # compare, write nothing
    python -m voice_settings.harness.speech.generate --out DIR        # write DIR/<voice>/

Voices and the Debian packages they need:

- ``festival``: Festival's ``text2wave`` with the HTS voice ``cmu_us_slt_arctic_hts``
  (``festival festvox-us-slt-hts``) and ``sox``;
- ``espeak``: ``espeak-ng`` (voice en-us, 160 words per minute) and ``sox``.

sox resamples the synthesizer's output to 16 kHz without dither (``-D``), so the output is
byte-for-byte repeatable with the same synthesizer version. Each clip is trimmed to its speech
plus ``PAD_S`` either side. A voice whose tools are missing is skipped, with the reason.

Exit status: 0 done (or identical with --check), 1 a voice's tools missing, a clip not one
stretch of speech, or --check found differences, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .audio import (
    FRAME_S,
    MIN_SILENCE_S,
    SAMPLE_RATE,
    SPEECH_THRESHOLD_DBFS,
    speech_runs,
    write_wav,
)
from .corpus import CLIPS, CORPUS_DIR, PAD_S, VOICES, ClipText

ESPEAK_VOICE = "en-us"
WORDS_PER_MINUTE = 160
FESTIVAL_VOICE = "cmu_us_slt_arctic_hts"
TOOLS = {"festival": ("text2wave", "sox"), "espeak": ("espeak-ng", "sox")}
PACKAGES = {"festival": "festival festvox-us-slt-hts sox", "espeak": "espeak-ng sox"}


class GenerationError(Exception):
    pass


def missing_tools(voice: str) -> list[str]:
    return [tool for tool in TOOLS[voice] if shutil.which(tool) is None]


def espeak_version() -> str:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split("Data at")[0].split(":")[-1].strip()


def festival_version() -> str:
    out = subprocess.run(["festival", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split(":")[-1].strip()


def synth_version(voice: str) -> dict[str, str]:
    if voice == "espeak":
        return {"espeak_ng": espeak_version(), "voice": ESPEAK_VOICE,
                "words_per_minute": str(WORDS_PER_MINUTE)}
    return {"festival": festival_version(), "voice": FESTIVAL_VOICE}


def _synth_wav(text: str, voice: str) -> bytes:
    if voice == "espeak":
        command = ["espeak-ng", "-v", ESPEAK_VOICE, "-s", str(WORDS_PER_MINUTE), "--stdout", text]
        return subprocess.run(command, capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:  # text2wave writes a WAV header it can seek
        out = Path(tmp) / "clip.wav"
        command = ["text2wave", "-eval", f"(voice_{FESTIVAL_VOICE})", "-o", str(out)]
        subprocess.run(command, input=text.encode(), capture_output=True, check=True)
        return out.read_bytes()


def synthesize(text: str, voice: str) -> np.ndarray:
    """The voice's speech for ``text`` as int16 mono at 16 kHz."""
    wav = _synth_wav(text, voice)
    raw = subprocess.run(
        ["sox", "-D", "-R", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1",
         "-b", "16", "-e", "signed-integer", "-"],
        input=wav, capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.int16)


INNER_GAP_S = (0.2, 0.06)
"""A silence inside a word group up to 0.2 s long (Festival breathes between phrases) is
shortened to 0.06 s, under the energy measure's MIN_SILENCE_S; a longer one is a pause."""


def _tightened(samples: np.ndarray) -> np.ndarray:
    longest, kept = INNER_GAP_S
    runs = speech_runs(samples)
    cuts = [(round((a_end + kept) * SAMPLE_RATE), round(b_start * SAMPLE_RATE))
            for (_, a_end), (b_start, _) in zip(runs, runs[1:], strict=False)
            if b_start - a_end <= longest]
    for first, last in reversed(cuts):
        samples = np.concatenate([samples[:first], samples[last:]])
    return samples


def make_clip(name: str, clip: ClipText, voice: str) -> tuple[np.ndarray, dict]:
    """The trimmed samples of one clip and its manifest entry."""
    samples = _tightened(synthesize(clip.synth_input, voice))
    runs = speech_runs(samples)
    if len(runs) != 1:
        raise GenerationError(
            f"clip {name!r} ({clip.synth_input!r}, {voice}) must be one stretch of speech; "
            f"the energy measure found {len(runs)}: {runs}"
        )
    pad = int(PAD_S * SAMPLE_RATE)
    start, end = (int(round(t * SAMPLE_RATE)) for t in runs[0])
    silence = np.zeros(pad, dtype=np.int16)
    trimmed = np.concatenate([silence, samples, silence])[start : end + 2 * pad]
    [(start_s, end_s)] = speech_runs(trimmed)
    entry = {
        "file": f"{name}.wav",
        "text": clip.text,
        **({"spoken": clip.spoken} if clip.spoken else {}),
        "duration_s": round(len(trimmed) / SAMPLE_RATE, 4),
        "speech_start_s": start_s,
        "speech_end_s": end_s,
    }
    return trimmed, entry


def generate(out_dir: Path, voice: str) -> None:
    """Write ``voice``'s clips and manifest.json into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = {}
    for name, clip in CLIPS.items():
        samples, entry = make_clip(name, clip, voice)
        write_wav(out_dir / entry["file"], samples)
        clips[name] = entry
    manifest = {
        "generated_by": f"python -m voice_settings.harness.speech.generate --voice {voice}",
        "synthesizer": synth_version(voice),
        "sample_rate": SAMPLE_RATE,
        "energy_measure": {
            "frame_s": FRAME_S,
            "speech_threshold_dbfs": SPEECH_THRESHOLD_DBFS,
            "min_silence_s": MIN_SILENCE_S,
        },
        "clips": clips,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out_dir / "manifest.json").write_text(text, encoding="utf-8")


def differences(generated: Path, committed: Path) -> list[str]:
    """Files that differ between two corpus directories (names relative to them)."""
    names = {p.name for p in generated.iterdir()} | {p.name for p in committed.glob("*")}
    return sorted(
        name for name in names
        if not (generated / name).is_file() or not (committed / name).is_file()
        or (generated / name).read_bytes() != (committed / name).read_bytes()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=CORPUS_DIR,
                        help="directory to write (one subdirectory per voice)")
    parser.add_argument("--voice", choices=VOICES, action="append",
                        help="a voice to generate (repeatable; default: every voice)")
    parser.add_argument("--check", action="store_true",
                        help="generate into a temporary directory and compare with --out")
    args = parser.parse_args(argv)
    status = 0
    for voice in args.voice or VOICES:
        if missing := missing_tools(voice):
            print(f"{voice}: skipped, missing tools: {', '.join(missing)} "
                  f"(apt-get install {PACKAGES[voice]})", file=sys.stderr)
            status = 1
            continue
        status = max(status, _one_voice(voice, args.out / voice, args.check))
    return status


def _one_voice(voice: str, out: Path, check: bool) -> int:
    try:
        if not check:
            generate(out, voice)
            print(f"{voice}: wrote {len(CLIPS)} clips and manifest.json to {out}")
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp), voice)
            diff = differences(Path(tmp), out)
    except GenerationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if diff:
        print(f"{voice}: differs from {out}: {', '.join(diff)}", file=sys.stderr)
        return 1
    print(f"{voice}: {out} matches a fresh generation ({len(CLIPS)} clips)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
