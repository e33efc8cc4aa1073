"""The project's log lines into one handler only, for runs that make many of them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TypeVar

H = TypeVar("H", bound=logging.Handler)


@contextlib.contextmanager
def project_logs_only_into(handler: H) -> Iterator[H]:
    """`voice_settings` loggers at INFO, into `handler` and nowhere else (a test run's log
    capture keeps every record, and with it every object a line names)."""
    project = logging.getLogger("voice_settings")
    saved = project.level, project.propagate
    project.setLevel(logging.INFO)
    project.propagate = False
    project.addHandler(handler)
    try:
        yield handler
    finally:
        project.removeHandler(handler)
        project.setLevel(saved[0])
        project.propagate = saved[1]
