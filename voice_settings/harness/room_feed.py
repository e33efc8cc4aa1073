"""What a ``FakeRoom`` and its local participant share: feeding ``RoomEvent``s to the SDK.

:class:`EventFedRoom` is a ``rtc.Room`` whose events come from its owner instead of the FFI:
each goes to the real ``Room._on_room_event``. The agent's own updates (metadata, name,
attributes) are echoed back as events, as the server does, unless ``echo_local_updates`` is
off (then they are only stored).
"""

from __future__ import annotations

from livekit import rtc
from livekit.rtc._ffi_client import INVALID_HANDLE
from livekit.rtc._proto import room_pb2

from . import room_events as events

__all__ = ["EventFedRoom"]


class EventFedRoom(rtc.Room):
    """``rtc.Room`` fed protobuf ``RoomEvent``s locally; see the module docstring."""

    def __init__(self, *, agent_identity: str, echo_local_updates: bool = True) -> None:
        super().__init__()
        self._agent_identity = agent_identity
        self.echo_local_updates = echo_local_updates
        self.dispatched: list[str] = []  # names of room events fed to _on_room_event

    def _dispatch(self, event: room_pb2.RoomEvent) -> None:
        """Feed one event to the SDK's real handler, as Room._listen_task would."""
        event.room_handle = INVALID_HANDLE
        self.dispatched.append(event.WhichOneof("message") or "")
        self._on_room_event(event)

    def _emit_metadata(self, identity: str, metadata: str) -> None:
        if identity == self._agent_identity and not self.echo_local_updates:
            self.local_participant._info.metadata = metadata
            return
        self._dispatch(events.metadata_changed(identity, metadata))

    def _emit_name(self, identity: str, name: str) -> None:
        if identity == self._agent_identity and not self.echo_local_updates:
            self.local_participant._info.name = name
            return
        self._dispatch(events.name_changed(identity, name))

    def _emit_attributes(
        self, identity: str, attributes: dict[str, str], changed: dict[str, str]
    ) -> None:
        if identity == self._agent_identity and not self.echo_local_updates:
            self.local_participant._info.attributes.clear()
            self.local_participant._info.attributes.update(attributes)
            return
        self._dispatch(events.attributes_changed(identity, attributes, changed))
