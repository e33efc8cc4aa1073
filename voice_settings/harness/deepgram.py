"""A loopback stand-in for Deepgram's live transcription websocket (``/v1/listen``).

``livekit.plugins.deepgram.STT(base_url=standin.url)`` connects to it exactly as it
would to Deepgram: a websocket whose query string carries the options
(``endpointing``, ``utterance_end_ms``, ``model``, ``language``...), an
``Authorization: Token ...`` header, binary linear16 audio frames and the text
control messages ``KeepAlive`` / ``Finalize`` / ``CloseStream``.

Every connection is recorded as a :class:`DeepgramConnection`. Transcripts are
scripted: :meth:`DeepgramStandIn.queue_utterance` (or ``await standin.say(...)``)
queues what the "user" says, and the stand-in answers on the newest open
connection the way Deepgram does: ``SpeechStarted``, an interim ``Results``, a
final ``Results`` (``is_final`` and ``speech_final`` true) and, when the client
asked for ``utterance_end_ms``, ``UtteranceEnd``.

Delivery is gated on audio: an utterance goes out once the connection has received
``audio_gate_bytes`` of audio after it was queued (default 100 ms at 16 kHz), the
way a real transcript only follows the audio it transcribes. Pass
``audio_gate_bytes=0`` to deliver as soon as a connection is open.

Parameters Deepgram refuses are refused at the handshake with HTTP 400 and a
``dg-error`` header (e.g. ``utterance_end_ms`` below 1000), so a test can check
that a misconfiguration surfaces; ``refuse_with="..."`` refuses every handshake that way
(a Deepgram that will not serve this agent at all). The API key is never stored: only whether an
``Authorization`` header was present.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web

from ._util import DEFAULT_TIMEOUT, LoopbackServer, Notifier
from .deepgram_wire import DeepgramConnection, Utterance, validate_params

__all__ = ["DeepgramConnection", "DeepgramStandIn", "Utterance"]


class DeepgramStandIn:
    """Deepgram ``/v1/listen`` websocket on 127.0.0.1; use as ``async with DeepgramStandIn()``."""

    def __init__(self, *, audio_gate_bytes: int = 3200, reject_invalid: bool = True,
                 refuse_with: str | None = None) -> None:
        self.audio_gate_bytes = audio_gate_bytes
        self.reject_invalid = reject_invalid
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

    @property
    def open_connections(self) -> list[DeepgramConnection]:
        return [c for c in self.connections if c.is_open]

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

    # -- scripting -----------------------------------------------------------------

    def queue_utterance(
        self, text: str, *, confidence: float = 0.98, interim: bool = True
    ) -> Utterance:
        """Queue a user utterance; it is delivered on the newest open connection."""
        utt = Utterance(text=text, confidence=confidence, interim=interim)
        utt.delivered = asyncio.get_running_loop().create_future()
        self.pending.append(utt)
        utt._queued_on = conn = self._target()
        utt._queued_bytes = conn.audio_bytes if conn else 0
        self._pump()
        return utt

    async def say(
        self, text: str, *, confidence: float = 0.98, timeout: float = DEFAULT_TIMEOUT
    ) -> DeepgramConnection:
        """Queue ``text`` and wait until its final transcript has been sent."""
        utt = self.queue_utterance(text, confidence=confidence)
        assert utt.delivered is not None
        try:
            return await asyncio.wait_for(asyncio.shield(utt.delivered), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"utterance {text!r} not delivered within {timeout}s "
                f"(open connections: {len(self.open_connections)})"
            ) from None

    def _target(self) -> DeepgramConnection | None:
        open_conns = self.open_connections
        return open_conns[-1] if open_conns else None

    def _pump(self) -> None:
        """Send every pending utterance whose connection and audio gate are ready."""
        while self.pending:
            conn = self._target()
            utt = self.pending[0]
            if conn is None:
                return
            # audio must have arrived after the utterance was queued (on a newer
            # connection, counted from its start)
            base = utt._queued_bytes if conn is utt._queued_on else 0
            if conn.audio_bytes < base + self.audio_gate_bytes:
                return
            self.pending.pop(0)
            self._send_utterance(conn, utt)

    def _send_utterance(self, conn: DeepgramConnection, utt: Utterance) -> None:
        words_text = utt.text.split()
        end = max(conn.audio_seconds, 0.3 * len(words_text))
        start = max(end - 0.3 * len(words_text), 0.0)
        words = [
            {
                "word": w.strip(".,!?;:").lower(),
                "punctuated_word": w,
                "start": round(start + 0.3 * i, 3),
                "end": round(start + 0.3 * (i + 1), 3),
                "confidence": utt.confidence,
            }
            for i, w in enumerate(words_text)
        ]
        self._send(conn, {"type": "SpeechStarted", "channel": [0], "timestamp": round(start, 3)})
        if utt.interim and conn.params.get("interim_results") == "true":
            self._send(conn, self._results(conn, utt, words, start, end, final=False))
        self._send(conn, self._results(conn, utt, words, start, end, final=True))
        if "utterance_end_ms" in conn.params:
            self._send(conn, {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": end})
        utt.delivered_on = conn
        self.delivered.append(utt)
        if utt.delivered is not None and not utt.delivered.done():
            utt.delivered.set_result(conn)

    def _results(
        self,
        conn: DeepgramConnection,
        utt: Utterance,
        words: list[dict],
        start: float,
        end: float,
        *,
        final: bool,
    ) -> dict:
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(end - start, 3),
            "start": round(start, 3),
            "is_final": final,
            "speech_final": final,
            "from_finalize": False,
            "channel": {
                "alternatives": [
                    {"transcript": utt.text, "confidence": utt.confidence, "words": words}
                ]
            },
            "metadata": {
                "request_id": conn.request_id,
                "model_info": {"name": conn.params.get("model", ""), "version": "standin"},
                "model_uuid": "00000000-0000-0000-0000-000000000000",
            },
        }

    def _send(self, conn: DeepgramConnection, msg: dict) -> None:
        assert conn._outbox is not None
        conn.sent.append(msg)
        # send_str is a coroutine: the connection's writer task sends in order
        conn._outbox.put_nowait(json.dumps(msg))

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
        if self.reject_invalid and (err := validate_params(params)):
            conn.rejected = err
            self._changed.notify()
            return web.Response(status=400, headers={**headers, "dg-error": err})

        ws = web.WebSocketResponse()
        ws.headers.update(headers)
        await ws.prepare(request)
        outbox: asyncio.Queue[str | None] = asyncio.Queue()
        conn._ws, conn._outbox = ws, outbox
        writer = asyncio.create_task(self._writer(ws, outbox))
        self._changed.notify()
        self._pump()
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    conn.audio_bytes += len(msg.data)
                    conn.audio_frames += 1
                    self._pump()
                    self._changed.notify()
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_control(conn, msg.data, outbox)
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

    def _on_control(self, conn: DeepgramConnection, data: str, outbox: asyncio.Queue) -> None:
        try:
            kind = json.loads(data).get("type", data)
        except (ValueError, AttributeError):
            kind = data
        conn.control_messages.append(str(kind))
        if kind == "CloseStream":
            meta = {
                "type": "Metadata",
                "request_id": conn.request_id,
                "duration": round(conn.audio_seconds, 3),
                "channels": conn.channels,
            }
            conn.sent.append(meta)
            outbox.put_nowait(json.dumps(meta))
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
