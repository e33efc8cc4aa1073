"""The page's files and what the server tells it: `GET /` (the HTML), `GET /page/...` (its CSS
and JavaScript modules), `GET /page/vendor/livekit-client.mjs` (livekit-client's ESM build, from
node_modules when installed), `GET /api/page` (which panels can work here, and why not), and
`GET /api/schema/participant` (the caller's form).

Every answer carries a Content-Security-Policy without inline scripts or styles: the page's
code is only its own files, and it connects only to this server and the LiveKit server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from ..profiles import ProfileStore
from ..schema import participant_schema
from ..tokens.credentials import MISSING_CREDENTIALS
from ..tokens.http_errors import HttpError

PAGE_DIR = Path(__file__).parent
STATIC_DIR = PAGE_DIR / "static"
LIVEKIT_CLIENT = PAGE_DIR / "node_modules" / "livekit-client" / "dist" / "livekit-client.esm.mjs"
LIVEKIT_CLIENT_PATH = "/page/vendor/livekit-client.mjs"
PAGE_INFO_PATH = "/api/page"
PARTICIPANT_SCHEMA_PATH = "/api/schema/participant"
CurrentProfiles = Callable[[], ProfileStore]
"""The server's profiles as they are now (edits included): what the page's routes resolve
settings against, whichever store the profiles live in."""
CONTENT_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript",
                 ".mjs": "text/javascript", ".svg": "image/svg+xml"}


def npm_command() -> str:
    """How to install the page's JavaScript libraries, from where the server was started."""
    try:
        where = os.path.relpath(PAGE_DIR)
    except ValueError:  # another drive
        where = str(PAGE_DIR)
    return f"npm ci --prefix {where}"


@dataclass(frozen=True)
class PageConfig:
    livekit_url: str | None
    """None: serve has no LiveKit credentials, so the page cannot call."""
    admin: bool
    """The profile API and the lab are on (PROFILES_ADMIN_SECRET is set)."""
    connection_bearer: bool
    """POST /api/connection-details needs TOKEN_SERVER_SECRET."""
    default_agent: str | None
    lab_options: dict
    """{"scenarios": [...], "voices": [...]} the simulate panel offers."""
    livekit_client: Path = LIVEKIT_CLIENT


PAGE = web.AppKey("page", PageConfig)


def add_page_routes(app: web.Application, config: PageConfig) -> None:
    app[PAGE] = config
    app.router.add_get("/", handle_index)
    app.router.add_get(LIVEKIT_CLIENT_PATH, handle_livekit_client)
    app.router.add_get("/page/{path:.+}", handle_static)
    app.router.add_get(PAGE_INFO_PATH, handle_page_info)
    app.router.add_get(PARTICIPANT_SCHEMA_PATH, handle_participant_schema)


def content_security_policy(livekit_url: str | None) -> str:
    connect = ["'self'"]
    if livekit_url and (parts := urlsplit(livekit_url)).netloc:
        # livekit-client opens the websocket and also fetches over HTTP(S) from the same host.
        secure = parts.scheme in ("wss", "https")
        connect += [f"{'wss' if secure else 'ws'}://{parts.netloc}",
                    f"{'https' if secure else 'http'}://{parts.netloc}"]
    return "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
        "media-src 'self' blob:", f"connect-src {' '.join(connect)}", "base-uri 'none'",
        "form-action 'none'", "frame-ancestors 'none'"])


def page_file(path: Path, config: PageConfig) -> web.FileResponse:
    response = web.FileResponse(path, headers={
        "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        + ("; charset=utf-8" if path.suffix != ".svg" else ""),
        "Content-Security-Policy": content_security_policy(config.livekit_url),
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache"})
    return response


async def handle_index(request: web.Request) -> web.FileResponse:
    return page_file(STATIC_DIR / "index.html", request.app[PAGE])


async def handle_static(request: web.Request) -> web.FileResponse:
    path = (STATIC_DIR / request.match_info["path"]).resolve()
    if STATIC_DIR.resolve() not in path.parents or not path.is_file() \
            or path.suffix not in CONTENT_TYPES:
        raise HttpError(404, f"no page file {request.match_info['path']!r}")
    return page_file(path, request.app[PAGE])


async def handle_livekit_client(request: web.Request) -> web.FileResponse:
    config = request.app[PAGE]
    if not config.livekit_client.is_file():
        raise HttpError(404, f"livekit-client is not installed: run {npm_command()}")
    return page_file(config.livekit_client, config)


def call_problems(config: PageConfig) -> list[dict[str, str]]:
    """Why the page cannot call the agent from here, and what to do about each."""
    problems = []
    if config.livekit_url is None:
        problems.append({
            "reason": "serve has no LiveKit credentials", "how": MISSING_CREDENTIALS})
    if not config.livekit_client.is_file():
        problems.append({"reason": "livekit-client is not installed",
                         "how": f"run {npm_command()} and reload this page"})
    return problems


async def handle_page_info(request: web.Request) -> web.Response:
    config = request.app[PAGE]
    return web.json_response({
        "admin": config.admin,
        "connection_details_bearer": config.connection_bearer,
        "agent": config.default_agent,
        "call": {"problems": call_problems(config), "livekit_url": config.livekit_url},
        "lab": config.lab_options,
    })


async def handle_participant_schema(request: web.Request) -> web.Response:
    return web.json_response(participant_schema())
