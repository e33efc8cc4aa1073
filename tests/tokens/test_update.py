"""token_tool update against a loopback stand-in of LiveKit's Twirp RoomService.

The installed livekit-api client POSTs protobuf (Content-Type: application/protobuf) to
/twirp/livekit.RoomService/<Method> with `Authorization: Bearer <JWT>`; errors come back as
Twirp JSON {code, msg}. The stand-in checks all of that, as the server would.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from livekit import api

import token_tool

KEY = "APItestupdate"
SECRET = "update-test-secret-long-enough-for-hs256-0123456789"
PREFIX = "/twirp/livekit.RoomService/"
MESSAGES = {"GetParticipant": api.RoomParticipantIdentity,
            "UpdateParticipant": api.UpdateParticipantRequest}


@dataclass
class Call:
    method: str
    request: Any
    claims: api.access_token.Claims


HANG, GARBAGE, ERROR_AFTER_WRITE = "hang", "garbage", "error after write"
"""How the stand-in may misbehave for one method: accept the call and never answer; answer 200
with bytes that are not a ParticipantInfo; store the write, then answer 500."""


@dataclass
class RoomServiceStandIn:
    metadata: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    misbehave: dict[str, str] = field(default_factory=dict)
    """method -> HANG, GARBAGE or ERROR_AFTER_WRITE."""
    released: asyncio.Event | None = None
    """Set at teardown: a hanging call then ends, so the stand-in can shut down."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PREFIX + "{method}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type != "application/protobuf" or method not in MESSAGES:
            return twirp_error(400, "malformed", "protobuf requests only")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = api.TokenVerifier(KEY, SECRET).verify(token)
        except Exception:
            return twirp_error(401, "unauthenticated", "invalid token")
        message = MESSAGES[method].FromString(await request.read())
        self.calls.append(Call(method, message, claims))
        where = (message.room, message.identity)
        if where not in self.metadata:
            return twirp_error(404, "not_found", "participant does not exist")
        how = self.misbehave.get(method)
        if how == HANG:
            assert self.released is not None
            await self.released.wait()
        if method == "UpdateParticipant":
            self.metadata[where] = message.metadata
        if how == GARBAGE:
            return web.Response(body=b"\xff\xfe not protobuf \x00\x01",
                                content_type="application/protobuf")
        if how == ERROR_AFTER_WRITE:
            return twirp_error(500, "internal", "could not confirm the write")
        info = api.ParticipantInfo(identity=message.identity, metadata=self.metadata[where])
        return web.Response(body=info.SerializeToString(), content_type="application/protobuf")


def twirp_error(status: int, code: str, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


@pytest.fixture
def room_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[RoomServiceStandIn]:
    # Its own loop in a thread, because `update` runs asyncio.run() like the real command does.
    stand_in = RoomServiceStandIn()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(stand_in.app())

    def on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)

    async def make_release_event() -> asyncio.Event:
        return asyncio.Event()

    stand_in.released = on_loop(make_release_event())
    on_loop(runner.setup())
    on_loop(web.TCPSite(runner, "127.0.0.1", 0).start())
    stand_in.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VOICE_DEFAULT_PROFILE", raising=False)
    monkeypatch.setenv("LIVEKIT_URL", stand_in.url)
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    yield stand_in
    loop.call_soon_threadsafe(stand_in.released.set)
    on_loop(runner.cleanup())
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def update(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = token_tool.main(["update", "-r", "demo", "-i", "alice", *argv])
    assert SECRET not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def assert_admin_for_demo(call: Call) -> None:
    assert call.claims.video.room_admin is True and call.claims.video.room == "demo"


def test_merges_validated_settings_into_current_metadata(room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = json.dumps(
        {"theme": "dark", "endpointingMs": 200, "instructions": "Old prompt."})
    code, out, err = update("--set", "endpointing_ms=300", "--instructions", "New prompt.")
    assert code == 0, err
    get, put = room_service.calls
    assert get.method == "GetParticipant" and put.method == "UpdateParticipant"
    assert (put.request.room, put.request.identity) == ("demo", "alice")
    assert json.loads(put.request.metadata) == {
        "theme": "dark", "endpointing_ms": 300, "instructions": "New prompt."}
    assert_admin_for_demo(get)
    assert_admin_for_demo(put)
    assert "applies live" in out and "instructions" in out
    assert "next session" in out and "endpointing_ms" in out


def test_replace_skips_the_merge(room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = '{"theme": "dark", "greeting": "Yo"}'
    code, _, err = update("--replace", "--metadata", '{"theme": "light"}', "--profile", "patient")
    assert code == 0, err
    [put] = room_service.calls
    assert put.method == "UpdateParticipant"
    assert json.loads(put.request.metadata) == {"theme": "light", "profile": "patient"}
    assert_admin_for_demo(put)


def test_unset_removes_any_spelling_of_the_field(room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = '{"systemPrompt": "Old", "greeting": "Yo"}'
    code, _, err = update("--unset", "instructions")
    assert code == 0, err
    assert json.loads(room_service.calls[-1].request.metadata) == {"greeting": "Yo"}


@pytest.mark.parametrize(("argv", "named"), [
    (["--set", "endpointing_ms=99999"], ["endpointing_ms", "99999"]),
    (["--instructions", " "], ["instructions"]),
    (["--profile", "no-such-profile"], ["profile", "no-such-profile"]),
    (["--set", "llm_model=gpt-4o"], ["llm_model", "operator-only"]),
    (["--set", "nonsense=1"], ["nonsense"]),
    ([], ["nothing to update"]),
])
def test_invalid_update_exits_2_before_any_request(room_service: RoomServiceStandIn,
                                                   argv: list[str], named: list[str]) -> None:
    room_service.metadata[("demo", "alice")] = "{}"
    code, out, err = update(*argv)
    assert code == 2 and room_service.calls == []
    for text in named:
        assert text in err


def test_invalid_merged_result_is_not_sent(room_service: RoomServiceStandIn) -> None:
    # Someone else wrote a bad value; merging must not carry it into a "validated" update.
    room_service.metadata[("demo", "alice")] = '{"min_interruption_words": 50}'
    code, _, err = update("--instructions", "Hello.")
    assert code == 2 and "min_interruption_words" in err
    assert [c.method for c in room_service.calls] == ["GetParticipant"]


def test_current_metadata_that_is_not_json_needs_replace(room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = "plain text"
    code, _, err = update("--instructions", "Hello.")
    assert code == 1 and "--replace" in err
    assert [c.method for c in room_service.calls] == ["GetParticipant"]


def test_unknown_participant_is_a_one_line_server_error(room_service: RoomServiceStandIn) -> None:
    code, _, err = update("--instructions", "Hello.")
    assert code == 1 and "not_found" in err and err.count("\n") == 1


@pytest.mark.parametrize("current", ["{}", '{"min_interruption_words": 50}'])
def test_invalid_update_says_nothing_was_sent(room_service: RoomServiceStandIn,
                                             current: str) -> None:
    # Checked before the read ("{}" + a bad value) and after the merge (a bad current value).
    room_service.metadata[("demo", "alice")] = current
    argv = ["--set", "endpointing_ms=99999"] if current == "{}" else ["--instructions", "Hi."]
    code, _, err = update(*argv)
    assert code == 2 and "nothing was sent" in err and "signed" not in err


# --- A server that does not answer, or answers what cannot be read ----------------------------


def test_an_update_never_answered_ends_at_the_deadline_saying_it_may_have_landed(
        room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = "{}"
    room_service.misbehave["UpdateParticipant"] = HANG
    code, out, err = update("--instructions", "Hello.", "--timeout", "0.5")
    assert code == 1 and out == ""
    assert "0.5 s" in err and "may or may not have been applied" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert [c.method for c in room_service.calls] == ["GetParticipant", "UpdateParticipant"]


def test_a_read_never_answered_ends_at_the_deadline_with_nothing_changed(
        room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = "{}"
    room_service.misbehave["GetParticipant"] = HANG
    code, _, err = update("--instructions", "Hello.", "--timeout", "0.5")
    assert code == 1 and "0.5 s" in err and "nothing was changed" in err
    assert [c.method for c in room_service.calls] == ["GetParticipant"]


def test_an_unreadable_reply_to_the_update_is_one_clear_line(
        room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = "{}"
    room_service.misbehave["UpdateParticipant"] = GARBAGE
    code, out, err = update("--instructions", "Hello.")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "not a ParticipantInfo" in err and "may or may not have been applied" in err


def test_an_unreadable_reply_to_the_read_changes_nothing(
        room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = "{}"
    room_service.misbehave["GetParticipant"] = GARBAGE
    code, _, err = update("--instructions", "Hello.")
    assert code == 1 and "not a ParticipantInfo" in err and "nothing was changed" in err
    assert [c.method for c in room_service.calls] == ["GetParticipant"]


def test_a_5xx_after_the_write_says_it_may_have_been_applied(
        room_service: RoomServiceStandIn) -> None:
    room_service.metadata[("demo", "alice")] = "{}"
    room_service.misbehave["UpdateParticipant"] = ERROR_AFTER_WRITE
    code, _, err = update("--instructions", "Hello.")
    assert code == 1 and "refused" not in err
    assert "500" in err and "may or may not have been applied" in err
    # It had landed: exactly the case the message must not deny.
    assert json.loads(room_service.metadata[("demo", "alice")]) == {"instructions": "Hello."}


def test_a_4xx_to_the_update_says_it_was_refused(room_service: RoomServiceStandIn) -> None:
    code, _, err = update("--replace", "--instructions", "Hello.")
    assert code == 1 and "refused" in err and "not_found" in err and "not applied" in err


@pytest.mark.parametrize("timeout", ["0", "-1", "soon", "nan", "inf"])
def test_timeout_must_be_a_positive_number_of_seconds(room_service: RoomServiceStandIn,
                                                      timeout: str) -> None:
    code, _, err = update("--instructions", "Hello.", "--timeout", timeout)
    assert code == 2 and "--timeout" in err and room_service.calls == []
