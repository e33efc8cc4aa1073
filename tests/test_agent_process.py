"""`python agent.py start|dev|console` as real processes: what an operator sees at start-up.

No LiveKit server: LIVEKIT_URL points at a closed port (the worker keeps retrying to register),
and the providers' base URLs at a closed port too. Timeouts here are safety nets, never the
assertion: a process that must end is asserted to have ended on its own.
"""

from __future__ import annotations

import ctypes.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAFETY_NET_S = 240.0  # a loaded 2-core machine needs ~20 s just to start the worker's forkserver
CLOSED = "127.0.0.1:1"


@dataclass
class Run:
    output: str
    returncode: int | None
    """None when the process was still running and had to be stopped."""

    def count(self, text: str) -> int:
        return self.output.count(text)


def offline_agent_env(env: dict[str, str] | None = None,
                      home: Path | None = None) -> dict[str, str]:
    """The environment of an agent process with no LiveKit server and no providers."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("LIVEKIT_", "DEEPGRAM_", "OPENAI_", "VOICE_", "HF_"))}
    return {**clean, "LIVEKIT_URL": f"ws://{CLOSED}", "LIVEKIT_API_KEY": "offline",
            "LIVEKIT_API_SECRET": "offline-secret-offline-secret-offline",
            "DEEPGRAM_API_KEY": "offline", "OPENAI_API_KEY": "offline",
            "DEEPGRAM_BASE_URL": f"http://{CLOSED}/v1/listen",
            "OPENAI_BASE_URL": f"http://{CLOSED}/v1",
            "HF_HUB_CACHE": str(home or ROOT / "tests" / "no-such-hf-cache"),
            "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
            "COLUMNS": "1000", **(env or {})}  # console mode: one log record, one line


def run_agent(*args: str, env: dict[str, str] | None = None, until: tuple[str, ...] = (),
              home: Path | None = None, module_form: bool = False) -> Run:
    """Run `agent.py args` (or `python -m livekit.agents args agent.py`, the form the framework
    recommends) until it ends, or until every text in `until` appeared in its output (then stop
    it with SIGINT, as an operator's Ctrl+C would)."""
    full_env = offline_agent_env(env, home)
    with tempfile.TemporaryFile() as out:
        argv = ["-m", "livekit.agents", *args, "agent.py"] if module_form else ["agent.py", *args]
        proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=full_env,
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + SAFETY_NET_S
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if until and all(text in _read(out) for text in until):
                    break
                time.sleep(0.2)
            returncode = proc.poll()
        finally:
            _stop(proc)
        return Run(_read(out), returncode)


def _read(out: tempfile._TemporaryFileWrapper) -> str:  # type: ignore[type-arg]
    out.seek(0)
    return out.read().decode("utf-8", "replace")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# --- a broken operator configuration stops the worker before it registers ------------------

@pytest.mark.parametrize("command, module_form", [
    (("start",), False), (("dev",), False), (("console", "--text"), False), (("start",), True)],
    ids=["start", "dev", "console", "python -m livekit.agents start"])
def test_a_missing_default_profile_stops_the_worker_at_once(command, module_form):
    run = run_agent(*command, env={"VOICE_DEFAULT_PROFILE": "nope"}, module_form=module_form)

    assert run.returncode is not None, "still running: it should have refused to start"
    assert run.returncode != 0
    errors = [line for line in run.output.splitlines() if "nope.toml" in line]
    assert len(errors) == 1 and "'nope' does not exist" in errors[0], run.output
    assert "Traceback" not in run.output
    assert "starting worker" not in run.output, "it got as far as starting the worker"


def test_a_broken_profile_file_stops_the_worker_naming_the_file(tmp_path):
    (tmp_path / "default.toml").write_text('endpointing_ms = 300\n')
    (tmp_path / "loud.toml").write_text('endpointing_ms = "300"\n')
    run = run_agent("start", env={"VOICE_PROFILES_DIR": str(tmp_path)})

    assert run.returncode not in (None, 0)
    errors = [line for line in run.output.splitlines() if "loud.toml" in line]
    assert len(errors) == 1 and "endpointing_ms" in errors[0], run.output
    assert "Traceback" not in run.output


# --- without the multilingual model files: one warning, no framework tracebacks ------------

def test_without_the_model_files_the_worker_prints_no_traceback():
    run = run_agent("dev", until=("failed to connect to livekit",))

    assert run.count("model_q8.onnx") == 0, run.output
    assert "Traceback" not in run.output


PORTAUDIO = ctypes.util.find_library("portaudio")


@pytest.mark.skipif(PORTAUDIO is None, reason="console mode needs PortAudio (libportaudio2)")
def test_console_mode_runs_a_call_without_false_warnings():
    run = run_agent("console", "--text",
                    until=("settings resolved for mock_user", "multilingual model unavailable"))

    assert run.count("input rejected") == 0, run.output
    assert run.count("mock_user has no metadata (console mode)") == 1, run.output
    assert run.count("multilingual model unavailable") == 1
    assert run.count("model_q8.onnx") == 0


def test_download_files_still_fetches_the_turn_detector_model():
    run = run_agent("download-files")  # offline here: the download itself fails, and the run ends

    assert run.returncode is not None
    assert "Downloading files for livekit.plugins.turn_detector" in run.output, run.output
