"""A team's own recording and its transcript as a :class:`~.scenarios.Scenario`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, read_wav, speech_runs
from .scenarios import TAIL_S, Pause, Scenario, WordGroup, check_seconds

__all__ = ["from_wav"]


def from_wav(path: str | Path, text: str, *, name: str | None = None,
             tail_s: float = TAIL_S) -> Scenario:
    """A recording and its transcript as a scenario (resampled to 16 kHz mono).

    The file is kept as it is, followed by ``tail_s`` of silence. Recognition is not
    modelled, so the words are spread over the file's stretches of speech (by the energy
    measure) in proportion to their duration: each stretch becomes one word group, and
    the silences between them ``mid_utterance`` pauses.
    """
    words = text.split()
    if not words:
        raise ValueError("text: must contain at least one word")
    path = Path(path)
    samples = read_wav(path)
    runs = speech_runs(samples)
    if not runs:
        raise ValueError(f"{path}: no speech found (no 10 ms frame at or above the "
                         f"energy threshold of the speech measure)")
    runs = _merge_closest(runs, len(words))
    tail = check_seconds("tail_s", tail_s, 0.0)
    audio = np.concatenate([samples, np.zeros(round(tail * SAMPLE_RATE), dtype=np.int16)])
    groups = [WordGroup(" ".join(chunk), start, end)
              for chunk, (start, end) in zip(_share_words(words, runs), runs, strict=True)]
    pauses = [Pause(a.end_s, round(b.start_s - a.end_s, 3), "mid_utterance")
              for a, b in zip(groups, groups[1:], strict=False)]
    pauses.append(Pause(groups[-1].end_s, round(len(audio) / SAMPLE_RATE - groups[-1].end_s, 3),
                        "turn_end"))
    return Scenario(name=name or path.stem, samples=audio, words=tuple(groups),
                    pauses=tuple(pauses))


def _merge_closest(runs: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """Join the runs separated by the shortest silences until there are at most ``limit``."""
    runs = list(runs)
    while len(runs) > limit:
        i = min(range(len(runs) - 1), key=lambda k: runs[k + 1][0] - runs[k][1])
        runs[i : i + 2] = [(runs[i][0], runs[i + 1][1])]
    return runs


def _share_words(words: list[str], runs: list[tuple[float, float]]) -> list[list[str]]:
    """Split ``words`` over ``runs`` in proportion to their duration, at least one each."""
    total = sum(end - start for start, end in runs)
    chunks, used, elapsed = [], 0, 0.0
    for index, (start, end) in enumerate(runs):
        elapsed += end - start
        left = len(runs) - index - 1  # runs still to serve, one word each at least
        upto = min(max(round(len(words) * elapsed / total), used + 1), len(words) - left)
        chunks.append(words[used:upto])
        used = upto
    return chunks
