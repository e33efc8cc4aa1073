"""Which end-of-turn model this machine runs: the bundled one, with one warning, offline."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import huggingface_hub
import pytest

from voice_settings.runtime import turn_detector

ROOT = Path(__file__).resolve().parents[2]


def test_without_downloaded_files_the_bundled_detector_is_used_with_one_warning(
        caplog, monkeypatch):
    monkeypatch.setattr(turn_detector, "_warned", False)
    caplog.set_level(logging.WARNING, logger=turn_detector.logger.name)
    assert not turn_detector.multilingual_model_downloaded()

    first = turn_detector.ProcessTurnDetector()
    second = turn_detector.ProcessTurnDetector()

    detector, name = first.for_session()
    assert (first.name, name) == (turn_detector.BUNDLED, turn_detector.BUNDLED)
    assert detector.model == "turn-detector-v1-mini"
    assert second.for_session()[0] is not detector, "each process builds its own"
    warnings = [r for r in caplog.records if r.name == turn_detector.logger.name]
    assert len(warnings) == 1 and "download-files" in warnings[0].getMessage()


def test_the_bundled_detector_is_built_once_and_outside_any_job_or_event_loop():
    # the setup function runs before the job process has an event loop or a job context
    process_detector = turn_detector.ProcessTurnDetector()

    assert process_detector.for_session()[0] is process_detector.for_session()[0]


def fake_hf_cache(root: Path, files: dict[str, list[str]]) -> Path:
    """A Hugging Face cache laid out as hf_hub_download leaves it: {revision: [file, ...]}."""
    repo = root / "models--livekit--turn-detector"
    for n, (revision, names) in enumerate(files.items()):
        commit = f"{n:040x}"
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / revision).write_text(commit)
        for name in names:
            path = repo / "snapshots" / commit / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"model")
    return root


@pytest.mark.parametrize("files, usable", [
    ({}, False),
    ({"v1.2.2-en": ["onnx/model_q8.onnx"],
      "v0.4.1-intl": ["onnx/model_q8.onnx", "languages.json"]}, True),
    ({"v0.4.1-intl": ["onnx/model_q8.onnx", "languages.json"]}, False),  # the English runner
    ({"v1.2.2-en": ["onnx/model_q8.onnx"], "v0.4.1-intl": ["languages.json"]}, False),
])
def test_the_plugin_is_imported_only_when_it_can_run_or_for_download_files(
        tmp_path, monkeypatch, files, usable):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE",
                        str(fake_hf_cache(tmp_path, files)))

    assert turn_detector.multilingual_model_downloaded() is usable
    assert turn_detector.plugin_wanted("start") is usable
    assert turn_detector.plugin_wanted("console") is usable
    assert turn_detector.plugin_wanted("download-files") is True


def test_the_revisions_looked_up_are_the_plugins_own():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from livekit.plugins.turn_detector import models
    assert set(models.MODEL_REVISIONS.values()) == {"v1.2.2-en", "v0.4.1-intl"}
    assert models.ONNX_FILENAME == "model_q8.onnx"


@pytest.mark.parametrize("argv, imported", [(["agent.py", "dev"], False),
                                            (["agent.py", "download-files"], True)])
def test_importing_the_agent_leaves_the_plugin_out_unless_it_downloads(tmp_path, argv, imported):
    # A fresh interpreter: in this one another test may have imported the plugin already.
    probe = (f"import sys; sys.argv = {argv!r}; import agent; "
             f"print({turn_detector.PLUGIN!r} in sys.modules)")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.split()[-1] == str(imported)
