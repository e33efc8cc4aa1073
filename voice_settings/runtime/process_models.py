"""What a job process builds once, in the setup function, before any caller joins.

A worker runs each job in a process of its own, prewarmed by the setup function and used for
that one job; whatever the entrypoint builds for the first time is paid on every call, between
the caller joining and the session starting. None of what is here carries a caller's
settings, so "validate, then build" still holds when it is built ahead: the Silero VAD, the
end-of-turn model, and one OpenAI client that the LLM and the TTS share (each plugin would
otherwise build an HTTP client with its own SSL context, 50-100 ms apiece, and they now share
one connection pool). The Deepgram STT, the turn handling and the session are built from the
caller's settings, after validation.

The OpenAI client reads `OPENAI_API_KEY` and `OPENAI_BASE_URL` when it is built. The plugins do
not close a client they were given: `aclose()` does, at the end of the process's one job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import httpx2
import openai
from livekit.agents import JobContext, utils
from livekit.plugins import silero

from .turn_detector import ProcessTurnDetector

logger = logging.getLogger(__name__)


@dataclass
class ProcessModels:
    vad: silero.VAD
    turn_detector: ProcessTurnDetector
    openai_client: openai.AsyncClient | None
    """Given to `openai.LLM` and `openai.TTS`; None when it could not be built (no API key):
    the plugins then build their own and the job fails with the plugin's own error, as before."""
    _connecting: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    @classmethod
    def load(cls) -> ProcessModels:
        models = cls(vad=silero.VAD.load(), turn_detector=ProcessTurnDetector(),
                     openai_client=shared_openai_client())
        client = models.openai_client
        logger.info("process models ready", extra={
            "turn_detector": models.turn_detector.name,
            "openai_base_url": str(client.base_url) if client is not None else None})
        return models

    def openai_options(self) -> dict[str, openai.AsyncClient]:
        """Keyword arguments that hand the shared client to `openai.LLM` / `openai.TTS`."""
        return {"client": self.openai_client} if self.openai_client is not None else {}

    def serve(self, ctx: JobContext) -> None:
        """The process's one job: connect while the caller is on the way, close when it ends."""
        ctx.add_shutdown_callback(self.aclose)
        self.connect_openai()

    def connect_openai(self) -> None:
        """Open the client's connection in the background while the caller is on the way.

        The first request of a process pays DNS, TCP and TLS, and the SDK's one-time setup
        (building its response models). The LLM plugin sends the same token-free request (the
        model list) when the session is built, after the caller joined; sent now, it leaves a
        keep-alive connection that the LLM's and the TTS's first requests reuse. Its failure
        is left to those requests to report.
        """
        if self.openai_client is not None and self._connecting is None:
            self._connecting = asyncio.create_task(self._list_models(self.openai_client),
                                                   name="openai-connect")

    async def aclose(self) -> None:
        """Close the shared OpenAI client; call once the job's session is closed."""
        if self._connecting is not None:
            await utils.aio.cancel_and_wait(self._connecting)
        if self.openai_client is not None:
            await self.openai_client.close()

    @staticmethod
    async def _list_models(client: openai.AsyncClient) -> None:
        with contextlib.suppress(Exception):
            await client.models.list()


def shared_openai_client() -> openai.AsyncClient | None:
    """The client `livekit-plugins-openai` 1.8.9 builds for itself, built once.

    Same settings as the plugins' own: no retries (the framework retries), 15 s to connect,
    5 s per read/write, keep-alive connections for 120 s.
    """
    try:
        client = openai.AsyncClient(
            max_retries=0,
            http_client=httpx2.AsyncClient(
                timeout=httpx2.Timeout(connect=15.0, read=5.0, write=5.0, pool=5.0),
                follow_redirects=True,
                limits=httpx2.Limits(max_connections=50, max_keepalive_connections=50,
                                     keepalive_expiry=120),
            ),
        )
    except openai.OpenAIError as exc:  # e.g. no OPENAI_API_KEY; never the key itself
        logger.error("no shared OpenAI client: %s", exc, extra={"openai_client": "none"})
        return None
    # What the first requests would import, during the call, on the event loop: the SDK
    # imports each resource on first access, anyio its asyncio backend on the first request.
    client.models, client.chat.completions, client.audio.speech  # noqa: B018
    import anyio._backends._asyncio  # noqa: F401
    return client
