"""How the token server answers an error, the same way on every route: `{"error": message,
"errors": [...]}` (errors empty when no single field is at fault); what routes raise to answer
so; the bearer check they share (connection details with TOKEN_SERVER_SECRET, the profile API
with PROFILES_ADMIN_SECRET); and the one way a route reads a request body and its JSON."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import RequestPayloadError

from ..json_input import MAX_DOCUMENT_BYTES, JsonInputError, read_json_object

BODY_TIMEOUT_S = web.AppKey("body_timeout_s", float)
"""How long a route waits for a request's whole body (configuration: serve --read-timeout)."""


class HttpError(Exception):
    """Answered as `error_response(status, message, errors)` by the server's middleware."""

    def __init__(self, status: int, message: str, errors: Sequence[dict] = (), *,
                 close_connection: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, list(errors)
        self.close_connection = close_connection
        """The rest of the request cannot be read: close the connection after the answer."""


def check_bearer(request: web.Request, secret: str | None) -> None:
    """401 unless the request carries `Authorization: Bearer <secret>`; no secret: no check."""
    if not secret:
        return
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    # aiohttp decodes header bytes that are not UTF-8 to lone surrogates; surrogateescape gives
    # back the bytes as sent, so they are compared (and refused), never a UnicodeEncodeError.
    sent = value.strip().encode("utf-8", "surrogateescape")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent, secret.encode()):
        raise HttpError(401, "missing or wrong bearer token")


def error_response(status: int, message: str, errors: Sequence[dict] = ()) -> web.Response:
    """The JSON body every error has: {"error": message, "errors": [...]}."""
    body: dict[str, Any] = {"error": message, "errors": list(errors)}
    response = web.json_response(body, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def read_body(request: web.Request) -> bytes:
    """The request's body, or a 4xx: 408 when it does not arrive within the app's
    BODY_TIMEOUT_S, 400 when it breaks off or does not decode as its Content-Encoding says."""
    timeout_s = request.app[BODY_TIMEOUT_S]
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        raise HttpError(408, f"request body not received within {timeout_s:g} s",
                        close_connection=True) from None
    except (RequestPayloadError, HttpProcessingError, ConnectionError):
        raise HttpError(400, "request body could not be read: it broke off, or is not encoded "
                        "as its Content-Encoding (or Transfer-Encoding) header says",
                        close_connection=True) from None


def json_body(data: bytes, what: str = "request body") -> dict[str, Any]:
    """A body read with `read_body` as the JSON object it must be (the shared reader's rules and
    64 KiB limit), or a 400 saying why not."""
    try:
        return read_json_object(data, what=what, max_bytes=MAX_DOCUMENT_BYTES)
    except JsonInputError as exc:
        raise HttpError(400, exc.message) from None


async def answer_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Send `response`, then close the connection: aiohttp would otherwise linger reading the
    rest of a body that cannot be read (and log the failure as an unhandled exception)."""
    response.force_close()
    if request.transport is None or request.transport.is_closing():
        return  # the client has gone: aiohttp drops the answer quietly
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
