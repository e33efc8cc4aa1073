"""FakeRoom: real rtc.Room event handling and a real JobContext, without a session."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents.testing import fake_job_context

from voice_settings.harness import FakeRoom

T = 10.0


async def test_connect_join_wait_for_participant_and_updates() -> None:
    room = FakeRoom(name="r1", agent_identity="agent-x")
    assert not room.isconnected()
    await room.connect("ws://example.invalid", "tok")
    assert room.isconnected() and room.connect_calls == [("ws://example.invalid", "tok")]
    assert room.local_participant.identity == "agent-x"

    events: list[tuple] = []
    room.on("participant_connected", lambda p: events.append(("connected", p.identity)))
    room.on(
        "participant_metadata_changed",
        lambda p, old, new: events.append(("metadata", p.identity, old, new)),
    )
    room.on(
        "participant_attributes_changed",
        lambda changed, p: events.append(("attributes", p.identity, changed)),
    )
    room.on("participant_disconnected", lambda p: events.append(("left", p.identity)))

    with fake_job_context(room=room, job_metadata='{"a": 1}') as ctx:
        assert ctx.job.metadata == '{"a": 1}'
        waiter = asyncio.create_task(ctx.wait_for_participant(identity="u1"))
        await asyncio.sleep(0)
        assert not waiter.done()
        await room.join("u1", name="U", metadata="m0", attributes={"k": "v"}, publish_audio=False)
        participant = await asyncio.wait_for(waiter, T)
        assert participant.identity == "u1" and participant.metadata == "m0"
        assert participant.state == rtc.ParticipantState.PARTICIPANT_STATE_ACTIVE

        room.set_metadata("u1", "m1")
        room.set_attributes("u1", {"k2": "v2"})
        assert participant.metadata == "m1"
        assert participant.attributes == {"k": "v", "k2": "v2"}

        await room.local_participant.set_attributes({"agent.k": "1"})
        assert room.local_participant.attributes == {"agent.k": "1"}
        assert room.local_participant.attribute_updates == [{"agent.k": "1"}]

        await room.leave("u1")
        assert "u1" not in room.remote_participants
        assert participant.disconnect_reason == rtc.DisconnectReason.CLIENT_INITIATED
        await ctx._on_cleanup()  # removes the job's temp dir, as a worker would

    assert events == [
        ("connected", "u1"),
        ("metadata", "u1", "m0", "m1"),
        ("attributes", "u1", {"k2": "v2"}),
        ("attributes", "agent-x", {"agent.k": "1"}),
        ("left", "u1"),
    ]
    states: list[int] = []
    room.on("connection_state_changed", states.append)
    await room.disconnect()
    assert not room.isconnected()
    assert states == [rtc.ConnectionState.CONN_DISCONNECTED]


async def test_the_agents_updates_fail_where_the_ffi_would_refuse_them() -> None:
    # Even without the echo (which builds protobuf events too), as the real FFI request does.
    room = FakeRoom(name="r1", agent_identity="agent-x", echo_local_updates=False)
    await room.connect("ws://example.invalid", "tok")
    local = room.local_participant
    for update in (local.set_attributes({"voice.errors": "\ud800"}),
                   local.set_attributes({"\udfff": "v"}),
                   local.set_metadata("\ud800"), local.set_name("\ud800")):
        with pytest.raises(UnicodeEncodeError):
            await update
    assert (local.attribute_updates, local.metadata_updates, local.name_updates) == ([], [], [])
    await room.disconnect()


async def test_user_microphone_is_a_real_audio_stream() -> None:
    room = FakeRoom()
    await room.connect("ws://x", "t")
    subscribed: asyncio.Future[rtc.RemoteAudioTrack] = asyncio.Future()
    room.on("track_subscribed", lambda track, pub, p: subscribed.set_result(track))
    await room.join("u1")
    track = await asyncio.wait_for(subscribed, T)
    assert isinstance(track, rtc.RemoteAudioTrack)
    pub = room.remote_participants["u1"].track_publications[track.sid]
    assert pub.source == rtc.TrackSource.SOURCE_MICROPHONE and pub.subscribed

    stream = rtc.AudioStream.from_track(track=track, sample_rate=48000, num_channels=1)
    tone = (np.sin(np.arange(4800) * 2 * np.pi * 440 / 48000) * 8000).astype(np.int16)
    played = room.play_audio("u1", tone.tobytes())
    peak = 0

    async def read() -> None:
        nonlocal peak
        async for ev in stream:
            data = np.frombuffer(ev.frame.data, dtype=np.int16)
            peak = max(peak, int(np.abs(data.astype(np.int32)).max()))
            if peak > 4000:
                return

    await asyncio.wait_for(read(), T)
    await asyncio.wait_for(played, T)
    assert peak > 4000  # the tone we queued, not just silence
    await stream.aclose()
    await room.leave("u1")
    assert room.user_audio == {}
    await room.disconnect()


async def test_local_participant_records_instead_of_sending() -> None:
    room = FakeRoom()
    await room.connect("ws://x", "t")
    lp = room.local_participant
    source = rtc.AudioSource(24000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("agent-voice", source)
    pub = await lp.publish_track(track)
    await asyncio.wait_for(pub.wait_for_subscription(), T)
    assert lp.track_publications[pub.sid] is pub and pub.track is track

    writer = await lp.stream_text(topic="lk.transcription", attributes={"a": "b"})
    await writer.write("hello ")
    await writer.write("world")
    await writer.aclose(attributes={"final": "true"})
    await lp.send_text("hi", topic="lk.chat")
    await lp.publish_data(b"\x01", topic="t")
    lp.register_rpc_method("ping", lambda data: "pong")
    assert "ping" in lp._rpc_handlers
    [stream] = lp.streams_on("lk.transcription")
    assert stream.text == "hello world" and stream.closed
    assert stream.close_attributes == {"final": "true"}
    assert [(s.kind, s.topic) for s in lp.sent] == [("text", "lk.chat"), ("data", "t")]

    await lp.unpublish_track(pub.sid)
    assert lp.unpublished_track_sids == [pub.sid] and pub.sid not in lp.track_publications
    await source.aclose()
    await room.disconnect()
