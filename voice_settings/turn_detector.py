"""Which end-of-turn model this machine can run.

The multilingual turn-detector model is used when its files were downloaded
(`python agent.py download-files`). Otherwise the agent falls back to the `v1-mini` detector
bundled with livekit-agents, which runs fully offline, with one clear warning. Missing model
files never crash a job.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("voice_settings.turn_detector")

MULTILINGUAL = "multilingual"
BUNDLED = "v1-mini"


_warned = False


def load_turn_detector() -> tuple[Any, str]:
    """(detector, its name). Call inside a job: the multilingual model is a client of the
    worker's inference process, which loads the weights once per worker."""
    global _warned
    try:
        from livekit.plugins.turn_detector.multilingual import MultilingualModel

        return MultilingualModel(), MULTILINGUAL
    except Exception as exc:  # RuntimeError when never downloaded; anything else is no better
        if not _warned:  # once per process, not once per call
            _warned = True
            logger.warning(
                "turn detector: multilingual model unavailable (%s); using the bundled "
                "offline detector %s. Run `python agent.py download-files` for the "
                "multilingual model.",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__, BUNDLED,
                extra={"turn_detector": BUNDLED},
            )
    from livekit.agents.inference import TurnDetector

    # An explicit version: left unset, dev mode picks the cloud "v1" model, which needs a
    # LiveKit Cloud connection.
    return TurnDetector(version=BUNDLED), BUNDLED
