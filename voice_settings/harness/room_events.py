"""The protobuf ``RoomEvent``s the FFI would deliver for remote activity, one builder each.

``FakeRoom`` hands them to the real ``Room._on_room_event``; building them is the only thing
here, so the room reads as what happens and this module as how the server spells it.
"""

from __future__ import annotations

import time
import uuid

from livekit import rtc
from livekit.rtc._ffi_client import INVALID_HANDLE
from livekit.rtc._proto import handle_pb2, participant_pb2, room_pb2, track_pb2

MICROPHONE = "microphone"


def _owned(handle_id: int = INVALID_HANDLE) -> handle_pb2.FfiOwnedHandle:
    return handle_pb2.FfiOwnedHandle(id=handle_id)


def participant_connected(identity: str, *, name: str, metadata: str,
                          attributes: dict[str, str],
                          kind: rtc.ParticipantKind.ValueType) -> room_pb2.RoomEvent:
    info = participant_pb2.ParticipantInfo(
        sid=f"PA_{uuid.uuid4().hex[:12]}", identity=identity, name=name, metadata=metadata,
        attributes=attributes, kind=kind,
        state=participant_pb2.ParticipantState.PARTICIPANT_STATE_JOINED,
        joined_at=int(time.time() * 1000))
    owned = participant_pb2.OwnedParticipant(handle=_owned(), info=info)
    return room_pb2.RoomEvent(participant_connected=room_pb2.ParticipantConnected(info=owned))


def participant_active(identity: str) -> room_pb2.RoomEvent:
    return room_pb2.RoomEvent(
        participant_active=room_pb2.ParticipantActive(participant_identity=identity))


def microphone_published(identity: str, sid: str) -> room_pb2.RoomEvent:
    info = track_pb2.TrackPublicationInfo(
        sid=sid, name=MICROPHONE, kind=track_pb2.TrackKind.KIND_AUDIO,
        source=track_pb2.TrackSource.SOURCE_MICROPHONE, mime_type="audio/opus", remote=True)
    publication = track_pb2.OwnedTrackPublication(handle=_owned(), info=info)
    return room_pb2.RoomEvent(track_published=room_pb2.TrackPublished(
        participant_identity=identity, publication=publication))


def microphone_subscribed(identity: str, sid: str, handle_id: int) -> room_pb2.RoomEvent:
    info = track_pb2.TrackInfo(sid=sid, name=MICROPHONE, kind=track_pb2.TrackKind.KIND_AUDIO,
                               stream_state=track_pb2.StreamState.STATE_ACTIVE, remote=True)
    track = track_pb2.OwnedTrack(handle=_owned(handle_id), info=info)
    return room_pb2.RoomEvent(track_subscribed=room_pb2.TrackSubscribed(
        participant_identity=identity, track=track))


def track_unsubscribed(identity: str, sid: str) -> room_pb2.RoomEvent:
    return room_pb2.RoomEvent(track_unsubscribed=room_pb2.TrackUnsubscribed(
        participant_identity=identity, track_sid=sid))


def track_unpublished(identity: str, sid: str) -> room_pb2.RoomEvent:
    return room_pb2.RoomEvent(track_unpublished=room_pb2.TrackUnpublished(
        participant_identity=identity, publication_sid=sid))


def participant_disconnected(identity: str,
                             reason: rtc.DisconnectReason.ValueType) -> room_pb2.RoomEvent:
    return room_pb2.RoomEvent(participant_disconnected=room_pb2.ParticipantDisconnected(
        participant_identity=identity, disconnect_reason=reason))


def metadata_changed(identity: str, metadata: str) -> room_pb2.RoomEvent:
    return room_pb2.RoomEvent(participant_metadata_changed=room_pb2.ParticipantMetadataChanged(
        participant_identity=identity, metadata=metadata))


def name_changed(identity: str, name: str) -> room_pb2.RoomEvent:
    return room_pb2.RoomEvent(participant_name_changed=room_pb2.ParticipantNameChanged(
        participant_identity=identity, name=name))


def attributes_changed(identity: str, attributes: dict[str, str],
                       changed: dict[str, str]) -> room_pb2.RoomEvent:
    def entries(items: dict[str, str]) -> list[room_pb2.AttributesEntry]:
        return [room_pb2.AttributesEntry(key=k, value=v) for k, v in items.items()]

    return room_pb2.RoomEvent(
        participant_attributes_changed=room_pb2.ParticipantAttributesChanged(
            participant_identity=identity, attributes=entries(attributes),
            changed_attributes=entries(changed)))
