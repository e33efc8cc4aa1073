"""The stream headers a LocalParticipant's text and byte streams carry, built as the SDK does."""

from __future__ import annotations

import time
import uuid

from livekit import rtc


def text_info(topic: str, attributes: dict[str, str] | None) -> rtc.TextStreamInfo:
    return rtc.TextStreamInfo(
        stream_id=uuid.uuid4().hex,
        mime_type="text/plain",
        topic=topic,
        timestamp=int(time.time() * 1000),
        size=None,
        attributes=dict(attributes or {}),
        attachments=[],
    )

def byte_info(
    topic: str, attributes: dict[str, str] | None, name: str, mime_type: str | None
) -> rtc.ByteStreamInfo:
    return rtc.ByteStreamInfo(
        stream_id=uuid.uuid4().hex,
        mime_type=mime_type or "application/octet-stream",
        topic=topic,
        timestamp=int(time.time() * 1000),
        size=None,
        attributes=dict(attributes or {}),
        name=name,
    )
