"""The agent's own configuration: read from the environment once per process, at start-up.

| variable                    | meaning                                                         |
|-----------------------------|-----------------------------------------------------------------|
| `AGENT_NAME`                | the name the worker registers as (`settings-agent`)             |
| `PARTICIPANT_WAIT_TIMEOUT`  | seconds a dispatched job waits for its participant (120)        |
| `VOICE_PROFILES_URL`        | a PostgreSQL database of profiles (`postgresql://...`), for fleets |
| `VOICE_PROFILES_DIR`        | where profiles live without a database (`profiles/`)            |
| `VOICE_DEFAULT_PROFILE`     | the operator's default profile (`default` when that file exists)|
| `VOICE_SWITCHABLE_PROFILES` | comma-separated profiles a caller may switch to by voice (all)  |
| `DEEPGRAM_BASE_URL`         | a Deepgram-compatible service (Deepgram's own when unset)       |
| `LLM_TIMEOUT`               | seconds an LLM request may go unanswered before it is retried   |
|                             | (10, the framework's default)                                   |
| `TTS_TIMEOUT`               | seconds a TTS request may take to connect before it is retried  |
|                             | (10, the framework's default)                                   |
| `LLM_TTS_RETRY_INTERVAL`    | seconds between the later retries of a failed LLM or TTS        |
|                             | request (2; the framework makes the first retry after 0.1 s)    |

`OPENAI_BASE_URL` and the API keys are read by the plugins themselves.

A profile store that is broken or unreachable stops the worker before it starts
(`checked_store`, from `startup.start_up` in the main process). Later faults never fail a job
process (a setup that raises makes the framework replace the process at once, in a loop): jobs
read the store at their start over the last valid set the main process keeps (`profile_watch`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from livekit.agents import APIConnectOptions
from livekit.agents.voice.agent_session import SessionConnectOptions

from ..profiles import DEFAULT_PROFILE_ENV, PROFILES_DIR_ENV, ProfileError, ProfileStore
from ..store import PROFILES_URL_ENV, ProfileBackend, StoreError, load_strict, open_backend

DEFAULT_AGENT_NAME = "settings-agent"
DEFAULT_WAIT_TIMEOUT = 120.0
DEFAULT_REQUEST_TIMEOUT = APIConnectOptions().timeout
DEFAULT_RETRY_INTERVAL = APIConnectOptions().retry_interval
SECONDS_FROM_ENV = {  # field: (variable, default)
    "participant_wait_timeout": ("PARTICIPANT_WAIT_TIMEOUT", DEFAULT_WAIT_TIMEOUT),
    "llm_timeout": ("LLM_TIMEOUT", DEFAULT_REQUEST_TIMEOUT),
    "tts_timeout": ("TTS_TIMEOUT", DEFAULT_REQUEST_TIMEOUT),
    "retry_interval": ("LLM_TTS_RETRY_INTERVAL", DEFAULT_RETRY_INTERVAL),
}
WORKER_COMMANDS = ("start", "dev", "console", "connect")
"""`python agent.py <command>` forms that run jobs (download-files and --help load no profile)."""


@dataclass(frozen=True)
class AgentConfig:
    agent_name: str = DEFAULT_AGENT_NAME
    participant_wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    """Seconds a dispatched job waits for its participant before it ends."""
    llm_timeout: float = DEFAULT_REQUEST_TIMEOUT
    tts_timeout: float = DEFAULT_REQUEST_TIMEOUT
    retry_interval: float = DEFAULT_RETRY_INTERVAL
    """Seconds between the later retries of a failed LLM or TTS request."""
    profiles_dir: str | None = None
    profiles_url: str | None = field(default=None, repr=False)
    """A database of profiles; it may hold a password."""
    default_profile: str | None = None
    switchable_profiles: tuple[str, ...] | None = None
    """Profiles a caller may switch to by voice; None: every profile."""
    deepgram_base_url: str | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)
    """What was wrong in the environment, and which default was used instead."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AgentConfig:
        env = os.environ if env is None else env
        problems: list[str] = []
        seconds = {name: _seconds_from_env(env, variable, default, problems)
                   for name, (variable, default) in SECONDS_FROM_ENV.items()}
        switchable = env.get("VOICE_SWITCHABLE_PROFILES")
        return cls(
            agent_name=env.get("AGENT_NAME", "").strip() or DEFAULT_AGENT_NAME,
            **seconds,
            profiles_dir=env.get(PROFILES_DIR_ENV) or None,
            profiles_url=env.get(PROFILES_URL_ENV) or None,
            default_profile=env.get(DEFAULT_PROFILE_ENV) or None,
            switchable_profiles=None if switchable is None else tuple(
                name.strip() for name in switchable.split(",") if name.strip()),
            deepgram_base_url=env.get("DEEPGRAM_BASE_URL") or None,
            problems=tuple(problems),
        )

    def profile_backend(self) -> ProfileBackend:
        """The profile store: the database of VOICE_PROFILES_URL, else the directory."""
        return open_backend({PROFILES_URL_ENV: self.profiles_url or ""}, self.profiles_dir,
                            persistent=False)  # a database connection per call: LISTEN's only

    def load_profiles(self) -> ProfileStore:
        """The operator's profiles, all valid; ProfileError names the file (or row), the field
        and the problem; StoreError when the store cannot be read."""
        return load_strict(self.profile_backend(), self.default_profile)

    def switchable(self, profiles: ProfileStore) -> list[str]:
        """Profiles the caller may switch to by voice that exist."""
        if self.switchable_profiles is None:
            return profiles.names()
        return [name for name in self.switchable_profiles if name in profiles]

    def deepgram_endpoint(self) -> dict[str, str]:
        """Keyword arguments that point `deepgram.STT` at DEEPGRAM_BASE_URL, when set."""
        return {"base_url": self.deepgram_base_url} if self.deepgram_base_url else {}

    def session_connect_options(self) -> SessionConnectOptions:
        """For `AgentSession(conn_options=...)`: the LLM's and the TTS's timeouts and retries."""
        def options(timeout: float) -> APIConnectOptions:
            return APIConnectOptions(timeout=timeout, retry_interval=self.retry_interval)

        return SessionConnectOptions(llm_conn_options=options(self.llm_timeout),
                                     tts_conn_options=options(self.tts_timeout))


MAIN_PROCESS_ENV = "VOICE_AGENT_MAIN_PID"


def is_worker_main_process(command: str | None) -> bool:
    """True in the process that runs worker `command`, false in its job processes.

    `multiprocessing.parent_process()` cannot tell: the framework's forkserver, and each job
    process it forks, import agent.py before multiprocessing marks them as children. So the main
    process leaves its pid in the environment, which they inherit.
    """
    if command not in WORKER_COMMANDS:
        return False
    return os.environ.setdefault(MAIN_PROCESS_ENV, str(os.getpid())) == str(os.getpid())


def problem_before_start(command: str | None,
                         env: Mapping[str, str] | None = None) -> str | None:
    """Why a worker for `command` must not start (the file or row, and the problem), or None."""
    checked = checked_store(command, env)
    return checked if isinstance(checked, str) else None


def checked_store(command: str | None, env: Mapping[str, str] | None = None, *,
                  config: AgentConfig | None = None,
                  ) -> str | tuple[ProfileBackend, ProfileStore] | None:
    """The store and its profiles, all valid, for a worker command; the problem as text when
    the worker must not start; None for a command that runs no jobs. `config`: the one read
    from `env` already, if any."""
    if command not in WORKER_COMMANDS:
        return None
    config = config or AgentConfig.from_env(env)
    try:
        backend = config.profile_backend()
        return backend, load_strict(backend, config.default_profile)
    except ProfileError as exc:
        return str(exc)
    except StoreError as exc:  # a directory that is not there, a database that does not answer
        return exc.message


def _seconds_from_env(env: Mapping[str, str], variable: str, default: float,
                      problems: list[str]) -> float:
    """A positive, finite number of seconds from `variable`; `default` (and a problem noted)
    when it is anything else."""
    raw = env.get(variable)
    if raw is None:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if seconds > 0 and math.isfinite(seconds):
        return seconds
    problems.append(f"{variable}={raw!r} is not a positive number of seconds; using {default:g}")
    return default
