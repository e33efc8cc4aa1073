"""Small shared pieces of the offline harness: a loopback aiohttp server and a waiter.

Nothing here is specific to one provider. ``LoopbackServer`` binds an aiohttp
application to ``127.0.0.1`` on a free port chosen by the OS; ``Notifier`` lets a
test wait, with a timeout, until a predicate over recorded state becomes true.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0


class Notifier:
    """Wake waiters whenever recorded state changes; each waiter re-checks its predicate.

    Purely synchronous bookkeeping (no background tasks), so nothing is left pending
    when a test ends.
    """

    def __init__(self) -> None:
        self._waiters: list[tuple[Callable[[], object], asyncio.Future[object]]] = []

    def notify(self) -> None:
        """Re-evaluate every waiter's predicate; call after each change of state."""
        for predicate, fut in list(self._waiters):
            if fut.done():
                continue
            try:
                value = predicate()
            except Exception as e:  # surface predicate bugs to the waiter
                fut.set_exception(e)
                continue
            if value:
                fut.set_result(value)

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        what: str = "condition",
    ) -> T:
        """Return the first truthy ``predicate()`` value; TimeoutError after ``timeout`` s."""
        value = predicate()
        if value:
            return value
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        entry = (predicate, fut)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)  # type: ignore[return-value]
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None
        finally:
            self._waiters.remove(entry)


class LoopbackServer:
    """An aiohttp application served on 127.0.0.1 at a random free port."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def origin(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        # shutdown_timeout is short: open websockets are closed by the owner first
        self._runner = web.AppRunner(self._app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp exposes the bound sockets only here
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
