"""What the token server's routes raise to answer with a JSON error, and the bearer check they
share (connection details with TOKEN_SERVER_SECRET, the profile API with PROFILES_ADMIN_SECRET)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from aiohttp import web


class HttpError(Exception):
    """Answered as `{error, errors?}` with `status` by the server's middleware."""

    def __init__(self, status: int, message: str, errors: Sequence[dict] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, list(errors)


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
