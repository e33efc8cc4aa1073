"""A remote participant's microphone: a real FFI ``AudioSource`` + ``LocalAudioTrack``.

The feed task captures 10 ms frames in real time (``capture_frame`` waits while the
source's queue is full): silence, or PCM queued with :meth:`FakeRoom.play_audio`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc

__all__ = ["USER_SAMPLE_RATE", "UserAudio"]

USER_SAMPLE_RATE = 48000
_FRAME_MS = 10


@dataclass
class UserAudio:
    """The microphone of one remote participant: a real FFI audio source and track."""

    track_sid: str
    source: rtc.AudioSource
    track: rtc.LocalAudioTrack
    queue: asyncio.Queue[tuple[bytes, asyncio.Future[None]]] = field(default_factory=asyncio.Queue)
    frames_sent: int = 0
    task: asyncio.Task[None] | None = None
    stopping: bool = False

    async def _feed(self) -> None:
        samples = USER_SAMPLE_RATE * _FRAME_MS // 1000
        silence = np.zeros(samples, dtype=np.int16).tobytes()
        nbytes = samples * 2
        while not self.stopping:
            if self.queue.empty():
                await self._capture(silence)
                continue
            pcm, done = self.queue.get_nowait()
            for i in range(0, len(pcm), nbytes):
                chunk = pcm[i : i + nbytes].ljust(nbytes, b"\0")
                await self._capture(chunk)
            if not done.done():
                done.set_result(None)

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
            _, done = self.queue.get_nowait()
            done.cancel()
        await self.source.aclose()
