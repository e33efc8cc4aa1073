"""A loopback stand-in for Deepgram's live transcription websocket (``/v1/listen``).

``livekit.plugins.deepgram.STT(base_url=standin.url)`` connects to it exactly as it
would to Deepgram: a websocket whose query string carries the options
(``endpointing``, ``utterance_end_ms``, ``model``, ``language``...), an
``Authorization: Token ...`` header, binary linear16 audio frames and the text
control messages ``KeepAlive`` / ``Finalize`` / ``CloseStream``.

Every connection is recorded as a :class:`DeepgramConnection`, including each message
sent with its monotonic and audio time (``conn.timeline``).

Listening mode (``DeepgramStandIn(listen=True)``): transcripts follow the audio the
connection receives, the way Deepgram documents endpointing (``deepgram_listen.py``):
speech is detected by its energy, and ``SpeechStarted``, interim and final ``Results``
and ``UtteranceEnd`` come when the audio says so. The words are not recognised: each
stretch of speech takes the next word group given to :meth:`DeepgramStandIn.expect_words`.

Scripted mode (always on, ``deepgram_script.py``): ``queue_utterance(text)`` or
``await standin.say(text)`` sends a whole utterance on the newest open connection once
``audio_gate_bytes`` of audio (default 100 ms at 16 kHz) arrived after it was queued, the
way a real transcript only follows the audio it transcribes (``audio_gate_bytes=0``
delivers as soon as a connection is open).

Parameters Deepgram refuses are refused at the handshake with HTTP 400 and a
``dg-error`` header (e.g. ``utterance_end_ms`` below 1000), so a test can check
that a misconfiguration surfaces; ``refuse_with="..."`` refuses every handshake that way
(a Deepgram that will not serve this agent at all). ``await standin.drop()`` closes the newest
open connection from the server side mid-stream (a Deepgram that drops the call). The API key
is never stored: only whether an ``Authorization`` header was present.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterable

import aiohttp
from aiohttp import web

from ._util import DEFAULT_TIMEOUT, LoopbackServer, Notifier
from .deepgram_listen import HeardGroup, Listener, ListenOptions
from .deepgram_records import DeepgramConnection, SentMessage, Utterance
from .deepgram_script import ScriptedTranscripts
from .deepgram_wire import validate_params
from .speech.audio import SPEECH_THRESHOLD_DBFS
from .speech.scenarios import WordGroup

__all__ = ["DeepgramConnection", "DeepgramStandIn", "HeardGroup", "SentMessage", "Utterance"]

ExpectedWords = tuple[str, float | None]  # (text, expected speech duration in seconds)


class DeepgramStandIn(ScriptedTranscripts):
    """Deepgram ``/v1/listen`` websocket on 127.0.0.1; use as ``async with DeepgramStandIn()``."""

    def __init__(
        self,
        *,
        audio_gate_bytes: int = 3200,
        reject_invalid: bool = True,
        listen: bool = False,
        speech_threshold_dbfs: float = SPEECH_THRESHOLD_DBFS,
        refuse_with: str | None = None,
    ) -> None:
        self.audio_gate_bytes = audio_gate_bytes
        self.reject_invalid = reject_invalid
        self.listen = listen
        self.speech_threshold_dbfs = speech_threshold_dbfs
        self.expected: deque[ExpectedWords] = deque()  # listening mode: words not heard yet
        self.refuse_with = refuse_with
        """When set, every handshake is refused with HTTP 400 and this ``dg-error``."""
        self.connections: list[DeepgramConnection] = []
        self.pending: list[Utterance] = []
        self.delivered: list[Utterance] = []
        self._changed = Notifier()
        app = web.Application()
        app.router.add_get("/v1/listen", self._handle)
        self._server = LoopbackServer(app)

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> DeepgramStandIn:
        await self._server.start()
        return self

    async def aclose(self) -> None:
        for conn in self.connections:
            if conn._ws is not None and not conn._ws.closed:
                await conn._ws.close()
        for utt in self.pending:
            if utt.delivered is not None and not utt.delivered.done():
                utt.delivered.cancel()
        await self._server.aclose()

    async def __aenter__(self) -> DeepgramStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def url(self) -> str:
        """Value for ``deepgram.STT(base_url=...)`` / ``DEEPGRAM_BASE_URL``."""
        return f"{self._server.origin}/v1/listen"

    # -- observation -----------------------------------------------------------------

    async def wait_for_connection(
        self, *, index: int = 0, timeout: float = DEFAULT_TIMEOUT
    ) -> DeepgramConnection:
        """Wait until the ``index``-th accepted connection (0 = first) has opened."""

        def _get() -> DeepgramConnection | None:
            accepted = [c for c in self.connections if c.rejected is None]
            return accepted[index] if len(accepted) > index else None

        return await self._changed.wait_for(_get, timeout=timeout, what=f"connection #{index}")

    async def wait_for_audio(
        self, nbytes: int, *, timeout: float = DEFAULT_TIMEOUT
    ) -> DeepgramConnection:
        """Wait until some connection has received at least ``nbytes`` of audio."""

        def _get() -> DeepgramConnection | None:
            return next((c for c in self.connections if c.audio_bytes >= nbytes), None)

        return await self._changed.wait_for(_get, timeout=timeout, what=f"{nbytes} audio bytes")

    async def wait_for_message(
        self, predicate: Callable[[SentMessage], bool], *, since: float = float("-inf"),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> SentMessage:
        """The first message sent on any connection at or after ``since`` (monotonic
        seconds) that satisfies ``predicate``, e.g. ``lambda m: m.speech_final``."""

        def _get() -> SentMessage | None:
            for conn in self.connections:
                for message in conn.timeline:
                    if message.monotonic_s >= since and predicate(message):
                        return message
            return None

        return await self._changed.wait_for(_get, timeout=timeout, what="a matching message")

    # -- faults --------------------------------------------------------------------

    async def drop(self, *, code: int = 1011, reason: str = "internal error") -> DeepgramConnection:
        """Close the newest open connection from the server side, mid-stream, with websocket
        close ``code`` (Deepgram closes with 1011 after an internal error, 1008 on audio it
        cannot decode). Returns it; its ``dropped`` is the code."""
        conn = next((c for c in reversed(self.connections) if c.is_open), None)
        if conn is None or conn._ws is None:
            raise RuntimeError("no open connection to drop")
        conn.dropped = code
        await conn._ws.close(code=code, message=reason.encode())
        return conn

    # -- listening -----------------------------------------------------------------

    def expect_words(
        self,
        groups: Iterable[str | WordGroup],
        *,
        connection: DeepgramConnection | None = None,
    ) -> None:
        """Listening mode: the words of the next stretches of speech, one group each.

        Shared by all connections (a reconnect continues the script), or only for
        ``connection``, which then uses its own before the shared ones.
        """
        queue = self.expected if connection is None else connection.expected_words
        for group in groups:
            if isinstance(group, WordGroup):
                queue.append((group.text, group.duration_s))
            else:
                queue.append((str(group), None))

    def _next_words(self, conn: DeepgramConnection) -> ExpectedWords | None:
        for queue in (conn.expected_words, self.expected):
            if queue:
                return queue.popleft()
        return None

    def _send(self, conn: DeepgramConnection, msg: dict, audio_s: float | None = None) -> None:
        assert conn._outbox is not None
        conn.sent.append(msg)
        seconds = conn.audio_seconds if audio_s is None else audio_s
        conn.timeline.append(SentMessage(msg, time.monotonic(), seconds))
        # send_str is a coroutine: the connection's writer task sends in order
        conn._outbox.put_nowait(json.dumps(msg))
        self._changed.notify()

    # -- websocket handler ---------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization")
        params = {k: v for k, v in request.query.items()}
        conn = DeepgramConnection(
            query_string=request.query_string,
            params=params,
            param_items=list(request.query.items()),
            authorization_present=bool(auth),
            auth_scheme=auth.split(" ", 1)[0] if auth else None,
        )
        self.connections.append(conn)
        headers = {"dg-request-id": conn.request_id}
        if not auth:
            conn.rejected = "missing Authorization header"
            self._changed.notify()
            return web.Response(status=401, headers={**headers, "dg-error": conn.rejected})
        if self.refuse_with is not None:
            conn.rejected = self.refuse_with
            self._changed.notify()
            return web.Response(status=400, headers={**headers, "dg-error": conn.rejected})
        err = validate_params(params)
        if err and (self.reject_invalid or self.listen):  # listening needs valid options
            conn.rejected = err
            self._changed.notify()
            return web.Response(status=400, headers={**headers, "dg-error": err})

        ws = web.WebSocketResponse()
        ws.headers.update(headers)
        await ws.prepare(request)
        outbox: asyncio.Queue[str | None] = asyncio.Queue()
        conn._ws, conn._outbox = ws, outbox
        if self.listen:
            conn.listener = Listener(
                ListenOptions.from_params(params), next_words=lambda: self._next_words(conn),
                request_id=conn.request_id, model=params.get("model", ""),
                threshold_dbfs=self.speech_threshold_dbfs,
            )
        writer = asyncio.create_task(self._writer(ws, outbox))
        self._changed.notify()
        self._pump()
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    conn.audio_bytes += len(msg.data)
                    conn.audio_frames += 1
                    if conn.listener is not None:
                        for message, audio_s in conn.listener.feed(msg.data):
                            self._send(conn, message, audio_s)
                    self._pump()
                    self._changed.notify()
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_control(conn, msg.data)
                    if conn.control_messages and conn.control_messages[-1] == "CloseStream":
                        break
        finally:
            conn.closed = True
            outbox.put_nowait(None)
            await writer
            if not ws.closed:
                await ws.close()
            conn.close_code = ws.close_code
            self._changed.notify()
            self._pump()
        return ws

    def _on_control(self, conn: DeepgramConnection, data: str) -> None:
        try:
            kind = json.loads(data).get("type", data)
        except (ValueError, AttributeError):
            kind = data
        conn.control_messages.append(str(kind))
        if kind == "Finalize" and conn.listener is not None:
            for message, audio_s in conn.listener.finalize():
                self._send(conn, message, audio_s)
        if kind == "CloseStream":
            for message, audio_s in conn.listener.close() if conn.listener else []:
                self._send(conn, message, audio_s)
            meta = {
                "type": "Metadata",
                "request_id": conn.request_id,
                "duration": round(conn.audio_seconds, 3),
                "channels": conn.channels,
            }
            self._send(conn, meta)
        self._changed.notify()

    @staticmethod
    async def _writer(ws: web.WebSocketResponse, outbox: asyncio.Queue[str | None]) -> None:
        while (item := await outbox.get()) is not None:
            if ws.closed:
                return
            try:
                await ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return
