"""Which end-of-turn model this process runs: the bundled one, with one warning, offline."""

from __future__ import annotations

import logging

from voice_settings.runtime import turn_detector


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
