"""Which end-of-turn model this process runs, decided once, before any caller.

The multilingual turn-detector model is used when its files were downloaded
(`python -m livekit.agents download-files`). Otherwise the agent falls back to the `v1-mini`
detector bundled with livekit-agents, which runs fully offline, with one clear warning per
process. Missing model files never crash a job.

Importing `livekit.plugins.turn_detector` registers its download step (what download-files runs)
and its inference runners, which the worker starts in its inference process: without the files
each runner fails there with a traceback. So the plugin is imported only when its files are here
or when the command is the one that downloads them (`import_plugin_if_usable`).

Neither detector carries a caller's settings, so `ProcessTurnDetector` is made by the setup
function: the bundled detector's weights load there, not on the caller's time. The multilingual
model is a client of the job's inference executor, which only exists inside a job, so that
object is made per job, by `for_session()`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .end_of_turn import EndOfTurnLog

logger = logging.getLogger(__name__)

MULTILINGUAL = "multilingual"
BUNDLED = "v1-mini"
PLUGIN = "livekit.plugins.turn_detector"
DOWNLOAD_COMMAND = "download-files"

_warned = False


def _plugin_models() -> ModuleType | None:
    """The plugin's `models` module (model name, revisions, file name), read without importing
    the plugin package, whose import registers the runners."""
    if (loaded := sys.modules.get(f"{PLUGIN}.models")) is not None:
        return loaded
    package = importlib.util.find_spec(PLUGIN)
    if package is None or not package.submodule_search_locations:
        return None
    path = Path(next(iter(package.submodule_search_locations))) / "models.py"
    spec = importlib.util.spec_from_file_location(f"_{MULTILINGUAL}_turn_detector_models", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def multilingual_model_downloaded() -> bool:
    """Whether the local Hugging Face cache holds what the plugin's runners load: the ONNX model
    of every revision the plugin registers a runner for, and the multilingual language table."""
    models = _plugin_models()
    if models is None:
        return False
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    wanted = [(f"onnx/{models.ONNX_FILENAME}", revision)
              for revision in models.MODEL_REVISIONS.values()]
    wanted.append(("languages.json", models.MODEL_REVISIONS[MULTILINGUAL]))
    return all(isinstance(try_to_load_from_cache(models.HG_MODEL, name, revision=revision), str)
               for name, revision in wanted)


def plugin_wanted(command: str | None) -> bool:
    """Import the plugin for `python agent.py <command>`? Only when it can run or is fetched."""
    return command == DOWNLOAD_COMMAND or multilingual_model_downloaded()


def import_plugin_if_usable(command: str | None) -> bool:
    """Import the plugin (see the module docstring) when `plugin_wanted`. True if imported."""
    if not plugin_wanted(command):
        return False
    _import_plugin()
    return True


def _import_plugin() -> None:
    with warnings.catch_warnings():
        # It calls itself deprecated in favour of the bundled detector, which is our fallback;
        # it still provides the multilingual model.
        warnings.filterwarnings("ignore", f"`{PLUGIN}` is deprecated", DeprecationWarning)
        importlib.import_module(PLUGIN)


class ProcessTurnDetector:
    """The end-of-turn model of this process; make it in the setup function."""

    def __init__(self) -> None:
        self.name = MULTILINGUAL if multilingual_model_downloaded() else BUNDLED
        self._bundled: Any = None
        if self.name == BUNDLED:
            _warn_once("its files were not downloaded")
            self._bundled = _bundled_detector()

    def for_session(self, end_of_turn: EndOfTurnLog | None = None) -> tuple[Any, str]:
        """(detector, its name) for the job's session. Call inside the job.

        With `end_of_turn`, every verdict the framework gets from the detector is recorded
        there (`end_of_turn.py`)."""
        detector, name = self._detector()
        return (detector if end_of_turn is None else end_of_turn.detector(detector)), name

    def _detector(self) -> tuple[Any, str]:
        if self.name == MULTILINGUAL:
            try:
                _import_plugin()
                from livekit.plugins.turn_detector.multilingual import MultilingualModel

                return MultilingualModel(), MULTILINGUAL
            except Exception as exc:  # a damaged download must not end the call either
                _warn_once(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if self._bundled is None:
            self._bundled = _bundled_detector()
        return self._bundled, BUNDLED


def _bundled_detector() -> Any:
    from .end_of_turn import RecordingTurnDetector

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
    return RecordingTurnDetector(version=BUNDLED)


def _warn_once(reason: str) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    logger.warning(
        "turn detector: multilingual model unavailable (%s); using the bundled offline "
        "detector %s. Run `python -m livekit.agents download-files` to use the multilingual model.",
        reason, BUNDLED, extra={"turn_detector": BUNDLED})
