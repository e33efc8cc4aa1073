"""What the Deepgram stand-in records: the messages it sent, one connection, one scripted
utterance."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .deepgram_listen import Listener

__all__ = ["DeepgramConnection", "SentMessage", "Utterance"]


@dataclass(frozen=True)
class SentMessage:
    """One message the stand-in sent, and when: ``time.monotonic()`` and the audio clock.

    ``audio_s`` is the connection's audio time at sending: seconds of audio received (in
    listening mode, the end of the 10 ms frame that triggered the message).
    """

    message: dict
    monotonic_s: float
    audio_s: float

    @property
    def type(self) -> str:
        return self.message.get("type", "")

    @property
    def is_final(self) -> bool:
        return bool(self.message.get("is_final"))

    @property
    def speech_final(self) -> bool:
        return bool(self.message.get("speech_final"))

    @property
    def transcript(self) -> str:
        if self.type != "Results":
            return ""
        return self.message["channel"]["alternatives"][0]["transcript"]


@dataclass
class Utterance:
    """One scripted user utterance and, once delivered, where it went."""

    text: str
    confidence: float = 0.98
    interim: bool = True
    delivered_on: DeepgramConnection | None = None
    delivered: asyncio.Future[DeepgramConnection] | None = None
    # the newest open connection when queued, and the audio it had received then
    _queued_on: DeepgramConnection | None = field(default=None, repr=False)
    _queued_bytes: int = 0


@dataclass
class DeepgramConnection:
    """What one websocket client sent, and what the stand-in answered."""

    query_string: str
    params: dict[str, str]
    param_items: list[tuple[str, str]]
    authorization_present: bool
    auth_scheme: str | None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    rejected: str | None = None  # the dg-error text when refused at the handshake
    audio_bytes: int = 0
    audio_frames: int = 0
    control_messages: list[str] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    timeline: list[SentMessage] = field(default_factory=list)  # `sent`, with times
    listener: Listener | None = field(default=None, repr=False)  # listening mode only
    # listening mode: (text, duration_s) for this connection only, before the shared ones
    expected_words: deque[tuple[str, float | None]] = field(default_factory=deque, repr=False)
    opened_at: float = field(default_factory=time.monotonic)
    closed: bool = False
    close_code: int | None = None
    dropped: int | None = None  # the close code, when the stand-in dropped it (`drop()`)
    _ws: web.WebSocketResponse | None = field(default=None, repr=False)
    _outbox: asyncio.Queue[str | None] | None = field(default=None, repr=False)

    @property
    def sample_rate(self) -> int:
        return int(self.params.get("sample_rate", "16000"))

    @property
    def channels(self) -> int:
        return int(self.params.get("channels", "1"))

    @property
    def audio_seconds(self) -> float:
        return self.audio_bytes / (2 * self.sample_rate * self.channels)

    @property
    def is_open(self) -> bool:
        return self._ws is not None and not self.closed

    def count(self, control_type: str) -> int:
        """How many ``KeepAlive`` / ``Finalize`` / ``CloseStream`` messages arrived."""
        return self.control_messages.count(control_type)

    def of_type(self, message_type: str) -> list[SentMessage]:
        """Sent ``SpeechStarted`` / ``Results`` / ``UtteranceEnd`` / ``Metadata`` messages."""
        return [m for m in self.timeline if m.type == message_type]

    @property
    def finals(self) -> list[SentMessage]:
        """``Results`` with ``is_final`` true (with or without ``speech_final``)."""
        return [m for m in self.of_type("Results") if m.is_final]
