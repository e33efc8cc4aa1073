"""Which end-of-turn model this machine can run.

The multilingual turn-detector model is used when its files were downloaded
(`python agent.py download-files`). Otherwise the agent falls back to the `v1-mini` detector
bundled with livekit-agents, which runs fully offline, with one clear warning per process.
Missing model files never crash a job.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

MULTILINGUAL = "multilingual"
BUNDLED = "v1-mini"

_warned = False


def multilingual_model_downloaded() -> bool:
    """Looks in the local Hugging Face cache the way the plugin does, without its error log."""
    try:
        from huggingface_hub import try_to_load_from_cache
        from livekit.plugins.turn_detector.models import HG_MODEL, MODEL_REVISIONS
    except ImportError:
        return False
    path = try_to_load_from_cache(HG_MODEL, "languages.json",
                                  revision=MODEL_REVISIONS[MULTILINGUAL])
    return isinstance(path, str)


def load_turn_detector() -> tuple[Any, str]:
    """(detector, its name). Call inside a job: the multilingual model is a client of the
    worker's inference process, which loads the weights once per worker."""
    reason = "its files were never downloaded"
    if multilingual_model_downloaded():
        try:
            from livekit.plugins.turn_detector.multilingual import MultilingualModel

            return MultilingualModel(), MULTILINGUAL
        except Exception as exc:  # a damaged download must not end the call either
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    _warn_once(reason)
    from livekit.agents.inference import TurnDetector

    # An explicit version: left unset, dev mode picks the cloud "v1" model, which needs a
    # LiveKit Cloud connection.
    return TurnDetector(version=BUNDLED), BUNDLED


def _warn_once(reason: str) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    logger.warning(
        "turn detector: multilingual model unavailable (%s); using the bundled offline "
        "detector %s. Run `python agent.py download-files` to use the multilingual model.",
        reason, BUNDLED, extra={"turn_detector": BUNDLED})
