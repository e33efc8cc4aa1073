"""POST /api/connection-details as admin screens send it, over real HTTP: systemPrompt,
assistantId and profile at the top level reach the dispatched agent in its dispatch metadata,
validated like every setting; nothing the client sends is dropped silently."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from livekit import api

from tests.strategies import hostile_values, json_values
from tests.tokens.serve_helpers import KEY, SECRET, call, config_for, serving
from voice_settings.profiles import (
    DEFAULT_PROFILES_DIR,
)
from voice_settings.resolution import resolve
from voice_settings.store import load_directory
from voice_settings.tokens.dispatch_settings import ACCEPTED_KEYS
from voice_settings.tokens.http_errors import HttpError
from voice_settings.tokens.server import ENDPOINT_PATH, ServeConfig
from voice_settings.tokens.signing import TokenRequest
from voice_settings.tokens.token_requests import endpoint_token_request

AGENT = "settings-agent"


pytestmark = pytest.mark.usefixtures("clean_profile_env")


@pytest.fixture
def directory(profiles_copy: Path) -> Path:
    return profiles_copy


@pytest.fixture
async def post(directory: Path) -> AsyncIterator[Any]:
    """POST a body to a server (one per default agent) serving a copy of profiles/."""
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        servers: dict[str | None, str] = {}

        async def _post(body: Any, default_agent: str | None = None) -> tuple[int, Any]:
            if default_agent not in servers:
                servers[default_agent] = await stack.enter_async_context(
                    serving(config_for(directory, default_agent=default_agent)))
            status, _, reply = await call(session, "POST", servers[default_agent]
                                          + ENDPOINT_PATH, body)
            return status, reply

        yield _post


def dispatches(reply: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    claims = api.TokenVerifier(KEY, SECRET).verify(reply["participant_token"])
    return [(a.agent_name, json.loads(a.metadata) if a.metadata else {})
            for a in claims.room_config.agents]


def participant_metadata(reply: dict[str, Any]) -> str:
    return api.TokenVerifier(KEY, SECRET).verify(reply["participant_token"]).metadata


ADMIN_SCREEN_REQUEST = {"room_config": {"agents": [{"agent_name": AGENT}]},
                        "assistantId": "a-1", "systemPrompt": "You are Bob."}


async def test_the_admin_screens_request_reaches_the_agent(post: Any, directory: Path) -> None:
    status, reply = await post(ADMIN_SCREEN_REQUEST)
    assert status == 201
    [(name, metadata)] = dispatches(reply)
    assert name == AGENT
    assert metadata == {"instructions": "You are Bob.", "assistant_id": "a-1"}
    assert participant_metadata(reply) == ""  # the participant cannot rewrite it mid-call
    # What the agent resolves from that dispatch metadata at the start of the call.
    resolution = resolve(dispatch=json.dumps(metadata), profiles=load_directory(directory))
    assert resolution.errors == ()
    assert resolution.settings.instructions == "You are Bob."
    assert resolution.settings.assistant_id == "a-1"


async def test_snake_case_keys_a_profile_and_the_default_agent(post: Any) -> None:
    body = {"system_prompt": "Be brief.", "assistant_id": "shop/42", "profile": "patient",
            "participant_metadata": '{"theme": "dark"}'}
    status, reply = await post(body, default_agent=AGENT)
    assert status == 201
    assert dispatches(reply) == [(AGENT, {"instructions": "Be brief.", "assistant_id": "shop/42",
                                          "profile": "patient"})]
    assert participant_metadata(reply) == '{"theme": "dark"}'


async def test_merged_into_each_agents_own_metadata(post: Any) -> None:
    body = {"room_config": {"agents": [
        {"agent_name": AGENT, "metadata": '{"greeting": "Hi", "app": {"x": 1}}'},
        {"agent_name": "note-taker"}]}, "systemPrompt": "You are Bob."}
    status, reply = await post(body)
    assert status == 201 and dispatches(reply) == [
        (AGENT, {"greeting": "Hi", "app": {"x": 1}, "instructions": "You are Bob."}),
        ("note-taker", {"instructions": "You are Bob."})]


async def test_a_profile_created_through_the_api_can_be_tested_at_once(
        post: Any, directory: Path) -> None:
    body = {**ADMIN_SCREEN_REQUEST, "profile": "bob-profile"}
    status, reply = await post(body)
    assert status == 400 and reply["errors"][0]["field"] == "profile"
    (directory / "bob-profile.toml").write_text("endpointing_ms = 300\n")  # or PUT, same file
    status, reply = await post(body)
    assert status == 201 and dispatches(reply)[0][1]["profile"] == "bob-profile"


@pytest.mark.parametrize(("body", "field"), [
    ({"systemPrompt": "   "}, "instructions"),
    ({"systemPrompt": 5}, "instructions"),
    ({"systemPrompt": "x" * 8001}, "instructions"),
    ({"assistantId": "has spaces"}, "assistant_id"),
    ({"profile": "nope"}, "profile"),
    ({"profile": "../etc"}, "profile"),
])
async def test_400_for_an_invalid_top_level_setting(post: Any, body: dict, field: str) -> None:
    status, reply = await post({**body, "room_config": {"agents": [{"agent_name": AGENT}]}})
    assert status == 400 and "participant_token" not in reply
    assert field in [e["field"] for e in reply["errors"]]


async def test_400_when_no_agent_could_receive_them(post: Any) -> None:
    status, reply = await post({"systemPrompt": "You are Bob.", "assistantId": "a-1"})
    assert status == 400 and "systemPrompt" in reply["error"] and "assistantId" in reply["error"]
    assert "dispatches no agent" in reply["error"]


@pytest.mark.parametrize("body", [
    {"systemPrompt": "A", "system_prompt": "B"},
    {"assistantId": "a", "assistant_id": "b"},
    {"systemPrompt": "A", "participant_metadata": '{"instructions": "B"}'},
    {"profile": "patient", "participant_metadata": '{"profile": "snappy"}'},
    {"systemPrompt": "A", "room_config": {"agents": [
        {"agent_name": AGENT, "metadata": '{"system_prompt": "B"}'}]}},
])
async def test_400_for_a_setting_given_twice(post: Any, body: dict) -> None:
    status, reply = await post({"room_config": {"agents": [{"agent_name": AGENT}]}, **body})
    assert status == 400 and ("twice" in reply["error"] or "both" in reply["error"])


async def test_400_when_the_agents_metadata_cannot_take_them(post: Any) -> None:
    body = {"systemPrompt": "A", "room_config": {"agents": [
        {"agent_name": AGENT, "metadata": "not json"}]}}
    status, reply = await post(body)
    assert status == 400 and "room_config.agents[0].metadata" in reply["error"]


async def test_413_when_merging_takes_dispatch_metadata_over_the_limit(post: Any) -> None:
    padding = json.dumps({"pad": "p" * 62_000})
    body = {"systemPrompt": "x" * 4000, "room_config": {"agents": [
        {"agent_name": AGENT, "metadata": padding}]}}
    status, reply = await post(body)
    assert status == 413 and "room_config.agents[0].metadata" in reply["error"]


@pytest.mark.parametrize("key", ["instructions", "assistant", "roomName2", "agents", "metadata",
                                 "participantToken", ""])
async def test_400_names_an_unknown_top_level_key(post: Any, key: str) -> None:
    status, reply = await post({**ADMIN_SCREEN_REQUEST, key: "x"})
    assert status == 400 and "participant_token" not in reply
    assert [e["field"] for e in reply["errors"]] == [key]
    assert f"unknown top-level field {key}" in reply["error"]


async def test_lower_camel_token_source_fields_are_still_accepted(post: Any) -> None:
    body = {"roomName": "r1", "participantIdentity": "bob", "participantName": "Bob",
            "participantMetadata": "{}", "participantAttributes": {"a": "b"},
            "roomConfig": {"agents": [{"agentName": AGENT}]}, "assistantId": "a-1"}
    status, reply = await post(body)
    assert status == 201 and dispatches(reply) == [(AGENT, {"assistant_id": "a-1"})]


# --- Property: whatever the body, a token request or a 4xx ------------------------------------

top_level_keys = st.one_of(st.sampled_from(sorted(ACCEPTED_KEYS)), st.text(max_size=8))
bodies = st.dictionaries(top_level_keys, st.one_of(hostile_values, json_values), max_size=6)
agent_entries = st.lists(st.fixed_dictionaries(
    {"agent_name": st.sampled_from([AGENT, ""])},
    optional={"metadata": st.one_of(st.text(max_size=20),
                                    st.dictionaries(st.sampled_from(
                                        ["instructions", "systemPrompt", "greeting", "x"]),
                                        hostile_values, max_size=3).map(json.dumps))}),
    max_size=2)


@functools.cache
def shipped_config(default_agent: str | None) -> ServeConfig:
    return config_for(DEFAULT_PROFILES_DIR, default_agent=default_agent)


@settings(max_examples=300, deadline=None)
@given(bodies, agent_entries, st.sampled_from([None, AGENT]))
@example({"assistantId": "\ud800"}, [], AGENT)  # found by hypothesis: was a UnicodeEncodeError
def test_any_body_gives_a_token_request_or_a_4xx(body: dict, agents: list,
                                                 default_agent: str | None) -> None:
    body = {**body, "room_config": {"agents": agents}} if agents else body
    config = shipped_config(default_agent)
    try:
        request = endpoint_token_request(body, config, config.profiles)
    except HttpError as exc:
        assert 400 <= exc.status < 500 and exc.message
        json.dumps(exc.errors, allow_nan=False)
        return
    assert isinstance(request, TokenRequest)
    assert not set(body) - ACCEPTED_KEYS
    given_settings = {"systemPrompt", "system_prompt", "assistantId", "assistant_id",
                      "profile"} & set(body)
    for _, metadata in request.agents if given_settings else ():
        assert {"instructions", "assistant_id", "profile"} & set(json.loads(metadata))
