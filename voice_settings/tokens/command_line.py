"""The token_tool command line: each command's flags and help, and the function that runs it."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import re
import textwrap

from ..errors import closest
from ..model import LIVE_FIELDS, OPERATOR_FIELDS, PARTICIPANT_FIELDS
from ..tool_errors import UsageError
from . import commands, serve_config
from . import server as token_server
from .credentials import CREDENTIALS_HELP, DEV_HELP
from .participant_update import DEFAULT_TIMEOUT_S

DEFAULT_VALID_FOR = "15m"
MAX_VALID_FOR = dt.timedelta(days=10 * 365)
"""Longer lifetimes overflow the expiry date (year 9999) well before they mean anything."""
DEFAULT_PORT = 8090
"""Not 8081: that is the livekit agents worker's health-check port, often on the same host."""


def non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0, e.g. 2.5")
    return seconds


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number: 0-65535, 0 for any free "
                                         "one")
    return port


def parse_duration(text: str) -> dt.timedelta:
    """A Go-style duration as `lk` takes it: 90s, 15m, 1h30m, 2.5h."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m or 1h30m")
    unit_seconds = {"h": 3600, "m": 60, "s": 1}
    seconds = sum(float(n) * unit_seconds[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a token must be valid for some time")
    if seconds > MAX_VALID_FOR.total_seconds():
        raise argparse.ArgumentTypeError(f"{text!r} is longer than the longest lifetime "
                                         f"allowed, {MAX_VALID_FOR.days // 365} years")
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
    parser.add_argument("-n", "--name", help="participant display name (default: the identity)")
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
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                        help=f"port to bind, 0 for any free one (default {DEFAULT_PORT}; not "
                        "8081, the agent worker's health-check port)")
    parser.add_argument("--read-timeout", type=positive_seconds, metavar="SECONDS",
                        default=serve_config.DEFAULT_BODY_TIMEOUT_S,
                        help="answer 408 to a request whose body has not all arrived after this "
                        f"long (default {serve_config.DEFAULT_BODY_TIMEOUT_S:g})")
    parser.add_argument("--allow-agent", metavar="NAME", action="append", default=[],
                        help="agent names a client may dispatch (repeatable; also "
                        f"{serve_config.ENV_ALLOWED_AGENTS}=a,b); others get 403. Default: any")
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
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_S,
                        metavar="SECONDS", help="give up after this long for the whole update "
                        f"(default {DEFAULT_TIMEOUT_S:g}); the change may then have been applied")
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
    "mint": (add_mint_args, commands.cmd_mint,
             "mint a join token carrying validated settings (the default command)"),
    "serve": (add_serve_args, commands.cmd_serve,
              f"serve POST {token_server.ENDPOINT_PATH} for livekit-client "
              "TokenSource.endpoint"),
    "update": (add_update_args, commands.cmd_update,
               "change a live participant's settings via RoomService.UpdateParticipant, "
               "merged with the current metadata unless --replace"),
    "inspect": (add_inspect_args, commands.cmd_inspect,
                "verify a token and show its identity, grants, expiry, settings and dispatch; "
                "exits 2 when its settings are invalid"),
}
DESCRIPTIONS = {"serve": token_server.ENDPOINT_HELP}
EPILOGS = {"mint": MINT_HELP, "update": UPDATE_HELP, "inspect": EXIT_HELP}


HELP_COMMAND = "help"


GLOBAL_FLAGS = frozenset({"--dev"})
"""Flags every command takes, so they may come before the command too: `--dev inspect TOKEN`."""


def explicit_command(argv: list[str]) -> list[str]:
    """`argv` with its command spelled out: mint when it starts with an option (mint takes no
    positional argument, so a first word is always a command), `help [COMMAND]` as --help, and
    global flags given before the command moved after it, where its parser reads them."""
    leading = list(itertools.takewhile(GLOBAL_FLAGS.__contains__, argv))
    argv = argv[len(leading):]
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return ["mint", *leading, *argv]
    if argv[0] == HELP_COMMAND:
        topic = [word for word in argv[1:2] if word != HELP_COMMAND]
        _check_command(topic)
        return [*topic, "--help"]
    _check_command(argv[:1])
    return [argv[0], *leading, *argv[1:]]


def _check_command(words: list[str]) -> None:
    for word in words:
        if word not in COMMANDS and not word.startswith("-"):
            near = closest(word, [*COMMANDS, HELP_COMMAND])
            hint = f"did you mean {near}? " if near else ""
            raise UsageError(f"unknown command {word!r}; {hint}commands: "
                             f"{', '.join([*COMMANDS, HELP_COMMAND])} (mint is the default: "
                             "token_tool.py -r ROOM ...)")


def build_parser(description: str | None) -> argparse.ArgumentParser:
    """The parser of `token_tool.py`; `description` opens its --help."""
    parser = argparse.ArgumentParser(
        prog="token_tool.py", description=description, epilog=CREDENTIALS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add_args, run, summary) in COMMANDS.items():
        epilog = "\n".join(filter(None, [EPILOGS.get(name), CREDENTIALS_HELP]))
        sub = subparsers.add_parser(
            name, help=summary, description=DESCRIPTIONS.get(name, summary), epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        add_args(sub)
        sub.set_defaults(run=run)
    return parser
