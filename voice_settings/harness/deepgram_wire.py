"""Data shapes of the Deepgram stand-in: one connection, one scripted utterance, and
the handshake checks Deepgram applies to the query string.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["DeepgramConnection", "Utterance", "validate_params"]


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
    opened_at: float = field(default_factory=time.monotonic)
    closed: bool = False
    close_code: int | None = None
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


def validate_params(params: dict[str, str]) -> str | None:
    """Return Deepgram's refusal text for parameters it rejects, or None when accepted."""
    ue = params.get("utterance_end_ms")
    if ue is not None:
        if not ue.isdigit() or int(ue) < 1000:
            return "utterance_end_ms must be an integer >= 1000"
        if params.get("interim_results", "false") != "true":
            return "utterance_end_ms requires interim_results=true"
    ep = params.get("endpointing")
    if ep is not None and ep != "false" and not ep.isdigit():
        return "endpointing must be false or a non-negative integer (milliseconds)"
    if params.get("encoding") not in (None, "linear16", "mulaw", "alaw", "opus", "flac"):
        return f"unsupported encoding {params.get('encoding')!r}"
    return None
