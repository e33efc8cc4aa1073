"""Which end-of-turn model this process runs, decided once, before any caller.

The multilingual turn-detector model is used when its files were downloaded
(`python agent.py download-files`). Otherwise the agent falls back to the `v1-mini` detector
bundled with livekit-agents, which runs fully offline, with one clear warning per process.
Missing model files never crash a job.

Neither detector carries a caller's settings, so `ProcessTurnDetector` is made by the setup
function: looking for the model files imports huggingface_hub's download code (about 0.2 s,
the first time in a process), and the bundled detector's weights load on its first use.
The multilingual model is a client of the job's inference executor, which only exists inside
a job, so that object is made per job, by `for_session()`; the cost was the lookup.
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


class ProcessTurnDetector:
    """The end-of-turn model of this process; make it in the setup function."""

    def __init__(self) -> None:
        self.name = MULTILINGUAL if multilingual_model_downloaded() else BUNDLED
        self._bundled: Any = None
        if self.name == BUNDLED:
            _warn_once("its files were never downloaded")
            self._bundled = _bundled_detector()

    def for_session(self) -> tuple[Any, str]:
        """(detector, its name) for the job's session. Call inside the job."""
        if self.name == MULTILINGUAL:
            try:
                from livekit.plugins.turn_detector.multilingual import MultilingualModel

                return MultilingualModel(), MULTILINGUAL
            except Exception as exc:  # a damaged download must not end the call either
                _warn_once(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if self._bundled is None:
            self._bundled = _bundled_detector()
        return self._bundled, BUNDLED


def _bundled_detector() -> Any:
    from livekit.agents.inference import TurnDetector

    try:
        # The weights load on the first EOT(), at session start, on the event loop (0.2-0.6 s).
        # A worker's forkserver loads them once for all its job processes; under `spawn` each
        # process loads its own, here instead. Idempotent.
        from livekit.local_inference import init_eot

        init_eot()
    except Exception:  # the detector's first use reports the problem properly
        logger.debug("could not load the %s weights ahead of the session", BUNDLED,
                     exc_info=True)
    # An explicit version: left unset, dev mode picks the cloud "v1" model, which needs a
    # LiveKit Cloud connection.
    return TurnDetector(version=BUNDLED)


def _warn_once(reason: str) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    logger.warning(
        "turn detector: multilingual model unavailable (%s); using the bundled offline "
        "detector %s. Run `python agent.py download-files` to use the multilingual model.",
        reason, BUNDLED, extra={"turn_detector": BUNDLED})
