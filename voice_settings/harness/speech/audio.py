"""16 kHz mono int16 audio: WAV files, resampling, and the energy measure of speech.

One energy measure serves the corpus manifest, the scenarios' timelines and the listening
Deepgram stand-in, so "where the speech is" means the same thing everywhere: the level of
each 10 ms frame in dBFS (RMS relative to int16 full scale); a frame at or above
``SPEECH_THRESHOLD_DBFS`` is voiced. Gaps inside espeak-ng words (stop consonants) measure
at most 60 ms at that threshold, so a silence must last ``MIN_SILENCE_S`` to separate two
stretches of speech.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
from livekit import rtc

__all__ = [
    "FRAME_S",
    "MIN_SILENCE_S",
    "SAMPLE_RATE",
    "SPEECH_THRESHOLD_DBFS",
    "frame_level_dbfs",
    "read_wav",
    "resample",
    "speech_runs",
    "write_wav",
]

SAMPLE_RATE = 16000
FRAME_S = 0.010
SPEECH_THRESHOLD_DBFS = -50.0
MIN_SILENCE_S = 0.100

_FULL_SCALE = 32768.0


def frame_level_dbfs(frame: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (-120 for digital silence or an empty frame)."""
    if frame.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2)))
    return 20.0 * np.log10(max(rms, _FULL_SCALE * 1e-6) / _FULL_SCALE)


def speech_runs(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    threshold_dbfs: float = SPEECH_THRESHOLD_DBFS,
    min_silence_s: float = MIN_SILENCE_S,
) -> list[tuple[float, float]]:
    """(start_s, end_s) of each stretch of voiced 10 ms frames; shorter gaps are bridged."""
    frame = int(sample_rate * FRAME_S)
    runs: list[tuple[float, float]] = []
    for i in range(len(samples) // frame):
        if frame_level_dbfs(samples[i * frame : (i + 1) * frame]) < threshold_dbfs:
            continue
        start, end = i * FRAME_S, (i + 1) * FRAME_S
        if runs and start - runs[-1][1] < min_silence_s - 1e-9:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return [(round(a, 3), round(b, 3)) for a, b in runs]


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """int16 mono at ``to_rate`` (livekit's native resampler; it dithers, so not bit-exact)."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.int16, copy=False)
    resampler = rtc.AudioResampler(
        from_rate, to_rate, num_channels=1, quality=rtc.AudioResamplerQuality.HIGH
    )
    pcm = samples.astype(np.int16, copy=False).tobytes()
    frames = resampler.push(rtc.AudioFrame(pcm, from_rate, 1, len(samples)))
    frames += resampler.flush()
    if not frames:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.astype("<i2").tobytes())


def read_wav(path: Path, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any PCM WAV (8/16/24/32-bit int, any channels and rate) as int16 mono at ``sample_rate``.

    Other encodings (float, A-law...) go through sox when it is installed.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as e:
        if shutil.which("sox") is None:
            raise ValueError(
                f"{path}: not a PCM WAV file ({e or 'truncated'}); convert it to 16-bit PCM "
                "(e.g. `sox in.wav -b 16 out.wav`) or install sox"
            ) from None
        return _read_with_sox(path, sample_rate)
    if not (1000 <= rate <= 384000 and 1 <= channels <= 32):
        raise ValueError(f"{path}: unsupported WAV format ({rate} Hz, {channels} channels)")
    raw = raw[: len(raw) - len(raw) % (width * channels)]
    if width == 2 and channels == 1:
        mono = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    else:
        mixed = _to_float(raw, width).reshape(-1, channels).mean(axis=1)
        mono = np.clip(np.round(mixed * 32768), -32768, 32767).astype(np.int16)
    return resample(mono, rate, sample_rate)


def _to_float(raw: bytes, width: int) -> np.ndarray:
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) / 128
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
        return ints / float(1 << 23)
    dtype = {2: "<i2", 4: "<i4"}.get(width)
    if dtype is None:
        raise ValueError(f"unsupported WAV sample width {width} bytes (1-4 allowed)")
    return np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 1))


def _read_with_sox(path: Path, sample_rate: int) -> np.ndarray:
    cmd = ["sox", "-D", str(path), "-t", "raw", "-r", str(sample_rate), "-c", "1", "-b", "16",
           "-e", "signed-integer", "-"]
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip()
        raise ValueError(f"{path}: not audio that sox can read ({reason})")
    pcm = done.stdout[: len(done.stdout) // 2 * 2]
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)
