"""The token endpoint livekit-client's TokenSource.endpoint(url) uses unchanged: an aiohttp app
that validates a request's settings and answers with connection details or a JSON error (400
invalid, 401 bearer, 403 not the client's to choose, 413 too large), with CORS and a health
route."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import signal
import traceback
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from livekit import api

from ..errors import SettingsError
from ..json_input import MAX_DOCUMENT_BYTES, MAX_METADATA_BYTES, JsonInputError, read_json_object
from ..keys import canonical_key
from ..model import OPERATOR_FIELDS
from ..page.caller import add_caller_routes
from ..page.lab_runs import LabConfig, LabRuns, add_lab_routes, lab_options
from ..page.live_update import LiveUpdateConfig, add_live_update_routes
from ..page.site import PageConfig, add_page_routes
from ..parsing import decode
from ..profiles import ProfileStore
from ..resolution import resolve
from ..sources import Source
from ..store import ProfileBackend, StoreFollower, directory_backend
from .credentials import MISSING_CREDENTIALS, Credentials
from .dispatch_settings import check_top_level_keys, top_level_settings, with_dispatch_settings
from .http_errors import (
    BODY_TIMEOUT_S,
    HttpError,
    answer_and_close,
    check_bearer,
    error_response,
    read_body,
)
from .metadata import over_limit
from .profile_api import ENV_ADMIN_SECRET, PROFILE_API_HELP, ProfileAdminConfig, add_profile_routes
from .signing import TokenRequest, connection_details, sign

logger = logging.getLogger(__name__)

ENV_SERVER_SECRET = "TOKEN_SERVER_SECRET"
ENV_ALLOWED_AGENTS = "TOKEN_SERVER_ALLOWED_AGENTS"
ENDPOINT_PATH = "/api/connection-details"
HEALTH_PATH = "/healthz"
DEFAULT_BODY_TIMEOUT_S = 10.0
ACCESS_LOG = logging.getLogger("voice_settings.tokens.access")
MAX_BODY_BYTES = MAX_DOCUMENT_BYTES
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


@dataclass(frozen=True)
class ServeConfig:
    credentials: Credentials | None
    """None: no LiveKit credentials, so connection details answer 503 (the page still works)."""
    profiles: ProfileStore
    bearer_secret: str | None = field(default=None, repr=False)
    allowed_agents: frozenset[str] = frozenset()
    default_agent: str | None = None
    valid_for: dt.timedelta = dt.timedelta(minutes=15)
    cors_origins: frozenset[str] = frozenset({"*"})
    profiles_admin_secret: str | None = field(default=None, repr=False)
    """Turns the profile API on (profile_api.py); unset, its routes answer 404."""
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    """A request body that has not all arrived by then is answered 408."""
    backend: ProfileBackend | None = None
    """The store `profiles` was loaded from; None: the directory of `profiles`."""


def allowed_agents(names: Sequence[str], env: Mapping[str, str]) -> frozenset[str]:
    """The names given plus those in TOKEN_SERVER_ALLOWED_AGENTS=a,b; empty allows any."""
    allowed = set(names)
    allowed.update(a.strip() for a in env.get(ENV_ALLOWED_AGENTS, "").split(",") if a.strip())
    return frozenset(allowed)


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


def json_body(data: bytes) -> dict[str, Any]:
    try:
        return read_json_object(data, what="request body", max_bytes=MAX_BODY_BYTES)
    except JsonInputError as exc:
        raise HttpError(400, exc.message) from None


def body_field(body: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    """A TokenSourceRequest field by its proto name, or by the lowerCamel JSON name."""
    camel = api.access_token.snake_to_lower_camel(name)
    value = body.get(name, body.get(camel, default))
    if value is None:
        return default
    if not isinstance(value, kind):
        raise HttpError(400, f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def check_size(name: str, value: str | Mapping[str, str]) -> None:
    if problem := over_limit(name, value):
        raise HttpError(413, problem)


def request_attributes(body: Mapping[str, Any]) -> dict[str, str]:
    attributes = body_field(body, "participant_attributes", dict, {})
    if not all(isinstance(v, str) for v in attributes.values()):
        raise HttpError(400, "participant_attributes values must be strings")
    check_size("participant_attributes", attributes)
    return attributes


def request_agents(body: Mapping[str, Any], config: ServeConfig) -> list[tuple[str, str]]:
    room_config = body_field(body, "room_config", dict, {})
    if refused := sorted(set(room_config) - {"agents"}):
        message = "may not be set by a client; only room_config.agents is accepted"
        raise HttpError(403, f"room_config.{', room_config.'.join(refused)} {message}",
                        [SettingsError(f"room_config.{key}", room_config[key], message).to_dict()
                         for key in refused])
    agents = []
    for entry in body_field(room_config, "agents", list, []):
        if not isinstance(entry, dict):
            raise HttpError(400, "room_config.agents entries must be objects")
        agents.append((body_field(entry, "agent_name", str, "") or config.default_agent or "",
                       body_field(entry, "metadata", str, "")))
    if not agents and config.default_agent:
        agents.append((config.default_agent, ""))
    for index, (name, metadata) in enumerate(agents):
        check_agent(index, name, config.allowed_agents)
        check_size("room_config.agents.metadata", metadata)
    return agents


def check_agent(index: int, name: str, allowed: frozenset[str]) -> None:
    if allowed and name not in allowed:
        message = f"agent {name!r} is not allowed; allowed: {', '.join(sorted(allowed))}"
        field_name = f"room_config.agents[{index}].agent_name"
        raise HttpError(403, message, [SettingsError(field_name, name, message).to_dict()])


OPERATOR_ONLY = "may only be set by the operator (profiles), not by a client"


def operator_settings_in(metadata: str, source: Source) -> list[SettingsError]:
    """An error for each operator-only setting in `metadata`, with the value given."""
    document, _ = decode(metadata)  # unreadable metadata: resolve() reports it as a 400
    found = {name: value for key, value in (document or {}).items()
             if (name := canonical_key(key)) in OPERATOR_FIELDS}
    return [SettingsError(name, found[name], f"{name} {OPERATOR_ONLY}", source)
            for name in sorted(found)]


def validate_request_settings(metadata: str, agents: Sequence[tuple[str, str]],
                              store: ProfileStore) -> None:
    # Operator-only fields choose (paid) models: a browser must not pick them, in either place.
    for raw, source in [(metadata, Source.PARTICIPANT), *((m, Source.DISPATCH) for _, m in agents)]:
        if refused := operator_settings_in(raw, source):
            names = ", ".join(e.field for e in refused)
            raise HttpError(403, f"{names} {OPERATOR_ONLY}", [e.to_dict() for e in refused])
    resolutions = [resolve(participant=metadata or None, dispatch=m or None, profiles=store)
                   for _, m in agents] or [resolve(participant=metadata or None, profiles=store)]
    errors = [e.to_dict() for r in resolutions for e in r.errors]
    if errors:
        raise HttpError(400, "invalid settings", errors)


def endpoint_token_request(body: Mapping[str, Any], config: ServeConfig,
                           store: ProfileStore) -> TokenRequest:
    check_top_level_keys(body)
    metadata = body_field(body, "participant_metadata", str, "")
    check_size("participant_metadata", metadata)
    attributes = request_attributes(body)
    agents = with_dispatch_settings(request_agents(body, config), top_level_settings(body),
                                    metadata)
    validate_request_settings(metadata, agents, store)
    return TokenRequest(
        room=body_field(body, "room_name", str, "") or f"voice-{secrets.token_hex(4)}",
        identity=body_field(body, "participant_identity", str, "")
        or f"user-{secrets.token_hex(4)}",
        name=body_field(body, "participant_name", str, ""), metadata=metadata,
        attributes=attributes, agents=agents, valid_for=config.valid_for)


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
