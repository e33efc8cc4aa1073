"""Mint, serve, update and inspect LiveKit tokens that carry validated voice settings.

    python token_tool.py [mint] -r ROOM [-i ID] [--profile NAME] [--set KEY=VALUE] [--agent NAME]
    python token_tool.py serve [--host 127.0.0.1] [--port 8090] [--allow-agent NAME]
    python token_tool.py update -r ROOM -i ID --set KEY=VALUE [--replace]
    python token_tool.py inspect TOKEN
    python token_tool.py help [COMMAND]

Credentials come from LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET (the environment, then
./.env.local); `--dev` uses the key pair of a local `livekit-server --dev`. Settings are validated
with voice_settings before anything is signed or sent: participant metadata carries what a
participant may set, operator-only fields travel in the agent dispatch metadata.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

import jwt

from voice_settings.tokens.command_line import build_parser, explicit_command
from voice_settings.tokens.credentials import environment
from voice_settings.tool_errors import EXIT_USAGE, ToolError, print_error


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser(__doc__).parse_args(
            explicit_command(list(sys.argv[1:] if argv is None else argv)))
        if getattr(args, "dev", False):  # the dev secret is short by design; nothing to warn about
            warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)
        return args.run(args, environment())
    except SystemExit as exc:  # argparse: --help and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except ToolError as exc:
        return print_error(exc)


if __name__ == "__main__":
    sys.exit(main())
