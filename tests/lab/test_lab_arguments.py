"""Bad lab arguments are refused at once: exit 2, one line, before any session runs."""

from __future__ import annotations

import wave

import pytest

from voice_settings.cli import main
from voice_settings.lab import runner

MANY = ",".join(str(100 + n) for n in range(60))


@pytest.fixture
def no_sessions(monkeypatch):
    """A session started here would be a failure of the test, not a slow pass."""
    async def refuse(*_args, **_kwargs):
        raise AssertionError("a session ran")

    monkeypatch.setattr(runner, "run_one", refuse)


def empty_wav(path):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
    return path


@pytest.mark.parametrize("arguments, words", [
    (["--repeat", "1000000000"], "at most 2000"),
    (["--set", f"endpointing_ms={MANY}", "--set",
      "min_endpointing_delay=" + ",".join(f"{0.2 + n / 100:g}" for n in range(60))],
     "3600 settings sets"),
    (["--jobs", "0"], "--jobs 0"),
    (["--jobs", "-3"], "--jobs -3"),
    (["--llm-latency", "nan"], "--llm-latency nan"),
    (["--tts-latency", "inf"], "--tts-latency inf"),
    (["--wav", "{tmp}/missing.wav", "--text", "hello"], "no such file"),
    (["--wav", "{tmp}", "--text", "hello"], "a directory"),
    (["--wav", "{tmp}/notes.wav", "--text", "hello"], "not a WAV file"),
    (["--wav", "{tmp}/empty.wav", "--text", "hello"], "no audio"),
    (["--plot", "{tmp}/missing/lab.png"], "does not exist"),
    (["--record", "{tmp}/notes.wav"], "not a directory"),
    (["--voice", "robot"], "invalid choice"),
])
def test_a_bad_argument_exits_2_with_one_line(arguments, words, tmp_path, capsys, no_sessions):
    (tmp_path / "notes.wav").write_text("not audio")
    empty_wav(tmp_path / "empty.wav")
    argv = ["lab", *(a.replace("{tmp}", str(tmp_path)) for a in arguments)]
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own refusals (a choice that does not exist)
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2
    assert words in err
    if "invalid choice" not in words:
        assert len(err.strip().splitlines()) == 1, err
