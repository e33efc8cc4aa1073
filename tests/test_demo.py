"""The README's main command: the offline demo runs the real agent and shows the wire."""

import runpy
import subprocess
import sys

import pytest


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


def run_module_entry(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`python -m voice_settings.harness args`, run in this process (the stack is imported
    already): its exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["voice_settings.harness", *args])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("voice_settings.harness", run_name="__main__", alter_sys=True)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_help_prints_usage_and_does_not_run_the_demo(monkeypatch, capsys):
    code, out, _ = run_module_entry(monkeypatch, capsys, "--help")
    assert code == 0
    assert out.startswith("usage: python -m voice_settings.harness")
    assert "stand-ins" in out and "==" not in out  # no step of the demo ran


def test_an_unknown_argument_is_a_usage_error(monkeypatch, capsys):
    code, out, err = run_module_entry(monkeypatch, capsys, "--fast")
    assert code == 2 and "--fast" in err and "==" not in out
