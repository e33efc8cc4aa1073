"""Which end-of-turn model this machine runs: the bundled one, with one warning, offline."""

from __future__ import annotations

import logging

from voice_settings.runtime import turn_detector


def test_without_downloaded_files_the_bundled_detector_is_used_with_one_warning(
        caplog, monkeypatch):
    monkeypatch.setattr(turn_detector, "_warned", False)
    caplog.set_level(logging.WARNING, logger=turn_detector.logger.name)
    assert not turn_detector.multilingual_model_downloaded()

    first, name = turn_detector.load_turn_detector()
    second, _ = turn_detector.load_turn_detector()

    assert name == turn_detector.BUNDLED and first.model == "turn-detector-v1-mini"
    assert second is not first
    warnings = [r for r in caplog.records if r.name == turn_detector.logger.name]
    assert len(warnings) == 1 and "download-files" in warnings[0].getMessage()
