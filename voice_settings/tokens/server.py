"""`serve`: the aiohttp app behind livekit-client's TokenSource.endpoint(url), used unchanged.
Its routes (connection details, CORS, health, the profile API, the settings page), one JSON error
shape for every failure, the access log, and running it until Ctrl-C or SIGTERM. What a request
asks for is read and validated in `token_requests`; its configuration is `serve_config`."""

from __future__ import annotations

import asyncio
import logging
import signal
import traceback
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from ..json_input import MAX_METADATA_BYTES
from ..page.caller import add_caller_routes
from ..page.lab_runs import LabConfig, LabRuns, add_lab_routes, lab_options
from ..page.live_update import LiveUpdateConfig, add_live_update_routes
from ..page.site import PageConfig, add_page_routes
from ..profiles import ProfileStore
from ..store import StoreFollower, directory_backend
from .credentials import MISSING_CREDENTIALS
from .http_errors import (
    BODY_TIMEOUT_S,
    HttpError,
    answer_and_close,
    check_bearer,
    error_response,
    json_body,
    read_body,
)
from .profile_api import ENV_ADMIN_SECRET, PROFILE_API_HELP, ProfileAdminConfig, add_profile_routes
from .serve_config import MAX_BODY_BYTES, ServeConfig
from .signing import connection_details, sign
from .token_requests import endpoint_token_request

logger = logging.getLogger(__name__)

ENV_SERVER_SECRET = "TOKEN_SERVER_SECRET"
ENDPOINT_PATH = "/api/connection-details"
HEALTH_PATH = "/healthz"
ACCESS_LOG = logging.getLogger("voice_settings.tokens.access")
ENDPOINT_HELP = f"""\
HTTP endpoint that livekit-client's TokenSource.endpoint(url) uses unchanged.

  POST {ENDPOINT_PATH}
    body: {{room_name, participant_name, participant_identity, participant_metadata,
            participant_attributes, room_config: {{agents: [{{agent_name, metadata}}]}}}}
          and, from admin screens, systemPrompt, assistantId, profile (into the dispatch
          metadata); any other top-level key is a 400
    201 {{server_url, participant_token, room_name, participant_name}}
    Every error answers {{error, errors: [{{field, value, message, source}}]}} (errors empty
    when no single field is at fault):
    400 body not JSON (or not as its Content-Encoding says, or broken off), invalid settings
    401 {ENV_SERVER_SECRET} is set and "Authorization: Bearer <it>" is missing or wrong
    403 agent outside the allow-list; operator-only setting or room option sent by the client
    408 the body did not all arrive within --read-timeout
    413 a metadata value, or the attributes' keys and values together, over {MAX_METADATA_BYTES}
        bytes of UTF-8
    500 an unexpected failure; the details go to the server's log
  One access-log line per request on stderr: method, path, status, milliseconds, remote address.
  OPTIONS {ENDPOINT_PATH}  CORS preflight
  GET {HEALTH_PATH}  health check
  GET /  the settings page: assistants, a caller's settings, simulations, a test call
    (docs/settings-page.md; its routes: /api/page, /api/settings/validate, /api/lab/runs,
    /api/calls/update). Without LiveKit credentials serve still starts; connection details
    then answer 503.
{PROFILE_API_HELP}"""


CONFIG = web.AppKey("config", ServeConfig)
PROFILES = web.AppKey("profiles", StoreFollower)


def make_app(config: ServeConfig) -> web.Application:
    app = web.Application(middlewares=[json_errors_and_cors], client_max_size=MAX_BODY_BYTES)
    app[CONFIG] = config
    app[BODY_TIMEOUT_S] = config.body_timeout_s
    # Profiles edited through the API (of any replica), by hand or with psql are followed.
    backend = config.backend or directory_backend(config.profiles.directory)
    app[PROFILES] = StoreFollower(backend, config.profiles)
    app.cleanup_ctx.append(following_the_store)
    if config.profiles_admin_secret:
        add_profile_routes(app, ProfileAdminConfig(config.profiles_admin_secret, app[PROFILES]))
    app.router.add_post(ENDPOINT_PATH, handle_connection_details)
    app.router.add_route("OPTIONS", ENDPOINT_PATH, handle_preflight)
    app.router.add_get(HEALTH_PATH, handle_health)
    add_settings_page(app, config)
    return app


async def following_the_store(app: web.Application) -> AsyncIterator[None]:
    follower = app[PROFILES]
    follower.start()
    yield
    await follower.aclose()


def add_settings_page(app: web.Application, config: ServeConfig) -> None:
    """The page at / and what only it needs: caller validation, simulations, live updates."""
    secret = config.profiles_admin_secret
    options = lab_options()
    add_page_routes(app, PageConfig(
        livekit_url=config.credentials.url if config.credentials else None, admin=bool(secret),
        connection_bearer=bool(config.bearer_secret), default_agent=config.default_agent,
        lab_options=options))
    follower = app[PROFILES]

    def profiles() -> ProfileStore:  # the last valid set of the store serve follows
        return follower.store

    add_caller_routes(app, profiles)
    add_lab_routes(app, LabConfig(secret, profiles, LabRuns(options)))
    if secret:
        add_live_update_routes(app, LiveUpdateConfig(secret, config.credentials, profiles))


@web.middleware
async def json_errors_and_cors(request: web.Request, handler: Any) -> web.StreamResponse:
    closing = False
    try:
        response = await handler(request)
    except HttpError as exc:
        response = error_response(exc.status, exc.message, exc.errors)
        closing = exc.close_connection
    except web.HTTPException as exc:  # 404, 405 and 413 raised by aiohttp itself
        response = error_response(exc.status, exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    except Exception:  # a bug: JSON the browser can read (CORS included), details in the log
        log_unexpected(request)
        response = error_response(500, "internal error; the token server logged the details")
    add_cors_headers(request, response)
    if closing:
        await answer_and_close(request, response)
    return response


def log_unexpected(request: web.Request) -> None:
    """Log the exception being handled, with the secrets it might quote redacted."""
    config = request.app[CONFIG]
    text = traceback.format_exc()
    api_secret = config.credentials.api_secret if config.credentials else None
    for secret in filter(None, (api_secret, config.bearer_secret, config.profiles_admin_secret)):
        text = text.replace(secret, "[redacted]")
    logger.error("unexpected error answering %s %s:\n%s", request.method, request.path, text)


def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    origins = request.app[CONFIG].cors_origins
    origin = request.headers.get("Origin", "")
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


async def handle_preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
    })


async def handle_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def handle_connection_details(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    check_bearer(request, config.bearer_secret)
    if config.credentials is None:
        raise HttpError(503, f"serve has no LiveKit credentials, so it cannot sign tokens: "
                        f"{MISSING_CREDENTIALS}")
    body = json_body(await read_body(request))
    follower = request.app[PROFILES]
    try:
        token_request = endpoint_token_request(body, config, follower.store)
    except HttpError as exc:
        if not names_an_unknown_profile(exc):
            raise
        # Created a moment ago, perhaps through another replica: read the store, then decide.
        token_request = endpoint_token_request(body, config, await follower.refresh())
    token = sign(config.credentials, token_request)
    reply = connection_details(config.credentials, token_request, token)
    return web.json_response(reply, status=201)


def names_an_unknown_profile(exc: HttpError) -> bool:
    return any(e.get("field") == "profile" and "unknown profile" in e.get("message", "")
               for e in exc.errors)


def base_url(host: str, port: int) -> str:
    """http://host:port, an IPv6 address in brackets as URLs need it."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path (no query string), status, milliseconds, remote
    address. Never a header value or a body: they may carry secrets and personal data."""

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %d %.1f ms %s", request.method, request.rel_url.raw_path,
                         response.status, time * 1000, request.remote)


def make_runner(config: ServeConfig) -> web.AppRunner:
    """The server as `serve` runs it: the app, with the access log."""
    return web.AppRunner(make_app(config), access_log=ACCESS_LOG, access_log_class=AccessLogger)


async def run_server(config: ServeConfig, host: str, port: int) -> None:
    runner = make_runner(config)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_port = runner.addresses[0][1]
        auth = ("bearer token required" if config.bearer_secret
                else "no auth (set TOKEN_SERVER_SECRET)")
        agents = ", ".join(sorted(config.allowed_agents)) or "any"
        admin = "on" if config.profiles_admin_secret else f"off (set {ENV_ADMIN_SECRET})"
        print(f"serving POST {base_url(host, bound_port)}{ENDPOINT_PATH} ({auth}; agents: "
              f"{agents}; profile API {admin})", flush=True)
        print(f"settings page: {base_url(host, bound_port)}/", flush=True)
        # SIGTERM (docker stop, kill) ends serve as Ctrl-C does: cleaned up (simulations
        # stopped, their temporary directory removed).
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
