"""What importing `agent.py` does before the worker exists, for `python agent.py <command>` and
`python -m livekit.agents <command> agent.py` alike.

- `.env.local` is loaded.
- The multilingual turn-detector plugin is imported for `download-files` (to fetch its model)
  and for a worker when its files are here; otherwise it is left out, or its runners fail at
  start with tracebacks.
- In the main process of a worker command, the configuration is read and the profile store is
  checked: a broken profile or an unreachable database exits 1 naming the file (or row) and the
  problem. Then the main process follows the store for its job processes (`keep_for_jobs`):
  later faults never fail a job process's start, which the framework would repeat in a loop.

Job processes (and tests importing the agent) read the configuration in the setup function.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from dotenv import load_dotenv

from .config import WORKER_COMMANDS, AgentConfig, checked_store, is_worker_main_process
from .profile_watch import keep_for_jobs
from .turn_detector import import_plugin_if_usable

ENV_FILE = ".env.local"


def start_up(argv: Sequence[str]) -> str:
    """Run the start-up steps above for `argv`; the name the worker registers as ("" in a
    process that registers no worker)."""
    load_dotenv(ENV_FILE)
    command = argv[1] if len(argv) > 1 else None  # start, dev, console, download-files
    import_plugin_if_usable(command)
    if command not in WORKER_COMMANDS:
        return ""
    config = AgentConfig.from_env()
    if is_worker_main_process(command):  # not in job processes: they import agent.py too
        if isinstance(checked := checked_store(command, config=config), str):
            sys.exit(f"cannot start the agent: {checked}")
        keep_for_jobs(*checked)
    return config.agent_name
