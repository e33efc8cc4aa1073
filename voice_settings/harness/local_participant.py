"""The agent's side of a :class:`~voice_settings.harness.room.FakeRoom`.

:class:`RecordingLocalParticipant` is a real ``rtc.LocalParticipant`` whose methods
that would call the native FFI (and so the LiveKit server) instead RECORD what
would have been sent: attribute / metadata / name updates, published and
unpublished tracks, legacy transcriptions, data packets, text and byte streams,
RPC registrations and calls, DTMF.

Attribute, metadata and name updates are echoed back as room events through the
real ``Room._on_room_event`` (as the server does for the local participant), so
``local_participant.attributes`` stays current and ``participant_attributes_changed``
fires for it. A published audio track is "subscribed" at once, and its audio (the
agent's TTS playout) is read back through a real ``rtc.AudioStream`` into
:class:`AudioRecording` when ``record_audio`` is on.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from livekit import rtc
from livekit.rtc._proto import ffi_pb2, participant_pb2, room_pb2, track_pb2

from . import stream_info
from .ffi_requests import attributes_request, owned_handle
from .records import AudioRecording, RecordedStream, SentData
from .room_feed import EventFedRoom

__all__ = [
    "AudioRecording",
    "RecordedStream",
    "RecordingLocalParticipant",
    "SentData",
    "attributes_request",
]


class RecordingLocalParticipant(rtc.LocalParticipant):
    """``rtc.LocalParticipant`` that records instead of calling the FFI server."""

    def __init__(
        self,
        room: EventFedRoom,
        *,
        identity: str,
        name: str = "",
        metadata: str = "",
        record_audio: bool = True,
    ) -> None:
        info = participant_pb2.ParticipantInfo(
            sid=f"PA_{uuid.uuid4().hex[:12]}",
            identity=identity,
            name=name,
            metadata=metadata,
            kind=participant_pb2.ParticipantKind.PARTICIPANT_KIND_AGENT,
            state=participant_pb2.ParticipantState.PARTICIPANT_STATE_ACTIVE,
            joined_at=int(time.time() * 1000),
        )
        owned = participant_pb2.OwnedParticipant(handle=owned_handle(), info=info)
        super().__init__(room._room_queue, owned)
        self._fake_room = room
        self.record_audio = record_audio
        self.attribute_updates: list[dict[str, str]] = []
        self.failed_attribute_updates: list[dict[str, str]] = []  # see fail_attribute_updates
        self._failing_attribute_updates = 0
        self._attribute_update_error: Exception = ConnectionError()
        self.metadata_updates: list[str] = []
        self.name_updates: list[str] = []
        self.published_tracks: list[rtc.LocalTrackPublication] = []
        self.unpublished_track_sids: list[str] = []
        self.transcriptions: list[rtc.Transcription] = []
        self.sent: list[SentData] = []
        self.streams: list[RecordedStream] = []
        self.rpc_calls: list[dict[str, Any]] = []
        self.dtmf: list[tuple[int, str]] = []
        self.audio: dict[str, AudioRecording] = {}
        self._audio_tasks: dict[str, asyncio.Task[None]] = {}
        self._audio_streams: dict[str, rtc.AudioStream] = {}

    # -- participant state ---------------------------------------------------------

    # Each update first builds the FFI request the real method sends, so what the FFI refuses
    # (protobuf raises UnicodeEncodeError for a lone surrogate) fails here too, unrecorded.

    def fail_attribute_updates(self, count: int, error: Exception | None = None) -> None:
        """The next ``count`` attribute updates raise ``error`` (default: ``ConnectionError``),
        unrecorded, as when the FFI or the server cannot take them."""
        self._failing_attribute_updates = count
        self._attribute_update_error = error or ConnectionError("attribute update failed")

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        attributes_request(attributes)
        if self._failing_attribute_updates > 0:
            self._failing_attribute_updates -= 1
            self.failed_attribute_updates.append(dict(attributes))
            raise self._attribute_update_error
        self.attribute_updates.append(dict(attributes))
        merged = {**self.attributes, **attributes}
        self._fake_room._emit_attributes(self.identity, merged, attributes)

    async def set_metadata(self, metadata: str) -> None:
        ffi_pb2.FfiRequest().set_local_metadata.metadata = metadata
        self.metadata_updates.append(metadata)
        self._fake_room._emit_metadata(self.identity, metadata)

    async def set_name(self, name: str) -> None:
        ffi_pb2.FfiRequest().set_local_name.name = name
        self.name_updates.append(name)
        self._fake_room._emit_name(self.identity, name)

    # -- tracks --------------------------------------------------------------------

    async def publish_track(
        self, track: rtc.LocalTrack, options: rtc.TrackPublishOptions | None = None
    ) -> rtc.LocalTrackPublication:
        options = options or rtc.TrackPublishOptions()
        sid = f"TR_{uuid.uuid4().hex[:12]}"
        is_audio = isinstance(track, rtc.LocalAudioTrack)
        info = track_pb2.TrackPublicationInfo(
            sid=sid,
            name=track.name,
            kind=track_pb2.TrackKind.KIND_AUDIO if is_audio else track_pb2.TrackKind.KIND_VIDEO,
            source=options.source,
            mime_type="audio/opus" if is_audio else "video/vp8",
            remote=False,
        )
        pub = rtc.LocalTrackPublication(
            track_pb2.OwnedTrackPublication(handle=owned_handle(), info=info)
        )
        pub._track = track
        track._info.sid = sid
        self._track_publications[sid] = pub
        self.published_tracks.append(pub)
        if is_audio and self.record_audio:
            self._start_audio_recording(sid, track)  # type: ignore[arg-type]
        # a remote participant "subscribes" at once: RoomIO waits for this
        pub._first_subscription.set_result(None)
        self._fake_room._dispatch(
            room_pb2.RoomEvent(local_track_published=room_pb2.LocalTrackPublished(track_sid=sid))
        )
        return pub

    async def unpublish_track(self, track_sid: str) -> None:
        self.unpublished_track_sids.append(track_sid)
        await self._stop_audio_recording(track_sid)
        self._fake_room._dispatch(
            room_pb2.RoomEvent(
                local_track_unpublished=room_pb2.LocalTrackUnpublished(publication_sid=track_sid)
            )
        )
        self._track_publications.pop(track_sid, None)

    def _start_audio_recording(self, sid: str, track: rtc.LocalAudioTrack) -> None:
        rec = AudioRecording(track_name=track.name)
        self.audio[sid] = rec
        stream = rtc.AudioStream.from_track(track=track, sample_rate=rec.sample_rate)
        self._audio_streams[sid] = stream

        async def _read() -> None:
            async for ev in stream:
                rec.add(ev.frame.data.tobytes(), ev.frame.samples_per_channel, time.monotonic())

        self._audio_tasks[sid] = asyncio.create_task(_read(), name=f"record-agent-audio-{sid}")

    async def _stop_audio_recording(self, sid: str) -> None:
        stream = self._audio_streams.pop(sid, None)
        task = self._audio_tasks.pop(sid, None)
        if stream is not None:
            await stream.aclose()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _aclose(self) -> None:
        for sid in list(self._audio_streams):
            await self._stop_audio_recording(sid)

    @property
    def agent_audio_voiced_seconds(self) -> float:
        """Seconds of non-silent audio the agent played on its published tracks."""
        return sum(r.voiced_seconds for r in self.audio.values())

    # -- data ----------------------------------------------------------------------

    async def publish_transcription(self, transcription: rtc.Transcription) -> None:
        self.transcriptions.append(transcription)

    async def publish_data(
        self,
        payload: bytes | str,
        *,
        reliable: bool = True,
        destination_identities: list[str] | None = None,
        topic: str = "",
    ) -> None:
        self.sent.append(SentData("data", payload, topic, list(destination_identities or [])))

    async def publish_dtmf(self, *, code: int, digit: str) -> None:
        self.dtmf.append((code, digit))

    async def send_text(
        self,
        text: str,
        *,
        destination_identities: list[str] | None = None,
        topic: str = "",
        attributes: dict[str, str] | None = None,
        **_: Any,
    ) -> rtc.TextStreamInfo:
        self.sent.append(
            SentData(
                "text", text, topic, list(destination_identities or []), dict(attributes or {})
            )
        )
        return stream_info.text_info(topic, attributes)

    async def send_bytes(
        self,
        data: bytes,
        *,
        topic: str = "",
        name: str | None = None,
        mime_type: str | None = None,
        destination_identities: list[str] | None = None,
        attributes: dict[str, str] | None = None,
        **_: Any,
    ) -> rtc.ByteStreamInfo:
        self.sent.append(
            SentData(
                "bytes", data, topic, list(destination_identities or []), dict(attributes or {})
            )
        )
        return stream_info.byte_info(topic, attributes, name or "unknown", mime_type)

    async def stream_text(
        self,
        *,
        topic: str = "",
        attributes: dict[str, str] | None = None,
        sender_identity: str | None = None,
        **_: Any,
    ) -> rtc.TextStreamWriter:
        rec = RecordedStream(
            topic=topic,
            attributes=dict(attributes or {}),
            info=stream_info.text_info(topic, attributes),
            sender_identity=sender_identity,
        )
        self.streams.append(rec)
        return rec  # type: ignore[return-value]  # duck-typed TextStreamWriter

    async def stream_bytes(
        self,
        name: str,
        *,
        topic: str = "",
        attributes: dict[str, str] | None = None,
        mime_type: str = "application/octet-stream",
        **_: Any,
    ) -> rtc.ByteStreamWriter:
        rec = RecordedStream(
            topic=topic,
            attributes=dict(attributes or {}),
            info=stream_info.byte_info(topic, attributes, name, mime_type),
        )
        self.streams.append(rec)
        return rec  # type: ignore[return-value]  # duck-typed ByteStreamWriter

    def streams_on(self, topic: str) -> list[RecordedStream]:
        return [s for s in self.streams if s.topic == topic]

    # -- rpc -----------------------------------------------------------------------

    def register_rpc_method(self, method_name: str, handler: Any = None) -> Any:
        def register(fn: Any) -> Any:
            self._rpc_handlers[method_name] = fn
            return fn

        return register(handler) if handler is not None else register

    def unregister_rpc_method(self, method: str) -> None:
        self._rpc_handlers.pop(method, None)

    async def perform_rpc(
        self,
        *,
        destination_identity: str,
        method: str,
        payload: str,
        response_timeout: float | None = None,
        **_: Any,
    ) -> str:
        self.rpc_calls.append(
            {"destination_identity": destination_identity, "method": method, "payload": payload}
        )
        raise rtc.RpcError(
            rtc.RpcError.ErrorCode.RECIPIENT_NOT_FOUND, "FakeRoom has no remote RPC handlers"
        )

    def set_track_subscription_permissions(self, **_: Any) -> None:
        pass
