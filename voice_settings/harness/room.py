"""``FakeRoom``: a real ``livekit.rtc.Room`` driven locally, with no LiveKit server.

Remote activity is produced by building the protobuf ``RoomEvent`` the FFI would
deliver and handing it to the real ``Room._on_room_event``, so the SDK's own event
handling (participant bookkeeping, ``participant_active``, metadata / attribute
updates, track publication and subscription) runs unchanged, and so does
everything in livekit-agents that listens to it (``JobContext.wait_for_participant``,
RoomIO, ``AgentSession``).

Each participant that joins with ``publish_audio=True`` (the default) publishes a
microphone track that is REAL audio plumbing: an ``rtc.AudioSource`` and
``rtc.LocalAudioTrack`` created through the native FFI (which works without a
server) are surfaced to the agent as the ``RemoteAudioTrack`` of a
``track_subscribed`` event. RoomIO opens a real ``rtc.AudioStream`` on it, so the
agent's VAD and STT (e.g. the Deepgram stand-in) receive a continuous real-time
audio stream: silence by default, or audio handed to :meth:`FakeRoom.play` (any rate,
e.g. a 16 kHz scenario) or :meth:`FakeRoom.play_audio` (48 kHz PCM).

The agent side is :class:`~voice_settings.harness.local_participant.RecordingLocalParticipant`.

Usage::

    room = FakeRoom(name="demo")
    await room.connect("ws://offline", "token")     # records, connects locally
    user = await room.join("user-1", metadata='{"endpointingMs": 300}')
    room.set_metadata("user-1", '{"endpointingMs": 500}')
    await room.leave("user-1")
    await room.disconnect()
"""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
from livekit import rtc
from livekit.rtc._ffi_client import INVALID_HANDLE, FfiHandle
from livekit.rtc._proto import room_pb2

from . import room_events as events
from .local_participant import RecordingLocalParticipant
from .room_feed import EventFedRoom
from .speech.audio import SAMPLE_RATE
from .user_audio import USER_SAMPLE_RATE, Playback, UserAudio

__all__ = ["FakeRoom", "Playback", "UserAudio"]

STANDARD = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD


class FakeRoom(EventFedRoom):
    """A ``rtc.Room`` whose server is this object. See the module docstring."""

    def __init__(
        self,
        *,
        name: str = "fake-room",
        sid: str | None = None,
        agent_identity: str = "agent",
        agent_name: str = "",
        echo_local_updates: bool = True,
        record_agent_audio: bool = True,
    ) -> None:
        super().__init__(agent_identity=agent_identity, echo_local_updates=echo_local_updates)
        self._info.name = name
        self._info.sid = sid or f"RM_{uuid.uuid4().hex[:12]}"
        self._resolve_first_sid(self._info.sid)
        self._agent_name = agent_name
        self._record_agent_audio = record_agent_audio
        self.connect_calls: list[tuple[str, str]] = []
        self.user_audio: dict[str, UserAudio] = {}

    def __del__(self) -> None:  # no FFI queue subscription to release
        pass

    @property
    def local_participant(self) -> RecordingLocalParticipant:
        return super().local_participant  # type: ignore[return-value]

    # -- connection ----------------------------------------------------------------

    async def connect(self, url: str, token: str, options: rtc.RoomOptions | None = None) -> None:
        """Record ``url``/``token`` and become connected; no network is used."""
        self.connect_calls.append((url, token))
        if self.isconnected():
            return
        self._ffi_handle = FfiHandle(INVALID_HANDLE)  # isconnected() checks it is set
        self._local_participant = RecordingLocalParticipant(
            self,
            identity=self._agent_identity,
            name=self._agent_name,
            record_audio=self._record_agent_audio,
        )
        self._dispatch(
            room_pb2.RoomEvent(
                connection_state_changed=room_pb2.ConnectionStateChanged(
                    state=rtc.ConnectionState.CONN_CONNECTED
                )
            )
        )

    async def disconnect(
        self, *, reason: rtc.DisconnectReason.ValueType = rtc.DisconnectReason.CLIENT_INITIATED
    ) -> None:
        """Stop every user's audio and the agent's recorders, then report disconnection."""
        if not self.isconnected():
            return
        for identity in list(self.user_audio):
            await self._stop_audio(identity)
        await self.local_participant._aclose()
        self.local_participant._info.disconnect_reason = reason
        self._dispatch(
            room_pb2.RoomEvent(
                connection_state_changed=room_pb2.ConnectionStateChanged(
                    state=rtc.ConnectionState.CONN_DISCONNECTED
                )
            )
        )
        self._dispatch(room_pb2.RoomEvent(disconnected=room_pb2.Disconnected(reason=reason)))

    aclose = close = disconnect

    # -- remote participants ----------------------------------------------------------

    async def join(
        self,
        identity: str,
        *,
        name: str = "",
        metadata: str = "",
        attributes: dict[str, str] | None = None,
        kind: rtc.ParticipantKind.ValueType = STANDARD,
        publish_audio: bool = True,
    ) -> rtc.RemoteParticipant:
        """A remote participant connects, becomes ACTIVE and (optionally) publishes a mic."""
        self._dispatch(events.participant_connected(
            identity, name=name, metadata=metadata, attributes=attributes or {}, kind=kind))
        self._dispatch(events.participant_active(identity))
        if publish_audio:
            self._publish_microphone(identity)
        await asyncio.sleep(0)
        return self.remote_participants[identity]

    def _publish_microphone(self, identity: str) -> None:
        sid = f"TR_{uuid.uuid4().hex[:12]}"
        source = rtc.AudioSource(USER_SAMPLE_RATE, 1, queue_size_ms=50)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        audio = UserAudio(track_sid=sid, source=source, track=track)
        self._dispatch(events.microphone_published(identity, sid))
        # The subscribed RemoteAudioTrack wraps the native handle of our local track,
        # so AudioStream.from_track() reads what the source captures. It takes over
        # the handle: the local wrapper must not drop it a second time.
        handle_id = track._ffi_handle.handle
        track._ffi_handle.mark_consumed()
        self._dispatch(events.microphone_subscribed(identity, sid, handle_id))
        audio.task = asyncio.create_task(audio._feed(), name=f"user-audio-{identity}")
        self.user_audio[identity] = audio

    def play_audio(self, identity: str, pcm: bytes) -> asyncio.Future[None]:
        """Queue 48 kHz s16 mono PCM on ``identity``'s mic; resolves once captured."""
        return self.user_audio[identity].enqueue(pcm).done

    def play(self, identity: str, samples: np.ndarray | bytes, *,
             sample_rate: int = SAMPLE_RATE) -> Playback:
        """Queue int16 mono audio (e.g. ``scenario.samples``, 16 kHz) on ``identity``'s mic;
        it plays in real time after what is queued. ``await`` the result to wait for it."""
        return self.user_audio[identity].enqueue(samples, sample_rate=sample_rate)

    def set_metadata(self, identity: str, metadata: str) -> None:
        """The server reports new metadata for ``identity`` (participant_metadata_changed)."""
        self._emit_metadata(identity, metadata)

    def set_attributes(self, identity: str, attributes: dict[str, str]) -> None:
        """The server reports changed attributes for ``identity`` (merged into the old ones)."""
        participant = self._retrieve_participant(identity)
        assert participant is not None, f"unknown participant {identity!r}"
        self._emit_attributes(identity, {**participant.attributes, **attributes}, attributes)

    def set_name(self, identity: str, name: str) -> None:
        self._emit_name(identity, name)

    async def leave(
        self,
        identity: str,
        reason: rtc.DisconnectReason.ValueType = rtc.DisconnectReason.CLIENT_INITIATED,
    ) -> None:
        """``identity`` unpublishes its mic and disconnects (participant_disconnected)."""
        audio = self.user_audio.get(identity)
        if audio is not None:
            self._dispatch(events.track_unsubscribed(identity, audio.track_sid))
            self._dispatch(events.track_unpublished(identity, audio.track_sid))
            await self._stop_audio(identity)
        self._dispatch(events.participant_disconnected(identity, reason))
        await asyncio.sleep(0)

    async def _stop_audio(self, identity: str) -> None:
        audio = self.user_audio.pop(identity, None)
        if audio is not None:
            await audio.aclose()
