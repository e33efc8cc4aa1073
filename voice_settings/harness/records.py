"""What the agent's :class:`RecordingLocalParticipant` records instead of sending."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc

__all__ = ["AudioRecording", "RecordedStream", "SentData"]


@dataclass
class SentData:
    """One ``publish_data`` / ``send_text`` / ``send_bytes`` call."""

    kind: str
    payload: bytes | str
    topic: str = ""
    destination_identities: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedStream:
    """A text or byte stream opened with ``stream_text`` / ``stream_bytes``."""

    topic: str
    attributes: dict[str, str]
    info: rtc.TextStreamInfo | rtc.ByteStreamInfo
    sender_identity: str | None = None
    chunks: list[Any] = field(default_factory=list)
    closed: bool = False
    close_attributes: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(c for c in self.chunks if isinstance(c, str))

    async def write(self, data: str | bytes) -> None:
        if self.closed:
            raise RuntimeError("Cannot write after stream is closed")
        self.chunks.append(data)

    async def aclose(self, *, reason: str = "", attributes: dict[str, str] | None = None) -> None:
        self.closed = True
        self.close_attributes = dict(attributes or {})


ONSET_SILENCE_S = 0.3


@dataclass
class AudioRecording:
    """Audio the agent played on one of its published tracks."""

    track_name: str
    sample_rate: int = 24000
    frames: int = 0
    samples: int = 0
    pcm: bytearray = field(default_factory=bytearray)
    onsets: list[float] = field(default_factory=list)
    """``time.monotonic()`` of each frame that starts a stretch of voiced audio (after at least
    ``ONSET_SILENCE_S`` of silence): when the agent started to be heard."""
    frame_log: list[tuple[float, int, bool]] = field(default_factory=list)
    """Per frame: ``time.monotonic()`` it was read, the index of its first sample in ``pcm``,
    whether it was voiced (to place the agent's audio on a session's timeline)."""
    _silent_s: float = field(default=float("inf"), repr=False)

    def add(self, pcm: bytes, samples: int, at: float) -> None:
        """One frame read from the track at monotonic time ``at``."""
        voiced = bool(np.any(np.abs(np.frombuffer(pcm, dtype=np.int16).astype(np.int32)) > 64))
        self.frame_log.append((at, self.samples, voiced))
        self.frames += 1
        self.samples += samples
        self.pcm.extend(pcm)
        if voiced and self._silent_s >= ONSET_SILENCE_S:
            self.onsets.append(at)
        self._silent_s = 0.0 if voiced else self._silent_s + samples / self.sample_rate

    def stretches(self) -> list[tuple[float, float]]:
        """(start, end) monotonic times of each stretch of voiced audio; silences shorter than
        ``ONSET_SILENCE_S`` are bridged (the same stretches the onsets start)."""
        found: list[tuple[float, float]] = []
        ends = [offset for _, offset, _ in self.frame_log[1:]] + [self.samples]
        for (at, offset, voiced), end in zip(self.frame_log, ends, strict=True):
            if not voiced:
                continue
            until = at + (end - offset) / self.sample_rate
            if found and at - found[-1][1] < ONSET_SILENCE_S:
                found[-1] = (found[-1][0], until)
            else:
                found.append((at, until))
        return found

    @property
    def duration(self) -> float:
        """Seconds read from the track, including the silence a source plays when idle."""
        return self.samples / self.sample_rate

    @property
    def voiced_seconds(self) -> float:
        """Seconds of non-silent audio (what TTS actually produced)."""
        samples = np.frombuffer(bytes(self.pcm), dtype=np.int16)
        return int(np.count_nonzero(np.abs(samples.astype(np.int32)) > 64)) / self.sample_rate
