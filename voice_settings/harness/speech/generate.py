"""Regenerate the speech corpus (clips/*.wav + clips/manifest.json) with espeak-ng and sox.

    python -m voice_settings.harness.speech.generate            # rewrite clips/
    python -m voice_settings.harness.speech.generate --check    # compare, write nothing
    python -m voice_settings.harness.speech.generate --out DIR  # write elsewhere

Needs the Debian packages ``espeak-ng`` and ``sox``. espeak-ng speaks each word group of
``corpus.CLIPS`` (voice en-us, 160 words per minute); sox resamples its 22.05 kHz output
to 16 kHz without dither (``-D``), so the output is byte-for-byte repeatable with the same
espeak-ng version. Each clip is trimmed to its speech plus ``PAD_S`` either side.

Exit status: 0 done (or identical with --check), 1 tools missing, a clip not one stretch
of speech, or --check found differences, 2 usage.
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
from .corpus import CLIPS, CORPUS_DIR, PAD_S, ClipText

VOICE = "en-us"
WORDS_PER_MINUTE = 160
TOOLS = ("espeak-ng", "sox")


class GenerationError(Exception):
    pass


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def espeak_version() -> str:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split("Data at")[0].split(":")[-1].strip()


def synthesize(text: str) -> np.ndarray:
    """espeak-ng's speech for ``text`` as int16 mono at 16 kHz."""
    wav = subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "--stdout", text],
        capture_output=True, check=True,
    ).stdout
    raw = subprocess.run(
        ["sox", "-D", "-R", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1",
         "-b", "16", "-e", "signed-integer", "-"],
        input=wav, capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.int16)


def make_clip(name: str, clip: ClipText) -> tuple[np.ndarray, dict]:
    """The trimmed samples of one clip and its manifest entry."""
    samples = synthesize(clip.espeak_input)
    runs = speech_runs(samples)
    if len(runs) != 1:
        raise GenerationError(
            f"clip {name!r} ({clip.espeak_input!r}) must be one stretch of speech; "
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


def generate(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = {}
    for name, clip in CLIPS.items():
        samples, entry = make_clip(name, clip)
        write_wav(out_dir / entry["file"], samples)
        clips[name] = entry
    manifest = {
        "generated_by": "python -m voice_settings.harness.speech.generate",
        "espeak_ng": espeak_version(),
        "voice": VOICE,
        "words_per_minute": WORDS_PER_MINUTE,
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
    parser.add_argument("--out", type=Path, default=CORPUS_DIR, help="directory to write")
    parser.add_argument("--check", action="store_true",
                        help="generate into a temporary directory and compare with --out")
    args = parser.parse_args(argv)
    if missing := missing_tools():
        print(f"missing tools: {', '.join(missing)} (apt-get install espeak-ng sox)",
              file=sys.stderr)
        return 1
    try:
        if not args.check:
            generate(args.out)
            print(f"wrote {len(CLIPS)} clips and manifest.json to {args.out}")
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            diff = differences(Path(tmp), args.out)
    except GenerationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if diff:
        print(f"differs from {args.out}: {', '.join(diff)}", file=sys.stderr)
        return 1
    print(f"{args.out} matches a fresh generation ({len(CLIPS)} clips)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
