"""Audio the real Silero VAD hears as speech, made on the spot (no recording, no espeak-ng).

A voiced sound, the way a vocal tract makes one: the harmonics of a gliding pitch, shaped by the
formants of a vowel that changes every syllable, with a syllable-rate loudness envelope. Silero
reports speech ~60 ms after it starts and its end one `min_silence_duration` after it stops.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 48000  # what FakeRoom.play_audio takes
_VOWEL_FORMANTS_HZ = np.array([(730, 1090, 2440), (270, 2290, 3010), (570, 840, 2410),
                               (300, 870, 2240), (530, 1840, 2480)])
_FORMANT_BANDWIDTHS_HZ = (80, 100, 120)
_SYLLABLE_S = 0.22


def speech_like(seconds: float, *, pitch_hz: float = 120.0) -> bytes:
    """`seconds` of speech-like sound: 48 kHz, 16-bit signed, mono PCM."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    pitch = pitch_hz * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    formants = _VOWEL_FORMANTS_HZ[(t / _SYLLABLE_S).astype(int) % len(_VOWEL_FORMANTS_HZ)]
    sound = np.zeros_like(t)
    for k in range(1, int(4000 // pitch_hz) + 1):
        gain = sum(1 / (1 + ((k * pitch - formants[:, i]) / bandwidth) ** 2)
                   for i, bandwidth in enumerate(_FORMANT_BANDWIDTHS_HZ))
        sound += gain * np.sin(k * phase)
    sound *= np.sqrt(np.abs(np.sin(np.pi * t / _SYLLABLE_S)))
    sound *= 0.5 / np.max(np.abs(sound))
    return (sound * 32767).astype(np.int16).tobytes()
