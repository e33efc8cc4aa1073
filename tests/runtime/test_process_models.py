"""The OpenAI client a job process builds once: from the environment, or not at all."""

from __future__ import annotations

import logging

from voice_settings.runtime import process_models
from voice_settings.runtime.process_models import ProcessModels, shared_openai_client
from voice_settings.runtime.turn_detector import ProcessTurnDetector


def test_the_client_reads_the_base_url_and_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")

    client = shared_openai_client()

    assert client is not None
    assert str(client.base_url) == "http://127.0.0.1:9/v1/"
    assert client.api_key == "sk-from-env"
    assert client.max_retries == 0, "the framework retries, as with the plugins' own clients"


async def test_without_an_api_key_there_is_no_shared_client_and_the_plugins_build_their_own(
        monkeypatch, caplog):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    caplog.set_level(logging.ERROR, logger=process_models.logger.name)

    models = ProcessModels(vad=None, turn_detector=ProcessTurnDetector(),  # type: ignore[arg-type]
                           openai_client=shared_openai_client())

    assert models.openai_client is None and models.openai_options() == {}
    assert any("OPENAI_API_KEY" in r.getMessage() for r in caplog.records)
    models.connect_openai()  # nothing to connect, nothing to close
    await models.aclose()
