"""token_tool serve against hostile requests, sent as raw bytes on a socket to a real 127.0.0.1
port, so header values, targets and bodies reach the server exactly as written: whatever a
client sends, every route answers with a 2xx-4xx, never a 5xx."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.strategies import hostile_profile_bodies
from tests.tokens.serve_helpers import (
    ADMIN_SECRET,
    BROWSER_SECRET,
    config_for,
    raw_request,
    serving_in_thread,
    shipped_profiles,
)
from voice_settings.tokens.profile_api import PROFILES_PATH, SCHEMA_PATH
from voice_settings.tokens.server import ENDPOINT_PATH, HEALTH_PATH

ADMIN_BEARER = b"Bearer " + ADMIN_SECRET.encode()
BROWSER_BEARER = b"Bearer " + BROWSER_SECRET.encode()
JSON = (b"Content-Type", b"application/json")

# (method, target, the bearer it needs): every route of the server, the profile API on.
PROTECTED = [
    ("POST", ENDPOINT_PATH.encode(), BROWSER_BEARER),
    ("GET", PROFILES_PATH.encode(), ADMIN_BEARER),
    ("GET", SCHEMA_PATH.encode(), ADMIN_BEARER),
    ("GET", b"/api/profiles/patient", ADMIN_BEARER),
    ("PUT", b"/api/profiles/patient", ADMIN_BEARER),
    ("DELETE", b"/api/profiles/snappy", ADMIN_BEARER),
]
TARGETS = [ENDPOINT_PATH.encode(), HEALTH_PATH.encode(), PROFILES_PATH.encode(),
           SCHEMA_PATH.encode(), b"/api/profiles/patient", b"/api/profiles/new-one",
           b"/api/profiles/%ff", b"/api/profiles/a%2Fb", b"/api/profiles/..", b"/nowhere",
           b"/api/connection-details?x=%00", b"*"]
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = shipped_profiles(tmp_path_factory.mktemp("hostile-serve") / "profiles")
    with serving_in_thread(config_for(directory, bearer_secret=BROWSER_SECRET)) as base:
        yield base


def error_of(body: bytes) -> str:
    """The `error` of one of our JSON error bodies (it fails for aiohttp's plain-text ones)."""
    return json.loads(body)["error"]


@pytest.mark.parametrize(("method", "target", "bearer"), [
    ("POST", ENDPOINT_PATH.encode(), BROWSER_BEARER),
    ("PUT", b"/api/profiles/deep", ADMIN_BEARER),
])
@pytest.mark.parametrize("body", [b"[" * 60_000, b"{\"a\":" * 12_000, b"{" * 5000])
def test_a_deeply_nested_body_is_400(server: str, method: str, target: bytes, bearer: bytes,
                                     body: bytes) -> None:
    headers = [(b"Authorization", bearer), JSON, (b"If-None-Match", b"*")]
    status, _, reply = raw_request(server, method, target, headers, body)
    assert status == 400
    assert "deep" in error_of(reply) or "not valid JSON" in error_of(reply)


@pytest.mark.parametrize(("method", "target", "bearer"), PROTECTED)
@pytest.mark.parametrize("given", [b"Bearer \xff", b"Bearer \xc3\x28", b"\xff\xfe",
                                   b"Bearer " + ADMIN_SECRET.encode() + b"\x80"])
def test_authorization_bytes_that_are_not_utf8_are_401(server: str, method: str, target: bytes,
                                                       bearer: bytes, given: bytes) -> None:
    status, headers, reply = raw_request(server, method, target,
                                         [(b"Authorization", given), JSON], b"{}")
    assert status == 401 and b"WWW-Authenticate: Bearer" in headers
    assert "bearer" in error_of(reply)


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
@pytest.mark.parametrize(("method", "target", "bearer"), [
    ("POST", ENDPOINT_PATH.encode(), BROWSER_BEARER),
    ("PUT", b"/api/profiles/compressed", ADMIN_BEARER),
])
def test_a_body_that_does_not_decompress_is_400(server: str, encoding: bytes, method: str,
                                                target: bytes, bearer: bytes) -> None:
    headers = [(b"Authorization", bearer), JSON, (b"Content-Encoding", encoding),
               (b"If-None-Match", b"*")]
    status, _, reply = raw_request(server, method, target, headers, b"not compressed at all")
    assert status == 400 and "Content-Encoding" in error_of(reply)


def test_a_compressed_body_is_read(server: str) -> None:
    body = json.dumps({"room_name": "zipped"}).encode()
    for encoding, data in [(b"gzip", gzip.compress(body)), (b"deflate", zlib.compress(body))]:
        headers = [(b"Authorization", BROWSER_BEARER), JSON, (b"Content-Encoding", encoding)]
        status, _, reply = raw_request(server, "POST", ENDPOINT_PATH.encode(), headers, data)
        assert status == 201 and json.loads(reply)["room_name"] == "zipped"


# --- Fuzzing every route ----------------------------------------------------------------------

# Bytes the HTTP grammar allows in a field value (VCHAR, obs-text, space, tab), which reach the
# application, and now and then any byte but CR and LF (which would end the header line).
field_value = st.lists(st.one_of(st.integers(0x20, 0x7E), st.integers(0x80, 0xFF), st.just(9)),
                       max_size=40).map(bytes)
header_bytes = st.one_of(
    field_value, field_value, field_value,
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")))
authorization = st.one_of(st.sampled_from([ADMIN_BEARER, BROWSER_BEARER]), header_bytes,
                          header_bytes.map(lambda b: b"Bearer " + b))
content_type = st.one_of(st.sampled_from([b"application/json", b"text/plain",
                                          b"multipart/form-data; boundary=x",
                                          b"application/x-www-form-urlencoded",
                                          b"application/json; charset=latin-1"]), header_bytes)
optional_headers = st.fixed_dictionaries({}, optional={
    b"Content-Type": content_type,
    b"Content-Encoding": st.one_of(st.sampled_from([b"gzip", b"deflate", b"identity"]),
                                   header_bytes),
    b"If-Match": st.one_of(st.just(b"*"), header_bytes),
    b"If-None-Match": st.one_of(st.just(b"*"), header_bytes),
    b"Origin": st.one_of(st.just(b"https://admin.example"), header_bytes),
    b"Access-Control-Request-Method": st.one_of(st.sampled_from([b"PUT", b"POST"]), header_bytes),
    b"Access-Control-Request-Headers": header_bytes,
    b"Accept": header_bytes,
})
bodies = st.one_of(
    hostile_profile_bodies,
    st.sampled_from([b"[" * 100_000, b'{"participant_metadata": "' + b"[" * 10_000 + b'"}',
                     b'{"room_config": {"agents": [' + b"[" * 1000 + b"]}}",
                     gzip.compress(b"{}"), gzip.compress(b"[" * 100_000)]),
    st.binary(max_size=200).map(gzip.compress),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(route=st.one_of(
           st.sampled_from([(m, t) for m, t, _ in PROTECTED]
                           + [("OPTIONS", t) for t in TARGETS]
                           + [("PUT", b"/api/profiles/new-one"), ("GET", HEALTH_PATH.encode())]),
           st.tuples(st.sampled_from(METHODS), st.one_of(
               st.sampled_from(TARGETS),
               st.binary(max_size=20).map(lambda b: b"/api/profiles/" + b.hex().encode()),
               st.text(max_size=12).map(
                   lambda t: b"/api/profiles/" + t.encode("utf-8", "surrogatepass"))))),
       auth=st.one_of(st.none(), st.sampled_from([ADMIN_BEARER, BROWSER_BEARER]), authorization),
       headers=optional_headers, body=bodies)
def test_no_request_is_answered_with_a_5xx(server: str, route: tuple[str, bytes],
                                          auth: bytes | None, headers: dict[bytes, bytes],
                                          body: bytes) -> None:
    method, target = route
    sent = [*(([(b"Authorization", auth)]) if auth is not None else []), *headers.items()]
    # A target with spaces or controls is a malformed request line; still the client's error.
    target = target.replace(b" ", b"%20").replace(b"\r", b"").replace(b"\n", b"")
    status, _, reply = raw_request(server, method, target, sent, body)
    answered_by = "the parser" if status == 400 and not reply.startswith(b"{") else "the app"
    event(f"{method} {status} from {answered_by}")
    assert status < 500, (method, target, sent, body[:100])


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(PROTECTED),
       value=field_value.map(lambda b: b"Bearer " + b))
def test_any_authorization_bytes_reach_the_bearer_check(server: str,
                                                        route: tuple[str, bytes, bytes],
                                                        value: bytes) -> None:
    # Bytes the HTTP grammar allows in a field value (VCHAR, obs-text, space, tab) are not
    # refused by the parser: the route's own bearer check answers, with our JSON 401.
    method, target, bearer = route
    status, headers, reply = raw_request(server, method, target, [(b"Authorization", value),
                                                                  JSON], b"{}")
    if bearer.removeprefix(b"Bearer ") in value:
        return
    assert status == 401 and b"WWW-Authenticate: Bearer" in headers, (value, status, reply)
    assert "bearer" in error_of(reply)


def test_the_fuzzed_profiles_still_load(server: str) -> None:
    # Whatever the fuzz above wrote, a worker starting now can load (checked last in the module).
    status, _, reply = raw_request(server, "GET", PROFILES_PATH.encode(),
                                   [(b"Authorization", ADMIN_BEARER)])
    assert status == 200 and all("problem" not in p for p in json.loads(reply)["profiles"])
