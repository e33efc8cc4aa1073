"""A loopback stand-in for the parts of the OpenAI API the LiveKit OpenAI plugins use.

Point ``livekit.plugins.openai.LLM(base_url=...)`` and
``openai.TTS(base_url=..., response_format="pcm")`` (or ``OPENAI_BASE_URL``) at
``standin.base_url``. Served routes:

* ``GET /v1/models`` -- the plugin's prewarm request.
* ``POST /v1/chat/completions`` with ``stream: true`` -- answered as Server-Sent
  Events: ``chat.completion.chunk`` content deltas (or tool-call deltas when
  scripted), a chunk with a ``finish_reason``, a usage chunk with ``choices: []``,
  then ``data: [DONE]``.
* ``POST /v1/audio/speech`` -- 24 kHz s16 mono PCM, a quiet tone whose length is
  proportional to the input text (``ms_per_char``, capped by ``max_audio_s``); as
  raw bytes, or as ``speech.audio.delta`` SSE events when the client asks for
  ``stream_format: "sse"`` (the plugin does for ``gpt-4o-mini-tts``).

Every request is recorded (:class:`ChatRequest`, :class:`SpeechRequest`, and all of
them in ``.requests``), with its arrival time (``received_at``, ``time.monotonic()``) and
conveniences such as ``ChatRequest.system`` (the system
message text the agent sent) and ``ChatRequest.user_texts``.

Replies are scripted with :meth:`OpenAIStandIn.script_reply` and
:meth:`OpenAIStandIn.script_tool_call` (consumed one per chat request, in order);
with nothing scripted, ``default_reply(request)`` answers (by default
``"You said: <last user text>"``). Failures are scripted the same way:
:meth:`~OpenAIStandIn.script_error` (an HTTP status), :meth:`~OpenAIStandIn.script_hang` (no
answer), :meth:`~OpenAIStandIn.script_broken_stream` (a stream that breaks off), and for
speech requests :meth:`~OpenAIStandIn.script_speech_error`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ._util import DEFAULT_TIMEOUT, LoopbackServer, Notifier
from .openai_wire import (
    TTS_SAMPLE_RATE,
    ChatRequest,
    Failure,
    RecordedRequest,
    Reply,
    SpeechRequest,
    ToolCall,
    completion,
    request_id_header,
    stream_chunks,
)

__all__ = ["ChatRequest", "OpenAIStandIn", "RecordedRequest", "SpeechRequest", "ToolCall"]


class OpenAIStandIn:
    """OpenAI-shaped HTTP server on 127.0.0.1; use as ``async with OpenAIStandIn()``."""

    def __init__(
        self,
        *,
        default_reply: Callable[[ChatRequest], str] | None = None,
        ms_per_char: float = 3.0,
        max_audio_s: float = 1.0,
        llm_latency_s: float = 0.0,
        tts_latency_s: float = 0.0,
    ) -> None:
        self.default_reply = default_reply or (
            lambda req: f"You said: {req.last_user_text}" if req.last_user_text else "Hello!"
        )
        self.ms_per_char = ms_per_char
        self.max_audio_s = max_audio_s
        self.llm_latency_s = llm_latency_s
        """Seconds before the first streamed token (a model's time to first token)."""
        self.tts_latency_s = tts_latency_s
        """Seconds before the first audio byte (a speech model's time to first byte)."""
        self.requests: list[RecordedRequest] = []
        self.chat_requests: list[ChatRequest] = []
        self.speech_requests: list[SpeechRequest] = []
        self._script: list[Reply | Failure] = []
        self._speech_script: list[Failure] = []
        self._changed = Notifier()
        app = web.Application()
        app.router.add_get("/v1/", self._root)  # openai.TTS.prewarm() warms a connection here
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/speech", self._speech)
        self._server = LoopbackServer(app)

    async def start(self) -> OpenAIStandIn:
        await self._server.start()
        return self

    async def aclose(self) -> None:
        await self._server.aclose()

    async def __aenter__(self) -> OpenAIStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def base_url(self) -> str:
        """Value for ``OPENAI_BASE_URL`` / the plugins' ``base_url`` (ends in ``/v1``)."""
        return f"{self._server.origin}/v1"

    # -- scripting -----------------------------------------------------------------

    def script_reply(self, text: str) -> None:
        """The next unscripted chat request is answered with ``text``."""
        self._script.append(text)

    def script_tool_call(self, name: str, arguments: dict | None = None, **kw: Any) -> ToolCall:
        """The next chat request is answered with a call to tool ``name``."""
        call = ToolCall(name=name, arguments=arguments or {}, **kw)
        self._script.append([call])
        return call

    def script_error(self, status: int = 500, message: str = "scripted failure") -> None:
        """The next chat request fails with HTTP ``status``."""
        self._script.append(Failure(status, message))

    def script_hang(self, seconds: float = 3600.0) -> None:
        """The next chat request is accepted and not answered for ``seconds`` (a model that
        hangs: the client's timeout decides)."""
        self._script.append(Failure(hang_s=seconds))

    def script_broken_stream(self, text: str = "") -> None:
        """The next chat request is answered 200 and streams ``text``, then a line that is not
        JSON, and ends without ``[DONE]`` (a proxy or provider that breaks off mid-stream)."""
        self._script.append(Failure(broken_after=text))

    def script_speech_error(self, status: int = 500, message: str = "scripted failure") -> None:
        """The next speech request fails with HTTP ``status``."""
        self._speech_script.append(Failure(status, message))

    # -- observation -----------------------------------------------------------------

    async def wait_for_chat_request(
        self, count: int = 1, *, timeout: float = DEFAULT_TIMEOUT
    ) -> ChatRequest:
        """Wait until ``count`` chat requests have arrived; return the ``count``-th."""
        return await self._changed.wait_for(
            lambda: self.chat_requests[count - 1] if len(self.chat_requests) >= count else None,
            timeout=timeout,
            what=f"chat request #{count}",
        )

    async def wait_for_speech_request(
        self,
        predicate: Callable[[SpeechRequest], bool] = lambda r: True,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> SpeechRequest:
        """Wait for a finished TTS request matching ``predicate``."""
        return await self._changed.wait_for(
            lambda: next((r for r in self.speech_requests if r.audio_bytes and predicate(r)), None),
            timeout=timeout,
            what="speech request",
        )

    # -- handlers ------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        received_at = time.monotonic()
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            body=body,
            authorization_present=bool(request.headers.get("Authorization")),
            received_at=received_at,
        )
        self.requests.append(recorded)
        return recorded

    async def _root(self, request: web.Request) -> web.Response:
        await self._record(request)
        # what api.openai.com answers for this path
        return web.json_response(
            {
                "error": {
                    "message": "Invalid URL (GET /v1/)",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
            status=404,
            headers=request_id_header(),
        )

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        self._changed.notify()
        models = ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4o-mini-tts", "tts-1"]
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "standin"}
                    for m in models
                ],
            },
            headers=request_id_header(),
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        body = recorded.body or {}
        req = ChatRequest(body=body, received_at=recorded.received_at)
        self.chat_requests.append(req)
        self._changed.notify()
        reply: Reply | Failure = self._script.pop(0) if self._script else self.default_reply(req)
        if isinstance(reply, Failure):
            return await self._fail(request, req, reply)
        if not body.get("stream"):
            return web.json_response(completion(req, reply), headers=request_id_header())

        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **request_id_header()}
        )
        await resp.prepare(request)
        await asyncio.sleep(self.llm_latency_s)
        for chunk in stream_chunks(req, reply):
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _fail(self, request: web.Request, req: ChatRequest,
                    failure: Failure) -> web.StreamResponse:
        if failure.hang_s is not None:
            await asyncio.sleep(failure.hang_s)  # cancelled when the stand-in closes
        if failure.broken_after is None:
            return web.json_response(
                {"error": {"message": failure.message, "type": "server_error", "code": None}},
                status=failure.status, headers=request_id_header())
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **request_id_header()})
        await resp.prepare(request)
        if failure.broken_after:
            for chunk in stream_chunks(req, failure.broken_after)[:-2]:  # no finish, no usage
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: {\"choices\": [{\"delta\": \n\n")
        await resp.write_eof()
        return resp

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        body = recorded.body or {}
        rec = SpeechRequest(body=body, received_at=recorded.received_at)
        self.speech_requests.append(rec)
        if self._speech_script:
            self._changed.notify()
            failure = self._speech_script.pop(0)
            return web.json_response(
                {"error": {"message": failure.message, "type": "server_error", "code": None}},
                status=failure.status, headers=request_id_header())
        pcm = self._tone(len(rec.input))
        sse = body.get("stream_format") == "sse"
        ctype = "text/event-stream" if sse else "audio/pcm"
        resp = web.StreamResponse(headers={"Content-Type": ctype, **request_id_header()})
        await resp.prepare(request)
        await asyncio.sleep(self.tts_latency_s)
        step = TTS_SAMPLE_RATE * 2 // 10  # 100 ms per chunk
        for i in range(0, len(pcm), step):
            part = pcm[i : i + step]
            if sse:
                event = {"type": "speech.audio.delta", "audio": base64.b64encode(part).decode()}
                await resp.write(f"data: {json.dumps(event)}\n\n".encode())
            else:
                await resp.write(part)
        if sse:
            done = {
                "type": "speech.audio.done",
                "usage": {"input_tokens": len(rec.input.split()), "output_tokens": 1},
            }
            await resp.write(f"data: {json.dumps(done)}\n\n".encode())
        await resp.write_eof()
        rec.audio_bytes = len(pcm)
        self._changed.notify()
        return resp

    def _tone(self, nchars: int) -> bytes:
        seconds = min(max(nchars, 1) * self.ms_per_char / 1000, self.max_audio_s)
        n = max(int(seconds * TTS_SAMPLE_RATE), 480)
        amp = 1000  # quiet 440 Hz tone
        samples = (int(amp * math.sin(2 * math.pi * 440 * i / TTS_SAMPLE_RATE)) for i in range(n))
        return b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
