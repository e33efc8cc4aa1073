"""Mint, serve, update and inspect LiveKit tokens that carry validated voice settings.

    python token_tool.py [mint] -r ROOM [-i ID] [--profile NAME] [--set KEY=VALUE] [--agent NAME]
    python token_tool.py serve [--host 127.0.0.1] [--port 8081] [--allow-agent NAME]
    python token_tool.py update -r ROOM -i ID --set KEY=VALUE [--replace]
    python token_tool.py inspect TOKEN

Credentials come from LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET (the environment, then
./.env.local); `--dev` uses the key pair of a local `livekit-server --dev`. Settings are validated
with voice_settings before anything is signed or sent: participant metadata carries what a
participant may set, operator-only fields travel in the agent dispatch metadata.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hmac
import json
import os
import re
import secrets
import sys
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from dotenv import dotenv_values
from livekit import api

from voice_settings import (
    KEY_ALIASES,
    LIVE_FIELDS,
    MAX_METADATA_BYTES,
    OPERATOR_FIELDS,
    PARTICIPANT_FIELDS,
    ProfileError,
    ProfileStore,
    Resolution,
    SettingsError,
    Source,
    parse_assignment,
    resolve,
    split_by_audience,
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DEFAULT_VALID_FOR = "15m"
DEV_URL, DEV_API_KEY, DEV_API_SECRET = "ws://localhost:7880", "devkey", "secret"
ENV_URL, ENV_KEY, ENV_SECRET = "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"
ENV_SERVER_SECRET = "TOKEN_SERVER_SECRET"
ENV_ALLOWED_AGENTS = "TOKEN_SERVER_ALLOWED_AGENTS"
ENDPOINT_PATH = "/api/connection-details"
HEALTH_PATH = "/healthz"
# Values nobody chose for this token: summaries show only the others.
BASELINE = {Source.DEFAULT, Source.DEFAULT_PROFILE}
DEFAULT_PORT = 8081
# A request carries up to three 64 KiB values, and JSON escaping can inflate each of them.
MAX_BODY_BYTES = 4 * MAX_METADATA_BYTES


class ToolError(Exception):
    """A failure the user can act on; printed as `error: ...` lines, `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def usage_error(message: str) -> ToolError:
    return ToolError(message, EXIT_USAGE)


def settings_rejected(errors: Sequence[SettingsError]) -> ToolError:
    lines = [f"{e.field} = {json.dumps(e.to_dict()['value'])}: {e.message}" for e in errors]
    return usage_error("invalid settings, nothing was signed:\n  " + "\n  ".join(lines))


# --- Credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    url: str
    api_key: str
    api_secret: str = field(repr=False)


def environment(cwd: Path | None = None) -> dict[str, str]:
    """The real environment over ./.env.local: a value exported in the shell always wins."""
    path = (cwd or Path.cwd()) / ".env.local"
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {**from_file, **os.environ}


def load_credentials(env: Mapping[str, str], *, dev: bool, need_url: bool = True) -> Credentials:
    if dev:
        return Credentials(DEV_URL, DEV_API_KEY, DEV_API_SECRET)
    needed = [ENV_URL, ENV_KEY, ENV_SECRET] if need_url else [ENV_KEY, ENV_SECRET]
    missing = [name for name in needed if not env.get(name, "").strip()]
    if missing:
        raise ToolError(
            f"{', '.join(missing)} not set: export {'them' if len(missing) > 1 else 'it'} or add "
            "to ./.env.local (or pass --dev for a local `livekit-server --dev`)"
        )
    return Credentials(env.get(ENV_URL, "").strip(), env[ENV_KEY].strip(), env[ENV_SECRET].strip())


def load_profiles() -> ProfileStore:
    try:
        return ProfileStore.load()
    except ProfileError as exc:
        raise ToolError(f"cannot load profiles: {exc}") from None


# --- Settings -> metadata ----------------------------------------------------------------------


def canonical_key(key: str) -> str | None:
    """The settings field a metadata key names (aliases included), or None for an app's own key."""
    return KEY_ALIASES.get(key)


def with_values(document: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """`document` with `values` set; a key spelling the same field differently is replaced."""
    names = {canonical_key(k) or k for k in values}
    kept = {k: v for k, v in document.items() if (canonical_key(k) or k) not in names}
    return {**kept, **values}


def without_fields(document: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if (canonical_key(k) or k) not in set(names)}


def json_object(text: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise usage_error(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise usage_error(f"{what} must be a JSON object, got {type(document).__name__}")
    return document


def read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage_error(f"{what}: cannot read {path}: {exc}") from None


def encode(document: Mapping[str, Any], what: str) -> str:
    if not document:
        return ""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    size = len(text.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise usage_error(f"{what} is {size} bytes, over the {MAX_METADATA_BYTES} byte limit")
    return text


def assignments(items: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        try:
            name, value = parse_assignment(item)
        except ValueError as exc:
            raise usage_error(f"--set {item!r}: {exc}") from None
        values[name] = value
    return values


def requested_settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(participant values, operator-only values) asked for by --set, --instructions, --profile."""
    participant, operator = split_by_audience(assignments(args.set))
    if args.instructions is not None:
        participant["instructions"] = args.instructions
    if args.profile is not None:
        participant["profile"] = args.profile
    return participant, operator


def app_metadata(args: argparse.Namespace) -> dict[str, Any]:
    if args.metadata_file:
        return json_object(read_text(args.metadata_file, "--metadata-file"), "--metadata-file")
    return json_object(args.metadata or "", "--metadata")


def checked(resolution: Resolution) -> Resolution:
    if resolution.errors:
        raise settings_rejected(resolution.errors)
    return resolution


def note_unknown_keys(resolution: Resolution) -> None:
    for source, key in resolution.unknown_keys:
        print(f"note: {key!r} in {source} metadata is not a setting; passed through untouched",
              file=sys.stderr)


@dataclass(frozen=True)
class TokenMetadata:
    participant: str
    dispatch: str
    resolution: Resolution


def mint_metadata(args: argparse.Namespace, store: ProfileStore) -> TokenMetadata:
    participant_values, operator_values = requested_settings(args)
    participant = encode(with_values(app_metadata(args), participant_values), "metadata")
    job = with_values(json_object(args.job_metadata or "", "--job-metadata"), operator_values)
    if job and not args.agent:
        what = ", ".join(operator_values) if operator_values else "--job-metadata"
        raise usage_error(f"{what}: operator-only settings and --job-metadata travel in the "
                          "agent dispatch metadata, which needs --agent NAME")
    dispatch = encode(job, "dispatch metadata")
    resolution = resolve(participant=participant or None, dispatch=dispatch or None,
                         profiles=store)
    return TokenMetadata(participant, dispatch, checked(resolution))


# --- Signing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRequest:
    room: str
    identity: str
    name: str = ""
    metadata: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    agents: Sequence[tuple[str, str]] = ()
    """(agent_name, dispatch metadata) pairs."""
    valid_for: dt.timedelta = dt.timedelta(minutes=15)
    allow_update_metadata: bool = False


def video_grants(request: TokenRequest) -> api.VideoGrants:
    return api.VideoGrants(room_join=True, room=request.room,
                           can_update_own_metadata=request.allow_update_metadata or None)


def sign(credentials: Credentials, request: TokenRequest) -> str:
    token = (api.AccessToken(credentials.api_key, credentials.api_secret)
             .with_identity(request.identity).with_name(request.name)
             .with_metadata(request.metadata).with_grants(video_grants(request))
             .with_ttl(request.valid_for))
    if request.attributes:
        token.with_attributes(dict(request.attributes))
    if request.agents:
        dispatches = [api.RoomAgentDispatch(agent_name=n, metadata=m) for n, m in request.agents]
        token.with_room_config(api.RoomConfiguration(agents=dispatches))
    return token.to_jwt()


def grants_json(grants: api.VideoGrants) -> dict[str, Any]:
    """The grants as the token's `video` claim spells them (and `lk token create --json`)."""
    return {api.access_token.snake_to_lower_camel(k): v for k, v in asdict(grants).items()
            if v is not None and v != ""}


def non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def parse_duration(text: str) -> dt.timedelta:
    """A Go-style duration as `lk` takes it: 90s, 15m, 1h30m, 2.5h."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m or 1h30m")
    unit_seconds = {"h": 3600, "m": 60, "s": 1}
    seconds = sum(float(n) * unit_seconds[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a token must be valid for some time")
    return dt.timedelta(seconds=seconds)


def attributes_arg(args: argparse.Namespace) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if args.attribute_file:
        document = json_object(read_text(args.attribute_file, "--attribute-file"),
                               "--attribute-file")
        if not all(isinstance(v, str) for v in document.values()):
            raise usage_error("--attribute-file: every attribute value must be a string")
        attributes.update(document)
    for item in args.attribute:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise usage_error(f"--attribute {item!r}: expected KEY=VALUE")
        attributes[key] = value
    encode(attributes, "attributes")
    return attributes


# --- mint --------------------------------------------------------------------------------------


def cmd_mint(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    metadata = mint_metadata(args, load_profiles())
    request = TokenRequest(
        room=args.room, identity=args.identity or f"user-{secrets.token_hex(4)}",
        name=args.name or "", metadata=metadata.participant, attributes=attributes_arg(args),
        agents=[(args.agent, metadata.dispatch)] if args.agent else [],
        valid_for=args.valid_for, allow_update_metadata=args.allow_update_metadata)
    credentials = load_credentials(env, dev=args.dev, need_url=not args.token_only)
    note_unknown_keys(metadata.resolution)
    if args.allow_update_metadata:
        print("warning: --allow-update-metadata lets this user rewrite their own settings and "
              "instructions mid-call", file=sys.stderr)
    token = sign(credentials, request)
    print(render_mint(args, credentials, request, token, metadata.resolution))
    return EXIT_OK


def render_mint(args: argparse.Namespace, credentials: Credentials, request: TokenRequest,
                token: str, resolution: Resolution) -> str:
    if args.token_only:
        return token
    if args.connection_details:
        return json.dumps(connection_details(credentials, request, token), indent=2)
    if args.json:
        return json.dumps({
            "access_token": token, "project_url": credentials.url,
            "identity": request.identity, "name": request.name, "room": request.room,
            "grants": grants_json(video_grants(request)),
            "settings": resolution.settings.model_dump(mode="json"),
        }, indent=2, ensure_ascii=False)
    return human_summary(credentials, request, resolution) + f"\n\naccess token:\n{token}"


def connection_details(credentials: Credentials, request: TokenRequest, token: str) -> dict:
    return {"server_url": credentials.url, "participant_token": token,
            "room_name": request.room, "participant_name": request.name or request.identity}


def human_summary(credentials: Credentials, request: TokenRequest,
                  resolution: Resolution) -> str:
    lines = [f"identity:  {request.identity}", f"name:      {request.name or '-'}",
             f"room:      {request.room}", f"server:    {credentials.url or '-'}",
             f"valid for: {request.valid_for}",
             f"grants:    {json.dumps(grants_json(video_grants(request)))}"]
    lines += [f"agent:     {name} (dispatch metadata: {meta or '-'})"
              for name, meta in request.agents]
    lines.append(f"metadata:  {request.metadata or '-'}")
    lines += settings_lines(resolution)
    return "\n".join(lines)


def settings_lines(resolution: Resolution) -> list[str]:
    values = resolution.settings.model_dump(mode="json")
    chosen = [f"  {k} = {json.dumps(values[k], ensure_ascii=False)}  ({s})"
              for k, s in resolution.sources.items() if s not in BASELINE]
    return ["settings chosen for this token:", *(chosen or ["  (none: the defaults apply)"])]


# --- serve -------------------------------------------------------------------------------------


class HttpError(Exception):
    def __init__(self, status: int, message: str, errors: Sequence[dict] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, list(errors)


@dataclass(frozen=True)
class ServeConfig:
    credentials: Credentials
    profiles: ProfileStore
    bearer_secret: str | None = field(default=None, repr=False)
    allowed_agents: frozenset[str] = frozenset()
    default_agent: str | None = None
    valid_for: dt.timedelta = dt.timedelta(minutes=15)
    cors_origins: frozenset[str] = frozenset({"*"})


CONFIG = web.AppKey("config", ServeConfig)


def make_app(config: ServeConfig) -> web.Application:
    app = web.Application(middlewares=[json_errors_and_cors], client_max_size=MAX_BODY_BYTES)
    app[CONFIG] = config
    app.router.add_post(ENDPOINT_PATH, handle_connection_details)
    app.router.add_route("OPTIONS", ENDPOINT_PATH, handle_preflight)
    app.router.add_get(HEALTH_PATH, handle_health)
    return app


@web.middleware
async def json_errors_and_cors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except HttpError as exc:
        response = error_response(exc.status, exc.message, exc.errors)
    except web.HTTPException as exc:  # 404, 405 and 413 raised by aiohttp itself
        response = error_response(exc.status, exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    add_cors_headers(request, response)
    return response


def error_response(status: int, message: str, errors: Sequence[dict] = ()) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if errors:
        body["errors"] = list(errors)
    response = web.json_response(body, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


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
    body = json_body(await request.read())
    token_request = endpoint_token_request(body, config)
    token = sign(config.credentials, token_request)
    reply = connection_details(config.credentials, token_request, token)
    return web.json_response(reply, status=201)


def check_bearer(request: web.Request, secret: str | None) -> None:
    if not secret:
        return
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(),
                                                             secret.encode()):
        raise HttpError(401, "missing or wrong bearer token")


def json_body(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data) if data.strip() else {}
    except ValueError as exc:
        raise HttpError(400, f"request body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise HttpError(400, "request body must be a JSON object")
    return body


def body_field(body: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    """A TokenSourceRequest field by its proto name, or by the lowerCamel JSON name."""
    camel = api.access_token.snake_to_lower_camel(name)
    value = body.get(name, body.get(camel, default))
    if value is None:
        return default
    if not isinstance(value, kind):
        raise HttpError(400, f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def check_size(name: str, text: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise HttpError(413, f"{name} is {size} bytes, over the {MAX_METADATA_BYTES} byte limit")


def request_attributes(body: Mapping[str, Any]) -> dict[str, str]:
    attributes = body_field(body, "participant_attributes", dict, {})
    if not all(isinstance(v, str) for v in attributes.values()):
        raise HttpError(400, "participant_attributes values must be strings")
    check_size("participant_attributes", json.dumps(attributes, ensure_ascii=False))
    return attributes


def request_agents(body: Mapping[str, Any], config: ServeConfig) -> list[tuple[str, str]]:
    room_config = body_field(body, "room_config", dict, {})
    refused = sorted(set(room_config) - {"agents"})
    if refused:
        raise HttpError(403, f"room_config.{refused[0]} may not be set by a client; "
                        "only room_config.agents is accepted")
    agents = []
    for entry in body_field(room_config, "agents", list, []):
        if not isinstance(entry, dict):
            raise HttpError(400, "room_config.agents entries must be objects")
        agents.append((body_field(entry, "agent_name", str, "") or config.default_agent or "",
                       body_field(entry, "metadata", str, "")))
    if not agents and config.default_agent:
        agents.append((config.default_agent, ""))
    for name, metadata in agents:
        check_agent(name, config.allowed_agents)
        check_size("room_config.agents.metadata", metadata)
    return agents


def check_agent(name: str, allowed: frozenset[str]) -> None:
    if allowed and name not in allowed:
        choices = ", ".join(sorted(allowed))
        raise HttpError(403, f"agent {name!r} is not allowed; allowed: {choices}")


def operator_fields_in(metadata: str) -> list[str]:
    try:
        document = json.loads(metadata) if metadata.strip() else {}
    except ValueError:
        return []  # not JSON: resolve() reports it as a 400
    keys = document if isinstance(document, dict) else {}
    return sorted({canonical_key(k) for k in keys} & OPERATOR_FIELDS)


def validate_request_settings(metadata: str, agents: Sequence[tuple[str, str]],
                              store: ProfileStore) -> Resolution:
    # Operator-only fields choose (paid) models: a browser must not pick them, in either place.
    for raw in [metadata, *(m for _, m in agents)]:
        if refused := operator_fields_in(raw):
            raise HttpError(403, f"{', '.join(refused)} may only be set by the operator "
                            "(profiles), not by a client", [{"field": f} for f in refused])
    resolutions = [resolve(participant=metadata or None, dispatch=m or None, profiles=store)
                   for _, m in agents] or [resolve(participant=metadata or None, profiles=store)]
    errors = [e.to_dict() for r in resolutions for e in r.errors]
    if errors:
        raise HttpError(400, "invalid settings", errors)
    return resolutions[0]


def endpoint_token_request(body: Mapping[str, Any], config: ServeConfig) -> TokenRequest:
    metadata = body_field(body, "participant_metadata", str, "")
    check_size("participant_metadata", metadata)
    attributes = request_attributes(body)
    agents = request_agents(body, config)
    validate_request_settings(metadata, agents, config.profiles)
    return TokenRequest(
        room=body_field(body, "room_name", str, "") or f"voice-{secrets.token_hex(4)}",
        identity=body_field(body, "participant_identity", str, "")
        or f"user-{secrets.token_hex(4)}",
        name=body_field(body, "participant_name", str, ""), metadata=metadata,
        attributes=attributes, agents=agents, valid_for=config.valid_for)


def serve_config(args: argparse.Namespace, env: Mapping[str, str]) -> ServeConfig:
    allowed = set(args.allow_agent)
    allowed.update(a.strip() for a in env.get(ENV_ALLOWED_AGENTS, "").split(",") if a.strip())
    return ServeConfig(
        credentials=load_credentials(env, dev=args.dev), profiles=load_profiles(),
        bearer_secret=env.get(ENV_SERVER_SECRET) or None, allowed_agents=frozenset(allowed),
        default_agent=args.agent, valid_for=args.valid_for,
        cors_origins=frozenset(args.cors_origin or ["*"]))


async def run_server(config: ServeConfig, host: str, port: int) -> None:
    runner = web.AppRunner(make_app(config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    auth = "bearer token required" if config.bearer_secret else "no auth (set TOKEN_SERVER_SECRET)"
    agents = ", ".join(sorted(config.allowed_agents)) or "any"
    print(f"serving POST http://{host}:{bound_port}{ENDPOINT_PATH} ({auth}; agents: {agents})",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    config = serve_config(args, env)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_server(config, args.host, args.port))
    return EXIT_OK


# --- update ------------------------------------------------------------------------------------


def update_patch(args: argparse.Namespace, store: ProfileStore) -> dict[str, Any]:
    participant, operator = requested_settings(args)
    if operator:
        raise usage_error(f"{', '.join(operator)}: operator-only, fixed for the job by the "
                          "dispatch metadata; a live participant update cannot change it")
    patch = with_values(app_metadata(args), participant)
    checked(resolve(participant=encode(patch, "metadata") or None, profiles=store))
    return patch


def merged_metadata(current: str, patch: Mapping[str, Any], unset: Sequence[str],
                    replace: bool) -> dict[str, Any]:
    if replace:
        return dict(patch)
    try:
        document = json_object(current, "current metadata")
    except ToolError:
        raise ToolError("the participant's current metadata is not a JSON object; "
                        "use --replace to overwrite it") from None
    return with_values(without_fields(document, unset), patch)


async def update_participant(credentials: Credentials, args: argparse.Namespace,
                             patch: Mapping[str, Any], store: ProfileStore) -> str:
    unset = [canonical_key(k) or k for k in args.unset]
    async with api.LiveKitAPI(credentials.url, credentials.api_key,
                              credentials.api_secret) as lkapi:
        current = ""
        if not args.replace:
            who = api.RoomParticipantIdentity(room=args.room, identity=args.identity)
            current = (await lkapi.room.get_participant(who)).metadata
        metadata = encode(merged_metadata(current, patch, unset, args.replace), "metadata")
        note_unknown_keys(checked(resolve(participant=metadata or None, profiles=store)))
        request = api.UpdateParticipantRequest(room=args.room, identity=args.identity,
                                               metadata=metadata)
        await lkapi.room.update_participant(request)
    return metadata


def cmd_update(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    store = load_profiles()
    patch = update_patch(args, store)
    if not patch and not args.unset and not args.replace:
        raise usage_error("nothing to update: give --set, --instructions, --profile, "
                          "--metadata or --unset")
    credentials = load_credentials(env, dev=args.dev)
    try:
        metadata = asyncio.run(update_participant(credentials, args, patch, store))
    except api.ServerError as exc:
        raise ToolError(f"LiveKit server refused: {exc.code}: {exc.message}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ToolError(f"cannot reach {credentials.url}: {exc}") from None
    print(f"updated {args.identity} in {args.room}; metadata is now:\n{metadata or '(empty)'}")
    changed = sorted({canonical_key(k) for k in [*patch, *args.unset]} - {None})
    live = [name for name in changed if name in LIVE_FIELDS]
    later = [name for name in changed if name not in LIVE_FIELDS]
    if live:
        print(f"applies live, from the agent's next reply: {', '.join(live)}")
    if later:
        print(f"applies from the participant's next session: {', '.join(later)}")
    return EXIT_OK


# --- inspect -----------------------------------------------------------------------------------


def verify(token: str, credentials: Credentials) -> tuple[api.access_token.Claims, dict]:
    verifier = api.TokenVerifier(credentials.api_key, credentials.api_secret)
    try:
        claims = verifier.verify(token)
    except jwt.PyJWTError as exc:
        raise ToolError(f"token does not verify with the configured credentials: {exc}") from None
    return claims, jwt.decode(token, options={"verify_signature": False})


def timestamp(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def inspect_report(token: str, credentials: Credentials, store: ProfileStore) -> dict[str, Any]:
    claims, raw = verify(token, credentials)
    agents = list(claims.room_config.agents) if claims.room_config else []
    dispatch = [{"agent_name": a.agent_name, "metadata": a.metadata} for a in agents]
    resolution = resolve(participant=claims.metadata or None,
                         dispatch=(agents[0].metadata or None) if agents else None,
                         profiles=store)
    return {
        "identity": claims.identity, "name": claims.name,
        "room": claims.video.room if claims.video else "",
        "grants": grants_json(claims.video) if claims.video else {},
        "not_before": timestamp(raw.get("nbf")), "expires_at": timestamp(raw.get("exp")),
        "metadata": claims.metadata, "attributes": claims.attributes or {},
        "dispatch": dispatch, "settings": resolution.settings.model_dump(mode="json"),
        "sources": {k: str(v) for k, v in resolution.sources.items()},
        "errors": [e.to_dict() for e in resolution.errors],
        "unknown_keys": [{"source": str(s), "key": k} for s, k in resolution.unknown_keys],
    }


def render_inspect(report: Mapping[str, Any]) -> str:
    lines = [f"identity:   {report['identity']}", f"name:       {report['name'] or '-'}",
             f"room:       {report['room'] or '-'}", f"grants:     {json.dumps(report['grants'])}",
             f"expires at: {report['expires_at']}", f"metadata:   {report['metadata'] or '-'}"]
    lines += [f"dispatch:   {d['agent_name'] or '(unnamed)'} (metadata: {d['metadata'] or '-'})"
              for d in report["dispatch"]] or ["dispatch:   none"]
    lines.append("settings chosen for this token:")
    chosen = [f"  {k} = {json.dumps(report['settings'][k], ensure_ascii=False)}  ({s})"
              for k, s in report["sources"].items() if s not in BASELINE]
    lines += chosen or ["  (none: the defaults apply)"]
    lines += [f"invalid: {e['field']} = {json.dumps(e['value'])}: {e['message']}"
              for e in report["errors"]]
    return "\n".join(lines)


def cmd_inspect(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    token = sys.stdin.read().strip() if args.token == "-" else args.token.strip()
    credentials = load_credentials(env, dev=args.dev, need_url=False)
    report = inspect_report(token, credentials, load_profiles())
    text = json.dumps(report, indent=2, ensure_ascii=False) if args.json else render_inspect(report)
    print(text)
    return EXIT_USAGE if report["errors"] else EXIT_OK


# --- Command line ------------------------------------------------------------------------------

CREDENTIALS_HELP = f"""\
Credentials: {ENV_URL}, {ENV_KEY}, {ENV_SECRET} from the environment or ./.env.local
(the environment wins), never on the command line."""


def add_dev(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dev", action="store_true",
                        help=f"use a local `livekit-server --dev`: key {DEV_API_KEY}, "
                        f"secret {DEV_API_SECRET}, url {DEV_URL}")


def add_settings_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (validated before anything is signed or sent)")
    group.add_argument("--profile", metavar="NAME", help="start from this profile in profiles/")
    group.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                       help="a setting, e.g. endpointing_ms=300 (VALUE is JSON if it parses, "
                       "else text); repeatable; operator-only fields (stt_model, llm_model, ...) "
                       "go to the dispatch metadata")
    group.add_argument("--instructions", metavar="TEXT", help="the agent's system prompt")
    source = group.add_mutually_exclusive_group()
    source.add_argument("--metadata", metavar="JSON",
                        help="the app's participant metadata (a JSON object); keys that are not "
                        "settings pass through untouched")
    source.add_argument("--metadata-file", metavar="PATH", help="read --metadata from a file")


def add_mint_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--room", required=True, type=non_empty, help="room the token joins")
    parser.add_argument("-i", "--identity", type=non_empty,
                        help="participant identity (default: user-<random>)")
    parser.add_argument("-n", "--name", help="participant display name")
    parser.add_argument("--attribute", metavar="KEY=VALUE", action="append", default=[],
                        help="participant attribute; repeatable")
    parser.add_argument("--attribute-file", metavar="PATH",
                        help="JSON object of string attributes")
    add_settings_args(parser)
    dispatch = parser.add_argument_group("agent dispatch")
    dispatch.add_argument("--agent", metavar="NAME", help="dispatch this agent into the room")
    dispatch.add_argument("--job-metadata", metavar="JSON",
                          help="dispatch metadata (a JSON object of settings); needs --agent")
    parser.add_argument("--valid-for", type=parse_duration, default=DEFAULT_VALID_FOR,
                        metavar="DURATION", help="token lifetime, e.g. 90s, 15m, 1h30m "
                        f"(default {DEFAULT_VALID_FOR})")
    parser.add_argument("--allow-update-metadata", action="store_true",
                        help="grant canUpdateOwnMetadata: the user can then rewrite their own "
                        "settings and instructions mid-call (off by default)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print {access_token, project_url, "
                        "identity, name, room, grants, settings}")
    output.add_argument("--token-only", action="store_true", help="print only the token")
    output.add_argument("--connection-details", action="store_true", help="print {server_url, "
                        "participant_token, room_name, participant_name}")
    add_dev(parser)


def add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to bind, 0 for any free one (default {DEFAULT_PORT})")
    parser.add_argument("--allow-agent", metavar="NAME", action="append", default=[],
                        help="agent names a client may dispatch (repeatable; also "
                        f"{ENV_ALLOWED_AGENTS}=a,b); others get 403. Default: any")
    parser.add_argument("--agent", metavar="NAME",
                        help="agent to dispatch when a request names none")
    parser.add_argument("--valid-for", type=parse_duration, default=DEFAULT_VALID_FOR,
                        metavar="DURATION", help=f"token lifetime (default {DEFAULT_VALID_FOR})")
    parser.add_argument("--cors-origin", metavar="ORIGIN", action="append",
                        help="browser origin allowed to call the endpoint (repeatable; "
                        "default: any)")
    add_dev(parser)


def add_update_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--room", required=True, type=non_empty,
                        help="room the participant is in")
    parser.add_argument("-i", "--identity", required=True, type=non_empty,
                        help="participant identity")
    add_settings_args(parser)
    parser.add_argument("--unset", metavar="KEY", action="append", default=[],
                        help="remove this key (any spelling of the field) from the metadata")
    parser.add_argument("--replace", action="store_true",
                        help="replace the metadata instead of merging with the current one")
    add_dev(parser)


def add_inspect_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("token", metavar="TOKEN", help="the JWT, or - to read it from stdin")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_dev(parser)


def _wrapped(names: frozenset[str]) -> str:
    return textwrap.fill(", ".join(sorted(names)), width=96, initial_indent="  ",
                         subsequent_indent="  ")


EXIT_HELP = "Exit status: 0 done, 1 failure (credentials, server, token), 2 invalid settings/usage."
MINT_HELP = f"""\
Settings a participant may set (they go in the participant metadata):
{_wrapped(PARTICIPANT_FIELDS)}
Operator-only settings (they go in the dispatch metadata, so they need --agent):
{_wrapped(OPERATOR_FIELDS)}
{EXIT_HELP}"""
UPDATE_HELP = f"""\
Settings a participant may set:
{_wrapped(PARTICIPANT_FIELDS)}
Of these, {", ".join(sorted(LIVE_FIELDS))} applies live (the agent's next reply); the others
apply from the participant's next session. Operator-only settings cannot change mid-call.
{EXIT_HELP}"""

SERVE_HELP = f"""\
HTTP endpoint that livekit-client's TokenSource.endpoint(url) uses unchanged.

  POST {ENDPOINT_PATH}
    body: {{room_name, participant_name, participant_identity, participant_metadata,
            participant_attributes, room_config: {{agents: [{{agent_name, metadata}}]}}}}
    201 {{server_url, participant_token, room_name, participant_name}}
    400 body not JSON, or invalid settings: {{error, errors: [{{field, value, message, source}}]}}
    401 {ENV_SERVER_SECRET} is set and "Authorization: Bearer <it>" is missing or wrong
    403 agent outside the allow-list; operator-only setting or room option sent by the client
    413 a metadata or attributes value over {MAX_METADATA_BYTES} bytes
  OPTIONS {ENDPOINT_PATH}  CORS preflight
  GET {HEALTH_PATH}  health check"""

COMMANDS = {
    "mint": (add_mint_args, cmd_mint,
             "mint a join token carrying validated settings (the default command)"),
    "serve": (add_serve_args, cmd_serve,
              f"serve POST {ENDPOINT_PATH} for livekit-client TokenSource.endpoint"),
    "update": (add_update_args, cmd_update,
               "change a live participant's settings via RoomService.UpdateParticipant, "
               "merged with the current metadata unless --replace"),
    "inspect": (add_inspect_args, cmd_inspect,
                "verify a token and show its identity, grants, expiry, settings and dispatch; "
                "exits 2 when its settings are invalid"),
}
DESCRIPTIONS = {"serve": SERVE_HELP}
EPILOGS = {"mint": MINT_HELP, "update": UPDATE_HELP, "inspect": EXIT_HELP}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="token_tool.py", description=__doc__, epilog=CREDENTIALS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add_args, run, summary) in COMMANDS.items():
        epilog = "\n".join(filter(None, [EPILOGS.get(name), CREDENTIALS_HELP]))
        sub = commands.add_parser(
            name, help=summary, description=DESCRIPTIONS.get(name, summary), epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        add_args(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {*COMMANDS, "-h", "--help"}:
        argv.insert(0, "mint")
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "dev", False):  # the dev secret is short by design; nothing to warn about
            warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)
        return args.run(args, environment())
    except SystemExit as exc:  # argparse: --help and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
