"""Who the call is for: the participant the dispatch names, else the first to join."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from livekit.agents import AgentSession
from livekit.agents.voice.events import CloseEvent, CloseReason

from voice_settings.runtime.caller import caller_identity, end_job_when_session_closes


@pytest.mark.parametrize("dispatch, identity", [
    ('{"participant_identity": "carol"}', "carol"),
    ({"participantIdentity": "dave"}, "dave"),
    ('{"participant_identity": "  "}', None),
    ('{"participant_identity": 7}', None),
    ("not json", None),
    (MagicMock(), None),
    ("", None),
])
def test_the_dispatch_may_name_the_caller(dispatch, identity):
    assert caller_identity(dispatch) == identity


class RecordingJob:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def shutdown(self, reason: str = "") -> None:
        self.reasons.append(reason)


@pytest.mark.parametrize("reason, ends", [
    (CloseReason.PARTICIPANT_DISCONNECTED, True),
    (CloseReason.ERROR, True),
    (CloseReason.TASK_COMPLETED, True),
    (CloseReason.JOB_SHUTDOWN, False),  # the job is what ended the session
])
async def test_a_closed_session_ends_the_job_with_the_reason(reason, ends):
    # async: AgentSession() takes the current event loop, which a sync test only has by the
    # luck of what ran before it (after an async test, pytest-asyncio leaves none).
    job, session = RecordingJob(), AgentSession()
    end_job_when_session_closes(job, session, "alice")

    session.emit("close", CloseEvent(reason=reason))

    assert job.reasons == ([f"session closed: {reason.value}"] if ends else [])
