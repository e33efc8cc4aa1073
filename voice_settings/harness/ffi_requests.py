"""What the native FFI would be asked, built the way livekit-rtc builds it, so the harness
refuses what production refuses (protobuf raises on a lone surrogate, a non-text value)."""

from __future__ import annotations

from collections.abc import Mapping

from livekit.rtc._proto import ffi_pb2, handle_pb2


def owned_handle(handle_id: int = 0) -> handle_pb2.FfiOwnedHandle:
    # handle 0 is INVALID_HANDLE: FfiHandle.dispose() never drops it
    return handle_pb2.FfiOwnedHandle(id=handle_id)


def attributes_request(attributes: Mapping[str, str]) -> ffi_pb2.FfiRequest:
    """The FFI request ``LocalParticipant.set_attributes`` sends; raises what protobuf raises
    (``UnicodeEncodeError`` for a lone surrogate, ``TypeError`` for a value that is not text)."""
    request = ffi_pb2.FfiRequest()
    for key, value in attributes.items():
        entry = request.set_local_attributes.attributes.add()
        entry.key, entry.value = key, value
    return request
