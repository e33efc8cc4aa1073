"""token_tool mint and inspect: what the flags ask for is what the signed token carries."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit import api

import token_tool
from voice_settings import OPERATOR_FIELDS, Source, parse_metadata, resolve
from voice_settings.model import silent_turn_end
from voice_settings.parsing import validate_field
from voice_settings.runtime.config import DEFAULT_AGENT_NAME
from voice_settings.store import load_directory
from voice_settings.tokens import signing

URL = "wss://voice.example.test"
KEY = "APItesttoken"
SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture(autouse=True)
def livekit_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    # A clean working directory: no .env.local of the developer's leaks into a test.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VOICE_DEFAULT_PROFILE", raising=False)
    monkeypatch.delenv("VOICE_PROFILES_DIR", raising=False)
    monkeypatch.setenv("LIVEKIT_URL", URL)
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = token_tool.main(list(argv))
    assert SECRET not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def mint_json(*argv: str) -> dict[str, Any]:
    code, out, err = run("mint", "--json", *argv)
    assert code == 0, err
    return json.loads(out)


def verify(token: str, key: str = KEY, secret: str = SECRET) -> api.access_token.Claims:
    return api.TokenVerifier(key, secret).verify(token)


def lifetime(token: str) -> int:
    raw = jwt.decode(token, options={"verify_signature": False})
    return raw["exp"] - raw["nbf"]


def lifetime_is(token: str, seconds: int) -> bool:
    # livekit-api reads the clock twice (nbf, then exp), in whole seconds: a tick between adds 1.
    return lifetime(token) in (seconds, seconds + 1)


def test_token_carries_identity_settings_grants_expiry_and_dispatch() -> None:
    reply = mint_json(
        "-r", "demo", "-i", "alice", "-n", "Alice", "--profile", "patient",
        "--set", "endpointing_ms=300", "--instructions", "Be brief.",
        "--metadata", '{"theme": "dark", "endpointingMs": 200}', "--attribute", "tier=gold",
        "--agent", "voice-agent", "--set", "llm_model=gpt-4o",
        "--job-metadata", '{"campaign": "spring"}', "--valid-for", "10m")
    claims = verify(reply["access_token"])
    assert (claims.identity, claims.name) == ("alice", "Alice")
    assert claims.video.room_join and claims.video.room == "demo"
    assert not claims.video.can_update_own_metadata
    # The app's own key passes through; the camelCase spelling gives way to the --set value;
    # the operator-only llm_model is not in the participant's metadata.
    assert json.loads(claims.metadata) == {
        "theme": "dark", "endpointing_ms": 300, "instructions": "Be brief.", "profile": "patient"}
    assert claims.attributes == {"tier": "gold"}
    [dispatch] = claims.room_config.agents
    assert dispatch.agent_name == "voice-agent"
    assert json.loads(dispatch.metadata) == {"campaign": "spring", "llm_model": "gpt-4o"}
    assert lifetime_is(reply["access_token"], 600)
    assert set(reply) == {"access_token", "project_url", "identity", "name", "room", "grants",
                          "settings"}
    assert (reply["project_url"], reply["identity"], reply["room"]) == (URL, "alice", "demo")
    assert reply["grants"]["roomJoin"] is True and reply["grants"]["room"] == "demo"
    effective = reply["settings"]
    assert effective["endpointing_ms"] == 300 and effective["llm_model"] == "gpt-4o"
    assert effective["min_endpointing_delay"] == load_directory().values("patient")[
        "min_endpointing_delay"]


def test_defaults_generated_identity_fifteen_minutes_no_dispatch_no_self_update() -> None:
    reply = mint_json("-r", "demo")
    claims = verify(reply["access_token"])
    assert claims.identity.startswith("user-") and claims.identity == reply["identity"]
    assert claims.room_config is None and claims.metadata == ""
    assert not claims.video.can_update_own_metadata
    assert lifetime_is(reply["access_token"], 15 * 60)


def test_wrong_secret_or_key_fails_verification() -> None:
    token = mint_json("-r", "demo")["access_token"]
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, secret="another-secret-of-sufficient-length-0123456789")
    with pytest.raises(jwt.InvalidIssuerError):
        verify(token, key="APIother")


def test_allow_update_metadata_grants_and_warns() -> None:
    code, out, err = run("-r", "demo", "--allow-update-metadata", "--token-only")
    assert code == 0
    assert verify(out.strip()).video.can_update_own_metadata is True
    assert "warning" in err and "instructions" in err


def test_output_modes_and_default_subcommand() -> None:
    code, out, _ = run("-r", "demo", "-i", "bob", "--token-only")
    assert code == 0 and out.count("\n") == 1 and verify(out.strip()).identity == "bob"
    code, out, _ = run("-r", "demo", "-i", "bob", "-n", "Bob", "--connection-details")
    details = json.loads(out)
    assert set(details) == {"server_url", "participant_token", "room_name", "participant_name"}
    assert (details["server_url"], details["room_name"], details["participant_name"]) == (
        URL, "demo", "Bob")
    assert verify(details["participant_token"]).identity == "bob"
    code, out, _ = run("-r", "demo", "-i", "bob", "--set", "greeting=Hi")
    assert code == 0 and "greeting" in out and "access token:" in out


@pytest.mark.parametrize(("argv", "named"), [
    (["--set", "endpointing_ms=99999"], ["endpointing_ms", "99999", "5000",
                                         "nothing was signed"]),
    (["--set", "min_endpointing_delay=true"], ["min_endpointing_delay", "true"]),
    (["--set", "turn_detection=sometimes"], ["turn_detection", "sometimes", "model"]),
    (["--instructions", "   "], ["instructions"]),
    (["--profile", "no-such-profile"], ["profile", "no-such-profile", "patient"]),
    (["--metadata", '{"stt_model": "nova-2"}'], ["stt_model", "operator"]),
    (["--agent", "a", "--set", "tts_voice=two words"], ["tts_voice", "two words"]),
    (["--agent", "a", "--job-metadata", '{"endpointing_ms": -1}'], ["endpointing_ms", "-1"]),
    (["--set", "min_endpointing_delay=2", "--set", "max_endpointing_delay=1"],
     ["min_endpointing_delay", "max_endpointing_delay"]),
    (["--set", "nonsense=1"], ["nonsense", "endpointing_ms"]),
    (["--set", "llm_model=gpt-4o"], ["llm_model", "--agent"]),
    (["--job-metadata", '{"campaign": 1}'], ["--job-metadata", "--agent"]),
    (["--metadata", "[1, 2]"], ["--metadata", "JSON object"]),
    (["--metadata", "{oops"], ["--metadata", "JSON"]),
    (["--metadata", json.dumps({"pad": "x" * 70_000})], ["metadata", "65536"]),
    (["--valid-for", "0s"], ["--valid-for"]),
    (["--valid-for", "soon"], ["--valid-for", "soon"]),
    (["--valid-for", "999999999999h"], ["--valid-for", "999999999999h", "10 years"]),
    (["--metadata-file", "/dev/zero"], ["--metadata-file", "262144 byte limit"]),
    (["--attribute-file", "/dev/zero"], ["--attribute-file", "262144 byte limit"]),
    (["--metadata-file", "/no/such/file"], ["--metadata-file", "/no/such/file"]),
    (["--attribute", "novalue"], ["--attribute", "KEY=VALUE"]),
    (["--attribute", "pad=" + "x" * 70_000], ["attributes", "65536"]),
    (["--room", " "], ["--room", "empty"]),
])
def test_invalid_input_exits_2_names_the_problem_and_signs_nothing(
        monkeypatch: pytest.MonkeyPatch, argv: list[str], named: list[str]) -> None:
    signed = []
    monkeypatch.setattr(signing, "sign", lambda *a: signed.append(a) or "token")
    code, out, err = run("mint", "-r", "demo", *argv)
    assert code == 2 and "Traceback" not in err
    assert out == "" and signed == []
    for text in named:
        assert text in err


def test_attributes_limit_is_the_bytes_livekit_counts(tmp_path: Any) -> None:
    # The same boundary as serve's: UTF-8 bytes of every key and value, no JSON around them.
    at_the_limit = {"pad": "é" * 32765, "k": "xy"}  # 3 + 2 * 32765 + 1 + 2 = 65536 bytes
    path = tmp_path / "attributes.json"
    path.write_text(json.dumps(at_the_limit), encoding="utf-8")
    code, out, err = run("mint", "-r", "demo", "--token-only", "--attribute-file", str(path))
    assert code == 0, err
    assert verify(out.strip()).attributes == at_the_limit
    code, _, err = run("mint", "-r", "demo", "--attribute-file", str(path), "--attribute", "k=xyz")
    assert code == 2 and "attributes is 65537 bytes" in err


def test_missing_credentials_is_one_line_naming_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEKIT_API_SECRET")
    monkeypatch.delenv("LIVEKIT_URL")
    code, out, err = run("-r", "demo")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "LIVEKIT_API_SECRET" in err and "LIVEKIT_URL" in err
    assert "LIVEKIT_API_KEY" not in err.split("not set")[0]
    # The URL is only needed where it is printed.
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    assert run("-r", "demo", "--token-only")[0] == 0


def test_env_local_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Any) -> None:
    file_secret = "secret-from-env-local-file-0123456789abcdef"
    (tmp_path / ".env.local").write_text(
        f"LIVEKIT_URL=ws://from-file:7880\nLIVEKIT_API_KEY=APIfile\n"
        f"LIVEKIT_API_SECRET={file_secret}\n")
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name)
    reply = mint_json("-r", "demo")
    assert reply["project_url"] == "ws://from-file:7880"
    verify(reply["access_token"], "APIfile", file_secret)
    assert file_secret not in json.dumps({k: v for k, v in reply.items() if k != "access_token"})
    monkeypatch.setenv("LIVEKIT_URL", URL)
    assert mint_json("-r", "demo")["project_url"] == URL


def test_dev_uses_the_local_dev_server_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name)
    reply = mint_json("-r", "demo", "--dev")
    assert reply["project_url"] == "ws://localhost:7880"
    verify(reply["access_token"], "devkey", "secret")


@pytest.mark.parametrize("where", ["before", "after"])
def test_dev_works_before_or_after_the_command(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """`--dev inspect TOKEN` was read as a mint and failed with "-r/--room is required"."""
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name)
    token = mint_json("--dev", "-r", "demo", "-i", "alice")["access_token"]
    argv = ["--dev", "inspect", token] if where == "before" else ["inspect", token, "--dev"]
    code, out, err = run(*argv, "--json")
    assert code == 0, err
    assert json.loads(out)["identity"] == "alice"


@pytest.mark.parametrize(("command", "flags"), [
    ([], ["mint", "serve", "update", "inspect", "LIVEKIT_API_SECRET"]),
    (["mint"], ["--room", "--identity", "--name", "--profile", "--set", "--metadata",
                "--metadata-file", "--instructions", "--agent", "--job-metadata", "--valid-for",
                "--allow-update-metadata", "--json", "--token-only", "--connection-details",
                "--dev", "--attribute"]),
    (["serve"], ["--host", "--port", "--allow-agent", "TOKEN_SERVER_SECRET",
                 "TOKEN_SERVER_ALLOWED_AGENTS", "/api/connection-details", "--cors-origin"]),
    (["update"], ["--room", "--identity", "--set", "--replace", "--unset", "--instructions",
                  "--timeout"]),
    (["inspect"], ["TOKEN", "--json", "--dev"]),
])
def test_help_is_complete(command: list[str], flags: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0
    for flag in flags:
        assert flag in out


@pytest.mark.parametrize(("argv", "shown"), [
    (["help"], ["mint", "serve", "update", "inspect", "LIVEKIT_API_SECRET"]),
    (["help", "update"], ["--replace", "--timeout", "compare-and-set"]),
    (["help", "serve"], ["--allow-agent", "/api/connection-details"]),
])
def test_help_command_prints_help(argv: list[str], shown: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 0 and err == "" and out.startswith("usage: token_tool.py")
    for text in shown:
        assert text in out


@pytest.mark.parametrize(("argv", "named"), [
    (["help", "mnit"], ["'mnit'", "did you mean mint?"]),
    (["inspcet", "TOKEN"], ["'inspcet'", "did you mean inspect?"]),
    (["updte", "-r", "demo"], ["'updte'", "did you mean update?"]),
    (["frobnicate"], ["'frobnicate'", "mint, serve, update, inspect, help"]),
])
def test_an_unknown_command_is_a_usage_error_naming_the_closest(argv: list[str],
                                                                named: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 2 and out == "" and err.startswith("error: unknown command")
    for text in named:
        assert text in err


def test_an_unknown_setting_suggests_the_closest_name() -> None:
    code, out, err = run("-r", "demo", "--set", "endpointingms=300")
    assert code == 2 and out == ""
    assert "unknown setting 'endpointingms'; did you mean endpointing_ms?" in err


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30", "", "   ",
                                   "a.b.c.d.e", "\u00e9t\u00e9"])
def test_inspect_of_something_that_is_not_a_token_is_a_usage_error(
        monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    # Said before the credentials are even looked for: no key pair makes "garbage" a token.
    monkeypatch.delenv("LIVEKIT_API_SECRET")
    code, out, err = run("inspect", token)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "not a LiveKit token" in err or "no token" in err
    assert "segments" not in err and "padding" not in err


def test_inspect_reads_a_token_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    token = mint_json("-r", "demo", "-i", "erin")["access_token"]
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    code, out, _ = run("inspect", "-")
    assert code == 0 and "erin" in out
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run("inspect", "-")
    assert code == 2 and "no token" in err


@pytest.mark.parametrize("data", [b"\xff\xfe.", b"\x00" * (1 << 21)])
def test_inspect_refuses_stdin_that_is_not_a_token_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                                data: bytes) -> None:
    """Non-UTF-8 bytes, or more than any token holds, on stdin: exit 2, one line."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code, out, err = run("inspect", "-")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("error: the token on stdin")


def test_mint_without_agent_notes_that_no_agent_is_dispatched() -> None:
    code, out, err = run("-r", "demo", "--token-only")
    assert code == 0 and verify(out.strip()).room_config is None
    assert err.startswith("note: no --agent: this token dispatches no agent")
    assert f"registers as {DEFAULT_AGENT_NAME} unless AGENT_NAME" in err  # agent.py's own name
    code, _, err = run("-r", "demo", "--token-only", "--agent", "voice-agent")
    assert code == 0 and "no --agent" not in err


@pytest.mark.parametrize("name", [None, "Bob", "Zoë"])
def test_json_and_connection_details_show_the_name_the_token_carries(name: str | None) -> None:
    named = ["-n", name] if name else []
    report = mint_json("-r", "demo", "-i", "bob-7", *named)
    code, out, _ = run("-r", "demo", "-i", "bob-7", *named, "--connection-details")
    details = json.loads(out)
    expected = name or "bob-7"  # without --name, the identity is the display name
    assert report["name"] == details["participant_name"] == expected
    assert verify(report["access_token"]).name == verify(details["participant_token"]).name
    assert verify(report["access_token"]).name == expected


def test_update_help_says_a_concurrent_change_can_be_lost() -> None:
    # GetParticipant then UpdateParticipant, and LiveKit has no compare-and-set.
    code, out, _ = run("update", "--help")
    text = " ".join(out.split())
    assert code == 0 and "compare-and-set" in text and "lost" in text
    assert "--replace skips the read and the merge" in text


def test_inspect_shows_identity_grants_expiry_settings_and_dispatch() -> None:
    token = mint_json("-r", "demo", "-i", "carol", "--set", "endpointing_ms=400",
                      "--agent", "voice-agent", "--set", "tts_voice=echo")["access_token"]
    code, out, _ = run("inspect", token, "--json")
    report = json.loads(out)
    assert code == 0 and report["errors"] == []
    assert (report["identity"], report["room"]) == ("carol", "demo")
    assert report["grants"]["roomJoin"] is True and report["expires_at"].endswith("Z")
    [dispatch] = report["dispatch"]
    assert (dispatch["agent_name"], dispatch["metadata"]) == ("voice-agent",
                                                             '{"tts_voice":"echo"}')
    assert report["settings"]["endpointing_ms"] == 400
    assert report["sources"]["tts_voice"] == "dispatch"
    code, out, _ = run("inspect", token)
    assert code == 0 and "carol" in out and "voice-agent" in out and "endpointing_ms" in out


def test_inspect_refuses_a_wrong_secret_and_an_expired_token(
        monkeypatch: pytest.MonkeyPatch) -> None:
    token = mint_json("-r", "demo")["access_token"]
    monkeypatch.setenv("LIVEKIT_API_SECRET", "not-the-secret-that-signed-it-0123456789")
    code, out, err = run("inspect", token)
    assert code == 1 and out == "" and "does not verify" in err
    expired = (api.AccessToken(KEY, SECRET).with_identity("x")
               .with_grants(api.VideoGrants(room_join=True, room="demo")))
    expired.ttl = -dt.timedelta(hours=1)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    code, _, err = run("inspect", expired.to_jwt())
    assert code == 1 and "expired" in err


def test_inspect_exits_2_for_a_token_with_invalid_settings() -> None:
    # Signed by someone else's tool, without validation.
    token = (api.AccessToken(KEY, SECRET).with_identity("dave")
             .with_grants(api.VideoGrants(room_join=True, room="demo"))
             .with_metadata('{"endpointing_ms": 99999}').to_jwt())
    code, out, _ = run("inspect", token, "--json")
    assert code == 2
    assert [e["field"] for e in json.loads(out)["errors"]] == ["endpointing_ms"]


def two_dispatch_token(second_metadata: str) -> str:
    dispatches = [api.RoomAgentDispatch(agent_name="first", metadata='{"tts_voice": "echo"}'),
                  api.RoomAgentDispatch(agent_name="second", metadata=second_metadata)]
    return (api.AccessToken(KEY, SECRET).with_identity("erin")
            .with_grants(api.VideoGrants(room_join=True, room="demo"))
            .with_metadata('{"endpointing_ms": 400}')
            .with_room_config(api.RoomConfiguration(agents=dispatches)).to_jwt())


def test_inspect_validates_and_shows_every_agent_dispatch() -> None:
    token = two_dispatch_token('{"tts_voice": "nova"}')
    code, out, _ = run("inspect", token, "--json")
    report = json.loads(out)
    assert code == 0 and report["errors"] == []
    first, second = report["dispatch"]
    assert (first["agent_name"], second["agent_name"]) == ("first", "second")
    # Each agent runs with the participant's settings over its own dispatch metadata.
    assert first["settings"]["tts_voice"] == "echo" and second["settings"]["tts_voice"] == "nova"
    assert first["settings"]["endpointing_ms"] == second["settings"]["endpointing_ms"] == 400
    assert second["sources"]["tts_voice"] == "dispatch" and second["errors"] == []
    code, out, _ = run("inspect", token)
    assert code == 0 and "agent second" in out and '"nova"' in out and '"echo"' in out


def test_inspect_exits_2_when_a_later_dispatch_is_invalid() -> None:
    token = two_dispatch_token('{"turn_detection": "sometimes"}')
    code, out, _ = run("inspect", token, "--json")
    report = json.loads(out)
    assert code == 2
    assert [(e["field"], e["agent_name"]) for e in report["errors"]] == [
        ("turn_detection", "second")]
    assert report["dispatch"][0]["errors"] == []
    assert [e["field"] for e in report["dispatch"][1]["errors"]] == ["turn_detection"]
    code, out, _ = run("inspect", token)
    assert code == 2 and "invalid: turn_detection" in out and "second" in out


# --- Property: for any valid settings, mint -> verify -> parse gives them back --------------

_FINITE = {"allow_nan": False, "allow_infinity": False}
_MODEL_ID = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:/ -]{0,30}\Z")
# Candidates stray outside the valid ranges on purpose; the library's validator filters them.
_CANDIDATES = {
    "endpointing_ms": st.integers(-10, 6000),
    "utterance_end_ms": st.none() | st.integers(900, 6000),
    "endpointing_mode": st.sampled_from(["fixed", "dynamic", "other"]),
    "turn_detection": st.sampled_from(["model", "vad", "stt"]),
    "allow_interruptions": st.booleans(),
    "min_interruption_duration": st.floats(0, 3.5, **_FINITE),
    "min_interruption_words": st.integers(0, 12),
    "false_interruption_timeout": st.none() | st.floats(0.4, 11, **_FINITE),
    "resume_false_interruption": st.booleans(),
    "preemptive_generation": st.booleans(),
    "user_away_timeout": st.none() | st.floats(4, 700, **_FINITE),
    "instructions": st.text(min_size=1, max_size=300),
    "greeting": st.text(max_size=120),
    "assistant_id": st.from_regex(r"\A[A-Za-z0-9._:@/ -]{1,40}\Z"),
    "profile": st.sampled_from(["default", "patient", "snappy", "dictation"]),
    "stt_model": _MODEL_ID,
    "stt_language": st.sampled_from(["en-US", "de", "multi", "pt-BR", "english please"]),
    "llm_model": _MODEL_ID,
    "tts_model": _MODEL_ID,
    "tts_voice": st.from_regex(r"\A[A-Za-z0-9_ -]{1,20}\Z"),
}


@st.composite
def valid_settings(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.sets(st.sampled_from(sorted(_CANDIDATES))))
    values = {}
    for name in sorted(chosen):
        value = draw(_CANDIDATES[name])
        if validate_field(name, value)[1] is None:
            values[name] = value
    if draw(st.booleans()):  # both bounds or neither: one bound alone may conflict a profile
        low = draw(st.floats(0, 5, **_FINITE))
        values["min_endpointing_delay"] = low
        values["max_endpointing_delay"] = draw(st.floats(max(low, 0.2), 10, **_FINITE))
    if silent_turn_end(values.get("turn_detection"), values.get("endpointing_ms"),
                       values.get("utterance_end_ms")):
        values["endpointing_ms"] = 25  # an "stt" turn that could never end is refused
    return values


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(values=valid_settings())
def test_mint_verify_parse_round_trips_any_valid_settings(values: dict[str, Any]) -> None:
    argv = [f"--set={name}={json.dumps(value)}" for name, value in values.items()]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = token_tool.main(["mint", "-r", "demo", "--token-only", "--agent", "a", *argv])
    assert code == 0
    claims = verify(out.getvalue().strip())
    participant, dispatch = claims.metadata, claims.room_config.agents[0].metadata
    from_participant = parse_metadata(participant)
    from_dispatch = parse_metadata(dispatch, Source.DISPATCH)
    assert from_participant.errors == from_dispatch.errors == ()
    assert set(from_dispatch.values) <= OPERATOR_FIELDS
    assert {**from_participant.values, **from_dispatch.values} == values
    resolution = resolve(participant=participant, dispatch=dispatch, profiles=load_directory())
    assert {name: getattr(resolution.settings, name) for name in values} == values
