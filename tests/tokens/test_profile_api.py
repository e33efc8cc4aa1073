"""The profile API of token_tool.py serve, over real HTTP on 127.0.0.1: every status it answers,
conditional writes that never overwrite silently (also when two editors race), and files that a
reader never sees half-written."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import token_tool
from tests.strategies import hostile_profile_bodies
from tests.tokens.serve_helpers import (
    ADMIN,
    ADMIN_SECRET,
    BROWSER_SECRET,
    KEY,
    SECRET,
    URL,
    call,
    config_for,
    serving,
    serving_in_thread,
    shipped_profiles,
)
from voice_settings.json_input import MAX_DOCUMENT_BYTES
from voice_settings.profiles import profile_from_bytes
from voice_settings.store import DirectoryBackend, load_directory
from voice_settings.store.directory import LOCK_FILE
from voice_settings.tokens.profile_api import MAX_PROFILE_BYTES
from voice_settings.tokens.server import ENDPOINT_PATH

pytestmark = pytest.mark.usefixtures("clean_profile_env")


@pytest.fixture
def directory(profiles_copy: Path) -> Path:
    return profiles_copy


@pytest.fixture
async def api(directory: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with serving(config_for(directory, bearer_secret=BROWSER_SECRET)) as base, \
            aiohttp.ClientSession() as session:
        yield base, session


def file_contents(directory: Path) -> dict[str, bytes]:
    """Every file of the directory but the store's lock file, by name."""
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.name != LOCK_FILE}


def etag_of(path: Path) -> str:
    return '"' + hashlib.sha256(path.read_bytes()).hexdigest()[:32] + '"'


async def get(api: Any, path: str) -> tuple[int, Any, Any]:
    base, session = api
    return await call(session, "GET", base + path, headers=ADMIN)


async def put(api: Any, name: str, body: Any, condition: dict[str, str] | None = None,
              raw: bytes | None = None) -> tuple[int, Any, Any]:
    base, session = api
    return await call(session, "PUT", f"{base}/api/profiles/{name}", body, raw=raw,
                      headers={**ADMIN, **(condition or {})})


async def delete(api: Any, name: str,
                 condition: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    base, session = api
    return await call(session, "DELETE", f"{base}/api/profiles/{name}",
                      headers={**ADMIN, **(condition or {})})


CREATE = {"If-None-Match": "*"}
BOB = {"description": "Bob's assistant", "endpointing_ms": 300, "instructions": "You are Bob.",
       "false_interruption_timeout": None}


# --- Reading -----------------------------------------------------------------------------------


async def test_200_lists_every_profile_with_its_description_and_file_version(
        api: Any, directory: Path) -> None:
    status, headers, reply = await get(api, "/api/profiles")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    store = load_directory(directory)
    assert [p["name"] for p in reply["profiles"]] == store.names()
    for entry in reply["profiles"]:
        assert entry["description"] == store.descriptions[entry["name"]]
        assert f'"{entry["version"]}"' == etag_of(directory / f"{entry['name']}.toml")


async def test_200_one_profile_with_its_values_and_etag(api: Any, directory: Path) -> None:
    status, headers, reply = await get(api, "/api/profiles/dictation")
    assert status == 200
    assert headers["ETag"] == etag_of(directory / "dictation.toml")
    assert headers["ETag"] == f'"{reply["version"]}"'
    assert "ETag" in headers["Access-Control-Expose-Headers"]
    store = load_directory(directory)
    assert reply["name"] == "dictation"
    assert reply["description"] == store.descriptions["dictation"]
    assert reply["values"] == store.values("dictation")
    assert reply["values"]["false_interruption_timeout"] is None  # "off" in the file


async def test_404_for_an_unknown_profile_and_400_for_a_bad_name(api: Any) -> None:
    status, _, reply = await get(api, "/api/profiles/nobody")
    assert status == 404 and "nobody" in reply["error"]
    for bad in ("Patient", "a.b", "x" * 65):
        status, _, reply = await get(api, f"/api/profiles/{bad}")
        assert status == 400 and reply["errors"][0]["field"] == "name", bad
        status, _, reply = await put(api, bad, BOB, CREATE)
        assert status == 400 and reply["errors"][0]["value"] == bad


async def test_200_schema_describes_what_put_accepts(api: Any, directory: Path) -> None:
    status, _, schema = await get(api, "/api/schema")
    assert status == 200 and "additionalProperties" not in schema
    assert "minEndpointingDelay" in schema["propertyNames"]["enum"]  # one vocabulary everywhere
    assert "minEndpointingDelay" not in schema["properties"]  # a form shows one entry per field
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in load_directory(directory).names():
        _, _, profile = await get(api, f"/api/profiles/{name}")
        validator.validate({"description": profile["description"], **profile["values"]})
    assert validator.is_valid({"endpointingMs": 300, "systemPrompt": "Be brief."})
    refused = [{"endpointing_ms": 99999}, {"endpointingMs": 99999}, {"profile": "patient"},
               {"assistant_id": "a-1"}, {"assistantId": "a-1"}, {"description": 5},
               {"endpointing": 300}]
    for body in refused:
        assert not validator.is_valid(body), body
        assert (await put(api, "fresh", body, CREATE))[0] == 400, body


# --- Authorization and availability ------------------------------------------------------------


async def test_404_for_every_route_when_no_admin_secret_is_set(directory: Path) -> None:
    config = config_for(directory, profiles_admin_secret=None)
    async with serving(config) as base, aiohttp.ClientSession() as session:
        for method, path in [("GET", "/api/profiles"), ("GET", "/api/profiles/default"),
                             ("PUT", "/api/profiles/new"), ("DELETE", "/api/profiles/patient"),
                             ("GET", "/api/schema")]:
            status, _, reply = await call(session, method, base + path, BOB, headers=ADMIN)
            assert status == 404 and reply["error"], (method, path)
    assert sorted(file_contents(directory)) == sorted(
        f"{n}.toml" for n in ("default", "dictation", "patient", "snappy"))


async def test_401_without_the_admin_secret_even_with_the_browsers_secret(
        api: Any, directory: Path) -> None:
    base, session = api
    before = file_contents(directory)
    for headers in ({}, {"Authorization": f"Bearer {BROWSER_SECRET}"},
                    {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_SECRET}):
        for method, path in [("GET", "/api/profiles"), ("GET", "/api/schema"),
                             ("GET", "/api/profiles/patient"), ("PUT", "/api/profiles/new"),
                             ("DELETE", "/api/profiles/patient")]:
            status, reply_headers, reply = await call(session, method, base + path, BOB,
                                                      headers={**headers, **CREATE})
            assert status == 401 and reply_headers["WWW-Authenticate"] == "Bearer"
            assert ADMIN_SECRET not in json.dumps(reply)
    assert file_contents(directory) == before
    # ... and the admin secret is not the browsers' secret for connection details.
    status, _, _ = await call(session, "POST", base + ENDPOINT_PATH, {}, headers=ADMIN)
    assert status == 401


async def test_preflight_allows_the_methods_and_headers_of_the_api(api: Any) -> None:
    base, session = api
    asked = {"Origin": "https://admin.example", "Access-Control-Request-Method": "PUT",
             "Access-Control-Request-Headers": "authorization,content-type,if-match"}
    async with session.options(base + "/api/profiles/patient", headers=asked) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        methods = response.headers["Access-Control-Allow-Methods"]
        assert {"GET", "PUT", "DELETE"} <= {m.strip() for m in methods.split(",")}
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert all(h in allowed for h in ("authorization", "if-match", "if-none-match"))


# --- Writing -----------------------------------------------------------------------------------


async def test_201_creates_with_if_none_match_and_412_when_it_exists(
        api: Any, directory: Path) -> None:
    status, headers, reply = await put(api, "bob", BOB, CREATE)
    assert status == 201 and headers["Location"] == "/api/profiles/bob"
    path = directory / "bob.toml"
    assert headers["ETag"] == etag_of(path) == f'"{reply["version"]}"'
    assert reply["values"] == {k: v for k, v in BOB.items() if k != "description"}
    text = path.read_text()
    assert text.startswith("# bob: created through the profile API")
    assert ADMIN_SECRET not in text and BROWSER_SECRET not in text
    assert 'false_interruption_timeout = "off"' in text
    store = load_directory(directory)  # what a worker starting now loads
    assert store.values("bob") == reply["values"] and store.descriptions["bob"] == "Bob's assistant"
    assert (await get(api, "/api/profiles/bob"))[2] == reply
    status, _, reply = await put(api, "bob", {**BOB, "endpointing_ms": 400}, CREATE)
    assert status == 412 and "already exists" in reply["error"]
    assert store.values("bob")["endpointing_ms"] == 300 == load_directory(directory).values(
        "bob")["endpointing_ms"]


async def test_200_replaces_with_if_match_and_keeps_the_files_comment(
        api: Any, directory: Path) -> None:
    comment = [ln for ln in (directory / "patient.toml").read_text().splitlines()
               if ln.startswith("#")]
    _, headers, _ = await get(api, "/api/profiles/patient")
    body = {"description": "Even more patient", "min_endpointing_delay": 2.0,
            "max_endpointing_delay": 8.0}
    status, new_headers, reply = await put(api, "patient", body, {"If-Match": headers["ETag"]})
    assert status == 200 and new_headers["ETag"] != headers["ETag"]
    assert new_headers["ETag"] == etag_of(directory / "patient.toml")
    lines = (directory / "patient.toml").read_text().splitlines()
    assert lines[:len(comment)] == comment
    assert load_directory(directory).values("patient") == {
        "min_endpointing_delay": 2.0, "max_endpointing_delay": 8.0}
    # The version read before the write is stale now.
    status, _, reply = await put(api, "patient", body, {"If-Match": headers["ETag"]})
    assert status == 412 and reply["error"]


@pytest.mark.parametrize(("name", "condition", "status"), [
    ("patient", {}, 428),                              # replacing needs If-Match
    ("patient", {"If-None-Match": '"not-it"'}, 428),   # ... whatever else is sent
    ("brand-new", {}, 428),                            # creating needs If-None-Match: *
    ("brand-new", {"If-Match": '"anything"'}, 412),    # nothing to match
    ("brand-new", {"If-Match": "*"}, 412),
    ("patient", {"If-Match": '"0000"'}, 412),
])
async def test_a_write_without_the_right_condition_changes_nothing(
        api: Any, directory: Path, name: str, condition: dict[str, str], status: int) -> None:
    before = file_contents(directory)
    answered, _, reply = await put(api, name, BOB, condition)
    assert answered == status and reply["error"]
    if status == 428:  # says which condition to send
        assert "If-Match" in reply["error"] or "If-None-Match: *" in reply["error"]
    assert file_contents(directory) == before


async def test_400_names_every_invalid_field(api: Any, directory: Path) -> None:
    body = {"description": "broken", "endpointing_ms": 0.3, "min_endpointing_delay": 500,
            "turn_detection": "sometimes", "llm_modle": "gpt-4o", "greeting": "hi"}
    status, _, reply = await put(api, "broken", body, CREATE)
    assert status == 400 and not (directory / "broken.toml").exists()
    errors = {e["field"]: e for e in reply["errors"]}
    assert set(errors) == {"endpointing_ms", "min_endpointing_delay", "turn_detection",
                           "llm_modle"}
    assert errors["endpointing_ms"]["value"] == 0.3
    assert "Did you mean 300" in errors["endpointing_ms"]["message"]
    assert "Did you mean 0.5" in errors["min_endpointing_delay"]["message"]
    assert "known settings" in errors["llm_modle"]["message"]
    assert "did you mean llm_model?" in errors["llm_modle"]["message"]
    assert all(e["source"] == "profile" for e in reply["errors"])


@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b'{"a": NaN}', b'{"a": 1, "a": 2}',
                                 b"\xff\xfe", b'{"description": "\\ud800"}'])
async def test_400_for_a_body_that_is_not_a_json_object(api: Any, raw: bytes) -> None:
    status, _, reply = await put(api, "fresh", None, CREATE, raw=raw)
    assert status == 400 and reply["error"]


async def test_400_for_a_profile_not_valid_over_the_default(tmp_path: Path) -> None:
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "default.toml").write_text("min_endpointing_delay = 2.0\n")
    (directory / "quick.toml").write_text("max_endpointing_delay = 2.5\n")
    async with serving(config_for(directory)) as base, aiohttp.ClientSession() as session:
        api = (base, session)
        # Valid alone (over the built-in 0.5 s), not over the default's 2 s.
        status, _, reply = await put(api, "hasty", {"max_endpointing_delay": 1.0}, CREATE)
        assert status == 400 and "over the default profile" in reply["errors"][0]["message"]
        # A new default that an existing profile is not valid over: refused, naming it.
        _, headers, _ = await get(api, "/api/profiles/default")
        status, _, reply = await put(api, "default", {"min_endpointing_delay": 3.0},
                                     {"If-Match": headers["ETag"]})
        assert status == 400 and "quick.toml" in reply["errors"][0]["message"]
    assert sorted(file_contents(directory)) == ["default.toml", "quick.toml"]
    assert load_directory(directory).values("default") == {"min_endpointing_delay": 2.0}


async def test_503_when_the_profiles_directory_is_gone(directory: Path) -> None:
    async with serving(config_for(directory)) as base, aiohttp.ClientSession() as session:
        moved = directory.rename(directory.with_name("unmounted"))
        status, _, reply = await put((base, session), "bob", BOB, CREATE)
        assert status == 503 and "does not exist" in reply["error"]
    assert not directory.exists() and not (moved / "bob.toml").exists()


async def test_413_for_a_body_over_the_limit(api: Any) -> None:
    big = {"description": "x" * MAX_PROFILE_BYTES}
    status, _, reply = await put(api, "fresh", big, CREATE)
    assert status == 413 and str(MAX_PROFILE_BYTES) in reply["error"]
    status, _, _ = await put(api, "fresh", None, CREATE, raw=b"x" * (MAX_DOCUMENT_BYTES + 1))
    assert status == 413


async def test_204_deletes_with_if_match_409_for_the_default(api: Any, directory: Path) -> None:
    assert (await delete(api, "nobody", {"If-Match": "*"}))[0] == 404
    status, _, reply = await delete(api, "default", {"If-Match": etag_of(
        directory / "default.toml")})
    assert status == 409 and "default" in reply["error"]
    assert (await delete(api, "snappy"))[0] == 428
    assert (await delete(api, "snappy", {"If-Match": '"stale"'}))[0] == 412
    assert (directory / "snappy.toml").exists()
    base, session = api
    status, headers, reply = await call(session, "DELETE", base + "/api/profiles/snappy",
                                        headers={**ADMIN, "If-Match": etag_of(
                                            directory / "snappy.toml")})
    assert status == 204 and reply is None and headers["Access-Control-Allow-Origin"] == "*"
    assert not (directory / "snappy.toml").exists()
    assert (await get(api, "/api/profiles/snappy"))[0] == 404
    assert "snappy" not in [p["name"] for p in (await get(api, "/api/profiles"))[2]["profiles"]]


# --- Edits by hand -----------------------------------------------------------------------------


async def test_an_edit_by_hand_changes_the_version_and_stales_the_editor(
        api: Any, directory: Path) -> None:
    _, headers, _ = await get(api, "/api/profiles/snappy")
    path = directory / "snappy.toml"
    path.write_text(path.read_text().replace("endpointing_ms = 10", "endpointing_ms = 15"))
    _, new_headers, reply = await get(api, "/api/profiles/snappy")
    assert new_headers["ETag"] != headers["ETag"] and reply["values"]["endpointing_ms"] == 15
    status, _, _ = await put(api, "snappy", {"endpointing_ms": 20}, {"If-Match": headers["ETag"]})
    assert status == 412 and "endpointing_ms = 15" in path.read_text()


async def test_a_file_broken_by_hand_is_reported_and_can_be_fixed(
        api: Any, directory: Path) -> None:
    path = directory / "patient.toml"
    good = load_directory(directory).values("patient")
    path.write_text(path.read_text() + "endpointing_ms = 99999\n")  # duplicate key: bad TOML
    status, headers, reply = await get(api, "/api/profiles/patient")
    assert status == 200 and "TOML" in reply["problem"]
    assert reply["values"] == good  # what calls keep using
    listed = {p["name"]: p for p in (await get(api, "/api/profiles"))[2]["profiles"]}
    assert "problem" in listed["patient"] and "problem" not in listed["snappy"]
    status, _, _ = await put(api, "patient", {"endpointing_ms": 400},
                             {"If-Match": headers["ETag"]})
    assert status == 200 and load_directory(directory).values("patient") == {
        "endpointing_ms": 400}


# --- Races -------------------------------------------------------------------------------------


async def test_two_editors_with_the_same_version_exactly_one_wins(
        api: Any, directory: Path) -> None:
    for round_number in range(8):
        _, headers, _ = await get(api, "/api/profiles/patient")
        bodies = [{"description": f"editor {e} round {round_number}",
                   "endpointing_ms": 100 + e} for e in (1, 2)]
        replies = await asyncio.gather(*(put(api, "patient", b, {"If-Match": headers["ETag"]})
                                         for b in bodies))
        statuses = sorted(status for status, _, _ in replies)
        assert statuses == [200, 412], statuses
        winner = next(reply for status, _, reply in replies if status == 200)
        on_disk = DirectoryBackend(directory).read("patient")
        assert on_disk is not None and on_disk.version == winner["version"]
        assert on_disk.values == winner["values"]


async def test_two_creators_of_one_name_exactly_one_wins(api: Any) -> None:
    replies = await asyncio.gather(*(put(api, "twin", {"endpointing_ms": ms}, CREATE)
                                     for ms in (100, 200, 300)))
    assert sorted(status for status, _, _ in replies) == [201, 412, 412]


async def test_readers_never_see_a_half_written_file(api: Any, directory: Path) -> None:
    path = directory / "patient.toml"
    stop = threading.Event()
    seen: list[str] = []
    failures: list[BaseException] = []

    def read_from_disk() -> None:  # what a worker does, in another thread
        while not stop.is_set():
            try:
                profile_from_bytes(path, path.read_bytes())
                seen.append("file")
                load_directory(directory)
            except BaseException as exc:
                failures.append(exc)

    async def read_over_http() -> None:
        while not stop.is_set():
            status, _, reply = await get(api, "/api/profiles/patient")
            assert status == 200 and "problem" not in reply, reply
            seen.append("http")

    reader = threading.Thread(target=read_from_disk)
    reader.start()
    http_reader = asyncio.create_task(read_over_http())
    try:
        for n in range(40):
            _, headers, _ = await get(api, "/api/profiles/patient")
            body = {"description": f"write {n}", "instructions": f"Prompt {n}. " + "z" * 7900}
            assert (await put(api, "patient", body, {"If-Match": headers["ETag"]}))[0] == 200
    finally:
        stop.set()
        reader.join()
        await http_reader
    assert not failures, failures[:3]
    assert seen.count("file") > 0 and seen.count("http") > 0
    assert sorted(file_contents(directory))[-1] == "snappy.toml"  # no temp files left


# --- The serve command -------------------------------------------------------------------------


def test_serve_turns_the_api_on_from_the_environment(directory: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIVEKIT_", "TOKEN_SERVER", "PROFILES_ADMIN", "VOICE_"))}
    env.update(LIVEKIT_URL=URL, LIVEKIT_API_KEY=KEY, LIVEKIT_API_SECRET=SECRET,
               PROFILES_ADMIN_SECRET=ADMIN_SECRET, VOICE_PROFILES_DIR=str(directory))
    process = subprocess.Popen([sys.executable, str(Path(token_tool.__file__)), "serve",
                                "--port", "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        assert "profile API on" in banner and ADMIN_SECRET not in banner
        base = banner.split()[2].removesuffix(ENDPOINT_PATH)

        async def check() -> None:
            async with aiohttp.ClientSession() as session:
                api = (base, session)
                assert (await put(api, "served", BOB, CREATE))[0] == 201
                assert (await call(session, "GET", base + "/api/profiles"))[0] == 401

        asyncio.run(check())
        assert load_directory(directory).values("served")["endpointing_ms"] == 300
    finally:
        process.terminate()
        process.communicate(timeout=10)


# --- Hostile input over HTTP -------------------------------------------------------------------


@pytest.fixture(scope="module")
def threaded_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = shipped_profiles(tmp_path_factory.mktemp("hostile") / "profiles")
    with serving_in_thread(config_for(directory)) as base:
        yield base, directory


def put_sync(url: str, data: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile_profile_bodies,
       name=st.one_of(st.sampled_from(["patient", "new-one", "other"]),
                      st.text(alphabet="abcXYZ-_.%09", min_size=1, max_size=8)),
       condition=st.sampled_from([{}, CREATE, {"If-Match": "*"}, {"If-Match": '"x"'}]))
def test_hostile_puts_are_answered_4xx_and_what_is_accepted_loads(
        threaded_api: tuple[str, Path], data: bytes, name: str,
        condition: dict[str, str]) -> None:
    base, directory = threaded_api
    url = f"{base}/api/profiles/{urllib.parse.quote(name, safe='')}"
    status = put_sync(url, data, {**ADMIN, **condition, "Content-Type": "application/json"})
    event(f"status {status}")
    assert status in (200, 201) or 400 <= status < 500, status
    load_directory(directory)  # whatever was accepted, a worker starting now can load


# --- One key vocabulary ------------------------------------------------------------------------


async def test_put_accepts_the_camel_case_spelling_metadata_accepts(api: Any,
                                                                     directory: Path) -> None:
    """minEndpointingDelay works in metadata and --set; the profile API took it as unknown."""
    body = {"description": "camel", "minEndpointingDelay": 0.8, "endpointingMs": 300,
            "systemPrompt": "Be brief."}
    status, _, reply = await put(api, "camel", body, CREATE)
    assert status == 201, reply
    assert reply["values"] == {"min_endpointing_delay": 0.8, "endpointing_ms": 300,
                               "instructions": "Be brief."}
    assert load_directory(directory).values("camel") == reply["values"]


async def test_an_unknown_key_says_which_setting_it_may_mean(api: Any) -> None:
    status, _, reply = await put(api, "typo", {"minEndpointngDelay": 0.8}, CREATE)
    assert status == 400
    [error] = reply["errors"]
    assert error["field"] == "minEndpointngDelay" and error["value"] == 0.8
    assert "did you mean min_endpointing_delay?" in error["message"]


async def test_a_setting_in_two_spellings_is_refused_with_its_value(api: Any) -> None:
    body = {"minEndpointingDelay": 0.8, "min_endpointing_delay": 0.7}
    status, _, reply = await put(api, "twice", body, CREATE)
    assert status == 400
    assert any(e["field"] == "min_endpointing_delay" and "twice" in e["message"]
               for e in reply["errors"])


async def test_an_invalid_camel_case_value_is_reported_with_the_value_sent(api: Any) -> None:
    status, _, reply = await put(api, "bad", {"minEndpointingDelay": -1}, CREATE)
    assert status == 400
    [error] = reply["errors"]
    assert (error["field"], error["value"]) == ("min_endpointing_delay", -1)
