"""A remote participant's microphone: a real FFI ``AudioSource`` + ``LocalAudioTrack``.

The feed task captures 10 ms frames in real time (``capture_frame`` waits while the
source's 50 ms queue is full, so the native audio clock paces it): silence, or what
:meth:`FakeRoom.play` / :meth:`FakeRoom.play_audio` queued.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc

from .speech.audio import resample

__all__ = ["USER_SAMPLE_RATE", "Playback", "UserAudio"]

USER_SAMPLE_RATE = 48000
_FRAME_MS = 10


@dataclass
class Playback:
    """Audio queued on a microphone; ``await playback`` waits until it was all captured.

    ``started_at`` / ``ended_at`` are ``time.monotonic()`` when its first frame entered
    the source and after its last one did (the source queues at most 50 ms ahead).
    """

    pcm: bytes = field(repr=False)  # 48 kHz s16 mono
    done: asyncio.Future[None]
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / (2 * USER_SAMPLE_RATE)

    def __await__(self) -> Generator[object, None, None]:
        return self.done.__await__()


@dataclass
class UserAudio:
    """The microphone of one remote participant: a real FFI audio source and track."""

    track_sid: str
    source: rtc.AudioSource
    track: rtc.LocalAudioTrack
    queue: asyncio.Queue[Playback] = field(default_factory=asyncio.Queue)
    frames_sent: int = 0
    task: asyncio.Task[None] | None = None
    stopping: bool = False

    def enqueue(
        self, samples: np.ndarray | bytes, *, sample_rate: int = USER_SAMPLE_RATE
    ) -> Playback:
        """Queue int16 mono audio (resampled to 48 kHz) after what is already queued."""
        if isinstance(samples, bytes | bytearray | memoryview):
            samples = np.frombuffer(samples, dtype="<i2")
        pcm = resample(samples, sample_rate, USER_SAMPLE_RATE).astype("<i2").tobytes()
        playback = Playback(pcm=pcm, done=asyncio.get_running_loop().create_future())
        self.queue.put_nowait(playback)
        return playback

    async def _feed(self) -> None:
        samples = USER_SAMPLE_RATE * _FRAME_MS // 1000
        silence = np.zeros(samples, dtype=np.int16).tobytes()
        nbytes = samples * 2
        while not self.stopping:
            if self.queue.empty():
                await self._capture(silence)
                continue
            playback = self.queue.get_nowait()
            for i in range(0, len(playback.pcm), nbytes):
                chunk = playback.pcm[i : i + nbytes].ljust(nbytes, b"\0")
                await self._capture(chunk)
                if playback.started_at is None:
                    playback.started_at = time.monotonic()
            playback.ended_at = time.monotonic()
            if not playback.done.done():
                playback.done.set_result(None)

    async def _capture(self, pcm: bytes) -> None:
        n = len(pcm) // 2
        # capture_frame waits while the source's queue is full: real-time pacing
        await self.source.capture_frame(rtc.AudioFrame(pcm, USER_SAMPLE_RATE, 1, n))
        self.frames_sent += 1

    async def aclose(self) -> None:
        if self.task is not None:
            # Let the frame in flight finish: a capture cancelled mid-call leaves a native
            # callback that fires after the FFI server is gone and logs an error at exit.
            self.stopping = True
            try:
                await asyncio.wait_for(asyncio.shield(self.task), 1.0)
            except (TimeoutError, asyncio.CancelledError):
                self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        while not self.queue.empty():
            self.queue.get_nowait().done.cancel()
        await self.source.aclose()
