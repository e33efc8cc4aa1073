"""The README's main command: the offline demo runs the real agent and shows the wire."""

import subprocess
import sys


def test_the_offline_demo_shows_what_went_over_the_wire():
    run = subprocess.run([sys.executable, "-m", "voice_settings.harness"], capture_output=True,
                         text=True, timeout=300)
    out = run.stdout

    assert run.returncode == 0, run.stderr[-2000:]
    assert '"endpointing": "400"' in out  # alice's endpointing_ms in Deepgram's query string
    assert "LLM request, system message: You are Ada, a librarian" in out
    assert "LLM request, system message: You are Ada. Answer only in French." in out
    assert 'voice.pending attribute: {"endpointing_ms": 800}' in out
    assert "Deepgram connections so far: 1" in out
    assert "input rejected for alice: min_endpointing_delay" in out
    assert "Traceback" not in run.stderr and "ERROR" not in run.stderr


def test_help_prints_usage_and_does_not_run_the_demo():
    run = subprocess.run([sys.executable, "-m", "voice_settings.harness", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("usage: python -m voice_settings.harness")
    assert "stand-ins" in run.stdout and "==" not in run.stdout  # no step of the demo ran


def test_an_unknown_argument_is_a_usage_error():
    run = subprocess.run([sys.executable, "-m", "voice_settings.harness", "--fast"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "--fast" in run.stderr and "==" not in run.stdout
