"""``OfflineStack``: run an agent entrypoint in-process against all the stand-ins.

::

    async with OfflineStack(job_metadata='{"endpointingMs": 300}') as stack:
        stack.start(entrypoint, setup=prewarm)   # entrypoint(ctx), prewarm(proc) as a worker would
        await stack.room.join("user-1", metadata="...")
        await stack.deepgram.say("what's the weather")
        request = await stack.openai.wait_for_chat_request()

On entry it starts :class:`DeepgramStandIn` and :class:`OpenAIStandIn`, sets the
environment the agent reads (``DEEPGRAM_API_KEY``, ``OPENAI_API_KEY`` dummies,
``DEEPGRAM_BASE_URL``, ``OPENAI_BASE_URL``; ``LIVEKIT_*`` dummies), binds the
aiohttp session that plugins take from ``livekit.agents.utils.http_context`` (a
worker's job process does the same), connects a :class:`FakeRoom` and installs a
real ``JobContext`` via ``livekit.agents.testing.fake_job_context``.

When the room disconnects, the job ends, as in a worker's job process: ``shutdown_reasons`` gets
``ROOM_DISCONNECTED``. On exit it shuts down the way a worker's job process does: wait for the
entrypoint (then cancel it), ``aclose()`` the job's primary ``AgentSession``,
disconnect the room, run the job's shutdown callbacks, then stop the servers,
close the http session and restore the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from livekit.agents import JobContext, JobProcess, utils
from livekit.agents.testing import fake_job_context

from .deepgram import DeepgramStandIn
from .openai import OpenAIStandIn
from .room import FakeRoom

__all__ = ["OfflineStack"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
ROOM_DISCONNECTED = "room disconnected"
"""The reason recorded when the room disconnects: a job process ends its job then."""
Entrypoint = Callable[[JobContext], Awaitable[Any]]


class OfflineStack:
    """Stand-ins + FakeRoom + JobContext for one in-process agent run."""

    def __init__(
        self,
        *,
        job_metadata: str = "",
        room_name: str = "offline-room",
        agent_identity: str = "agent",
        deepgram: DeepgramStandIn | None = None,
        openai: OpenAIStandIn | None = None,
        env: dict[str, str] | None = None,
        entrypoint_exit_timeout: float = 5.0,
        session_close_timeout: float = 10.0,
    ) -> None:
        self.deepgram = deepgram or DeepgramStandIn()
        self.openai = openai or OpenAIStandIn()
        self.room_name = room_name
        self.agent_identity = agent_identity
        self.room: FakeRoom  # built in __aenter__ (rtc.Room needs the running loop)
        self.job_metadata = job_metadata
        self.extra_env = dict(env or {})
        self.entrypoint_exit_timeout = entrypoint_exit_timeout
        self.session_close_timeout = session_close_timeout
        self.ctx: JobContext | None = None
        self.task: asyncio.Task[Any] | None = None
        self.shutdown_reasons: list[str] = []
        self._shutdown_requested = asyncio.Event()
        self._saved_env: dict[str, str | None] = {}
        self._stack = contextlib.AsyncExitStack()
        self._context: contextvars.Context | None = None

    @property
    def env(self) -> dict[str, str]:
        """The variables set for the run (the stand-ins' URLs and dummy credentials)."""
        return {
            "DEEPGRAM_API_KEY": "offline-deepgram-key",
            "DEEPGRAM_BASE_URL": self.deepgram.url,
            "OPENAI_API_KEY": "offline-openai-key",
            "OPENAI_BASE_URL": self.openai.base_url,
            "LIVEKIT_URL": "ws://127.0.0.1:1/offline",
            "LIVEKIT_API_KEY": "offline",
            "LIVEKIT_API_SECRET": "offline-secret-offline-secret-offline",
            **self.extra_env,
        }

    async def __aenter__(self) -> OfflineStack:
        # The job context and the http session are bound in a private contextvars
        # Context that the entrypoint and the shutdown run in: the caller's context is
        # left untouched, and entering/exiting from different tasks (fixtures) works.
        self._context = contextvars.copy_context()
        try:
            await self._stack.enter_async_context(self.deepgram)
            await self._stack.enter_async_context(self.openai)
            self._set_env()
            self._stack.callback(self._restore_env)
            http_cm = utils.http_context.open()
            await self._in_context(http_cm.__aenter__())
            self._stack.push_async_callback(
                lambda: self._in_context(http_cm.__aexit__(None, None, None))
            )
            self.room = FakeRoom(name=self.room_name, agent_identity=self.agent_identity)
            await self.room.connect(self.env["LIVEKIT_URL"], "offline-token")
            job_cm = fake_job_context(
                room=self.room,
                job_metadata=self.job_metadata,
                agent_identity=self.room.local_participant.identity,
            )
            self.ctx = self._context.run(job_cm.__enter__)
            self._stack.callback(self._context.run, job_cm.__exit__, None, None, None)
            self.ctx._on_shutdown = self._on_shutdown  # what ctx.shutdown() reports to
            # A job process ends its job when the room disconnects (job_proc_lazy_main.py).
            self.room.on("disconnected", lambda *_: self._on_shutdown(ROOM_DISCONNECTED))
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._in_context(self._shutdown_job())
        finally:
            await self._stack.aclose()

    async def _in_context(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` as a task running in the stack's private context."""
        return await asyncio.create_task(coro, context=self._context)

    def start(self, entrypoint: Entrypoint, *,
              setup: Callable[[JobProcess], Any] | None = None) -> asyncio.Task[Any]:
        """Run ``entrypoint(ctx)`` as a task with the fake JobContext as current job.

        ``setup`` is the server's setup function (``AgentServer(setup_fnc=...)``): it runs first
        on the job's process object, as a worker's job process runs it before its one job.
        """
        assert self.ctx is not None, "use `async with OfflineStack() as stack`"
        if self.task is not None:
            raise RuntimeError("an entrypoint is already running")
        if setup is not None:
            self._context.run(setup, self.ctx.proc)
        self.task = asyncio.create_task(
            entrypoint(self.ctx), name="offline-entrypoint", context=self._context
        )
        return self.task

    async def wait_for_shutdown_request(self, timeout: float = 10.0) -> str:
        """Wait until the agent calls ``ctx.shutdown(reason)``, or the room disconnects (which
        ends a job as well: ``ROOM_DISCONNECTED``); return the reason."""
        await asyncio.wait_for(self._shutdown_requested.wait(), timeout)
        return self.shutdown_reasons[-1]

    # -- internals -----------------------------------------------------------------

    def _on_shutdown(self, reason: str) -> None:
        self.shutdown_reasons.append(reason)
        self._shutdown_requested.set()

    def _set_env(self) -> None:
        for key, value in self.env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, old in self._saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        self._saved_env.clear()

    async def _shutdown_job(self) -> None:
        reason = self.shutdown_reasons[-1] if self.shutdown_reasons else "offline stack exit"
        if self.task is not None and not self.task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.task), self.entrypoint_exit_timeout)
            except TimeoutError:
                await utils.aio.cancel_and_wait(self.task)
            except Exception:
                pass  # reported below
        task = self.task
        if task is not None and task.done() and not task.cancelled() and task.exception():
            logger.error("entrypoint raised", exc_info=task.exception())
        ctx = self.ctx
        if ctx is not None and (session := ctx._primary_agent_session) is not None:
            try:
                await asyncio.wait_for(session.aclose(), self.session_close_timeout)
            except TimeoutError:
                logger.error("AgentSession.aclose() timed out")
            # a job process would exit here; in-process, close the models' HTTP clients
            models: list[Any] = [session.stt, session.llm, session.tts]
            with contextlib.suppress(Exception):
                agent = session.current_agent
                models += [agent.stt, agent.llm, agent.tts]
            for model in {id(m): m for m in models if m is not None}.values():
                aclose = getattr(model, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()
        await self.room.disconnect()
        if ctx is not None:
            callbacks = [cb(reason) for cb in ctx._shutdown_callbacks]
            results = await asyncio.gather(*callbacks, return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    logger.error("shutdown callback raised", exc_info=r)
            with contextlib.suppress(Exception):
                await ctx._on_cleanup()
