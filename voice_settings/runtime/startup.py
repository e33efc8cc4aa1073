"""What importing `agent.py` does before the worker exists, for `python agent.py <command>` and
`python -m livekit.agents <command> agent.py` alike.

- `.env.local` is loaded.
- The multilingual turn-detector plugin is imported for `download-files` (to fetch its model)
  and for a worker when its files are here; otherwise it is left out, or its runners fail at
  start with tracebacks.
- In the main process of a worker command, the configuration is read and the operator's
  profiles are checked: a broken profile would otherwise fail every job process's setup, and the
  framework restarts those in a loop. The process exits 1 naming the file and the problem.

Job processes (and tests importing the agent) read the configuration in the setup function.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence

from dotenv import load_dotenv

from .config import WORKER_COMMANDS, AgentConfig
from .turn_detector import import_plugin_if_usable

ENV_FILE = ".env.local"


def start_up(argv: Sequence[str]) -> str:
    """Run the start-up steps above for `argv`; the name the worker registers as ("" in a
    process that registers no worker)."""
    load_dotenv(ENV_FILE)
    command = argv[1] if len(argv) > 1 else None  # start, dev, console, download-files
    import_plugin_if_usable(command)
    if command not in WORKER_COMMANDS or multiprocessing.parent_process() is not None:
        return ""
    config = AgentConfig.from_env()
    if problem := config.profiles_problem():
        sys.exit(f"cannot start the agent: {problem}")
    return config.agent_name
