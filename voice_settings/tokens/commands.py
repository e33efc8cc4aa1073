"""What each token_tool command does with its parsed arguments and the environment: mint, serve,
update, inspect. Each returns the exit status."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import sys
from collections.abc import Mapping

from ..json_input import MAX_DOCUMENT_BYTES
from ..profiles import ProfileError, ProfileStore
from ..resolution import Resolution
from ..store import ProfileBackend, StoreError, load_strict, open_backend
from ..tool_errors import EXIT_OK, EXIT_USAGE, ToolError, UsageError, read_at_most
from . import participant_update, profile_api, serve_config, settings_input, signing
from . import report as token_report
from . import server as token_server
from .credentials import Credentials, load_credentials


def open_profiles() -> tuple[ProfileBackend, ProfileStore]:
    """The store ($VOICE_PROFILES_URL, else the profiles directory) and its profiles, all valid."""
    try:
        backend = open_backend()
        return backend, load_strict(backend)
    except ProfileError as exc:
        raise ToolError(f"cannot load profiles: {exc}") from None
    except StoreError as exc:
        raise ToolError(f"cannot load profiles: {exc.message}") from None


def load_profiles() -> ProfileStore:
    backend, store = open_profiles()
    backend.close()
    return store


def checked_secret(env: Mapping[str, str], name: str) -> str | None:
    """A bearer secret from the environment, or None; UsageError for one that is not UTF-8
    (a header could never match it)."""
    secret = env.get(name) or None
    if secret is not None:
        try:
            secret.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{name} is not valid UTF-8 text; set it to a long random ASCII "
                             "string") from None
    return secret


def asked_settings(args: argparse.Namespace) -> settings_input.SettingsInput:
    return settings_input.SettingsInput(args.set, args.instructions, args.profile,
                                        args.metadata, args.metadata_file)


def cmd_mint(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    metadata = settings_input.mint_metadata(asked_settings(args), args.job_metadata,
                                            args.agent, load_profiles())
    request = signing.TokenRequest(
        room=args.room, identity=args.identity or f"user-{secrets.token_hex(4)}",
        name=args.name or "", metadata=metadata.participant,
        attributes=settings_input.attributes(args.attribute, args.attribute_file),
        agents=[(args.agent, metadata.dispatch)] if args.agent else [],
        valid_for=args.valid_for, allow_update_metadata=args.allow_update_metadata)
    credentials = load_credentials(env, dev=args.dev, need_url=not args.token_only)
    settings_input.note_unknown_keys(metadata.resolution)
    if not args.agent:
        print("note: no --agent: this token dispatches no agent, so none joins the room unless "
              "it is dispatched another way; add --agent NAME (agent.py registers as "
              "settings-agent unless AGENT_NAME says otherwise)", file=sys.stderr)
    if args.allow_update_metadata:
        print("warning: --allow-update-metadata lets this user rewrite their own settings and "
              "instructions mid-call", file=sys.stderr)
    token = signing.sign(credentials, request)
    print(render_mint(args, credentials, request, token, metadata.resolution))
    return EXIT_OK


def render_mint(args: argparse.Namespace, credentials: Credentials,
                request: signing.TokenRequest, token: str, resolution: Resolution) -> str:
    if args.token_only:
        return token
    if args.connection_details:
        return json.dumps(signing.connection_details(credentials, request, token), indent=2)
    if args.json:
        report = token_report.mint_report(credentials, request, token, resolution)
        return json.dumps(report, indent=2, ensure_ascii=False)
    summary = token_report.mint_summary(credentials, request, resolution)
    return f"{summary}\n\naccess token:\n{token}"


def serve_credentials(args: argparse.Namespace, env: Mapping[str, str]) -> Credentials | None:
    """The LiveKit credentials, or None (said on stderr): the page and the profile API work
    without them; connection details and calls do not."""
    try:
        return load_credentials(env, dev=args.dev)
    except ToolError as exc:
        print(f"note: {exc}; POST {token_server.ENDPOINT_PATH} answers 503 and the page cannot "
              "call until then", file=sys.stderr)
        return None


def cmd_serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    bearer_secret = checked_secret(env, token_server.ENV_SERVER_SECRET)
    admin_secret = checked_secret(env, profile_api.ENV_ADMIN_SECRET)
    if admin_secret is not None and admin_secret == bearer_secret:
        raise UsageError(f"{profile_api.ENV_ADMIN_SECRET} must differ from "
                         f"{token_server.ENV_SERVER_SECRET}: browsers hold that one, and it "
                         "must not let them edit profiles")
    credentials = serve_credentials(args, env)
    backend, profiles = open_profiles()
    config = token_server.ServeConfig(
        credentials=credentials, profiles=profiles, backend=backend,
        bearer_secret=bearer_secret,
        allowed_agents=serve_config.allowed_agents(args.allow_agent, env),
        default_agent=args.agent, valid_for=args.valid_for,
        cors_origins=frozenset(args.cors_origin or ["*"]),
        profiles_admin_secret=admin_secret, body_timeout_s=args.read_timeout)
    # One line per request (the access log) and per profile written, deleted, reloaded or
    # refused; never a secret.
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(token_server.run_server(config, args.host, args.port))
    except OSError as exc:  # port in use, an address this host does not have, a bad name
        raise UsageError(f"cannot serve on {token_server.base_url(args.host, args.port)}: "
                         f"{exc.strerror or exc}") from None
    return EXIT_OK


def cmd_update(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    store = load_profiles()
    patch = participant_update.update_patch(asked_settings(args), store)
    if not patch and not args.unset and not args.replace:
        raise UsageError("nothing to update: give --set, --instructions, --profile, "
                         "--metadata or --unset")
    credentials = load_credentials(env, dev=args.dev)
    update = participant_update.ParticipantUpdate(args.room, args.identity, patch, args.unset,
                                                  args.replace)
    metadata = participant_update.send_update(credentials, update, store, args.timeout)
    print(f"updated {args.identity} in {args.room}; metadata is now:\n{metadata or '(empty)'}")
    live, later = participant_update.when_applied(update)
    if live:
        print(f"applies live, from the agent's next reply: {', '.join(live)}")
    if later:
        print(f"applies from the participant's next session: {', '.join(later)}")
    return EXIT_OK


MAX_TOKEN_BYTES = 4 * MAX_DOCUMENT_BYTES
"""A token carries metadata and attributes (64 KiB each at most), base64url-encoded, and more."""


def token_from_stdin() -> str:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # an in-memory text stream
        return sys.stdin.read(MAX_TOKEN_BYTES + 1).strip()
    data = read_at_most(stream, "the token on stdin", MAX_TOKEN_BYTES)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise UsageError(f"the token on stdin is not UTF-8 text (byte {exc.start}); a token is "
                         "ASCII, as mint prints it") from None


def cmd_inspect(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    token = token_from_stdin() if args.token == "-" else args.token.strip()
    token_report.check_is_token(token)
    credentials = load_credentials(env, dev=args.dev, need_url=False)
    report = token_report.inspect_report(token, credentials, load_profiles())
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json
          else token_report.render_inspect(report))
    return EXIT_USAGE if report["errors"] else EXIT_OK
