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
import json
import logging
import re
import secrets
import sys
import textwrap
import warnings
from collections.abc import Mapping, Sequence

import jwt

from voice_settings import (
    LIVE_FIELDS,
    OPERATOR_FIELDS,
    PARTICIPANT_FIELDS,
    ProfileError,
    ProfileStore,
    Resolution,
    participant_update,
    profile_api,
    token_report,
    token_server,
    tokens,
)
from voice_settings.credentials import (
    CREDENTIALS_HELP,
    DEV_HELP,
    Credentials,
    environment,
    load_credentials,
)
from voice_settings.tool_errors import EXIT_OK, EXIT_USAGE, ToolError, usage_error

DEFAULT_VALID_FOR = "15m"
DEFAULT_PORT = 8081


def load_profiles() -> ProfileStore:
    try:
        return ProfileStore.load()
    except ProfileError as exc:
        raise ToolError(f"cannot load profiles: {exc}") from None


def settings_input(args: argparse.Namespace) -> tokens.SettingsInput:
    return tokens.SettingsInput(args.set, args.instructions, args.profile, args.metadata,
                                args.metadata_file)


# --- Commands ----------------------------------------------------------------------------------


def cmd_mint(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    metadata = tokens.mint_metadata(settings_input(args), args.job_metadata, args.agent,
                                    load_profiles())
    request = tokens.TokenRequest(
        room=args.room, identity=args.identity or f"user-{secrets.token_hex(4)}",
        name=args.name or "", metadata=metadata.participant,
        attributes=tokens.attributes(args.attribute, args.attribute_file),
        agents=[(args.agent, metadata.dispatch)] if args.agent else [],
        valid_for=args.valid_for, allow_update_metadata=args.allow_update_metadata)
    credentials = load_credentials(env, dev=args.dev, need_url=not args.token_only)
    tokens.note_unknown_keys(metadata.resolution)
    if args.allow_update_metadata:
        print("warning: --allow-update-metadata lets this user rewrite their own settings and "
              "instructions mid-call", file=sys.stderr)
    token = tokens.sign(credentials, request)
    print(render_mint(args, credentials, request, token, metadata.resolution))
    return EXIT_OK


def render_mint(args: argparse.Namespace, credentials: Credentials,
                request: tokens.TokenRequest, token: str, resolution: Resolution) -> str:
    if args.token_only:
        return token
    if args.connection_details:
        return json.dumps(tokens.connection_details(credentials, request, token), indent=2)
    if args.json:
        report = token_report.mint_report(credentials, request, token, resolution)
        return json.dumps(report, indent=2, ensure_ascii=False)
    summary = token_report.mint_summary(credentials, request, resolution)
    return f"{summary}\n\naccess token:\n{token}"


def cmd_serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    config = token_server.ServeConfig(
        credentials=load_credentials(env, dev=args.dev), profiles=load_profiles(),
        bearer_secret=env.get(token_server.ENV_SERVER_SECRET) or None,
        allowed_agents=token_server.allowed_agents(args.allow_agent, env),
        default_agent=args.agent, valid_for=args.valid_for,
        cors_origins=frozenset(args.cors_origin or ["*"]),
        profiles_admin_secret=env.get(profile_api.ENV_ADMIN_SECRET) or None)
    # One line per profile written, deleted, reloaded or refused; never a secret.
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(token_server.run_server(config, args.host, args.port))
    return EXIT_OK


def cmd_update(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    store = load_profiles()
    patch = participant_update.update_patch(settings_input(args), store)
    if not patch and not args.unset and not args.replace:
        raise usage_error("nothing to update: give --set, --instructions, --profile, "
                          "--metadata or --unset")
    credentials = load_credentials(env, dev=args.dev)
    update = participant_update.ParticipantUpdate(args.room, args.identity, patch, args.unset,
                                                  args.replace)
    metadata = participant_update.send_update(credentials, update, store)
    print(f"updated {args.identity} in {args.room}; metadata is now:\n{metadata or '(empty)'}")
    live, later = participant_update.when_applied(update)
    if live:
        print(f"applies live, from the agent's next reply: {', '.join(live)}")
    if later:
        print(f"applies from the participant's next session: {', '.join(later)}")
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    token = sys.stdin.read().strip() if args.token == "-" else args.token.strip()
    credentials = load_credentials(env, dev=args.dev, need_url=False)
    report = token_report.inspect_report(token, credentials, load_profiles())
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json
          else token_report.render_inspect(report))
    return EXIT_USAGE if report["errors"] else EXIT_OK


# --- Command line ------------------------------------------------------------------------------


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

def add_dev(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dev", action="store_true", help=DEV_HELP)


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
                        f"{token_server.ENV_ALLOWED_AGENTS}=a,b); others get 403. Default: any")
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
The merge reads the current metadata, then writes it back, and LiveKit has no compare-and-set:
a change someone else makes in between is lost; --replace skips the read and the merge.
{EXIT_HELP}"""


COMMANDS = {
    "mint": (add_mint_args, cmd_mint,
             "mint a join token carrying validated settings (the default command)"),
    "serve": (add_serve_args, cmd_serve,
              f"serve POST {token_server.ENDPOINT_PATH} for livekit-client "
              "TokenSource.endpoint"),
    "update": (add_update_args, cmd_update,
               "change a live participant's settings via RoomService.UpdateParticipant, "
               "merged with the current metadata unless --replace"),
    "inspect": (add_inspect_args, cmd_inspect,
                "verify a token and show its identity, grants, expiry, settings and dispatch; "
                "exits 2 when its settings are invalid"),
}
DESCRIPTIONS = {"serve": token_server.ENDPOINT_HELP}
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
