"""Who the call is for: the participant the dispatch names, else the first to join."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
from livekit.agents import AgentSession
from livekit.agents.ipc.mock_room import create_mock_room
from livekit.agents.testing import fake_job_context
from livekit.agents.voice.events import CloseEvent, CloseReason

from voice_settings.runtime.caller import (
    caller_identity,
    caller_metadata,
    end_job_when_session_closes,
)


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


async def test_console_mode_has_no_metadata_and_says_so(caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    console_user = create_mock_room().remote_participants["PA_mock_user"]  # what console hands
    with fake_job_context() as console_job:  # console mode runs a fake job
        assert caller_metadata(console_job, console_user) == ""
        text_user = SimpleNamespace(identity="alice", metadata='{"endpointingMs": 300}')
        assert caller_metadata(console_job, text_user) == text_user.metadata

    real_job = SimpleNamespace(is_fake_job=lambda: False)
    odd = SimpleNamespace(identity="alice", metadata=MagicMock())
    assert caller_metadata(real_job, odd) is odd.metadata, "elsewhere it is bad input"
    said = [r for r in caplog.records if "no metadata" in r.getMessage()]
    assert [r.participant for r in said] == ["mock_user"]
