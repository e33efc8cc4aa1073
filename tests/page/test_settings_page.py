"""The settings page in real chromium, served by the real token server: forms generated from the
schema, an assistant created, edited, refused as stale (412) and refused a bad value beside its
field, a simulation heard and seen, Call explaining why it is off. Each test leaves a picture of
its panel in docs/images/ for the docs."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tests.page.browser import chromium, open_page, screenshot
from tests.tokens.serve_helpers import (
    ADMIN_SECRET,
    KEY,
    SECRET,
    serving_in_thread,
    shipped_profiles,
)
from voice_settings.page.site import LIVEKIT_CLIENT
from voice_settings.store import load_directory
from voice_settings.tokens.credentials import Credentials
from voice_settings.tokens.server import ServeConfig

# One worker runs these, so one chromium; the simulation runs beside the lab's own sessions,
# one after the other (a second session at once would skew their figures).
pytestmark = pytest.mark.xdist_group("settings-page-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """serve without LiveKit credentials, with the profile API on, over a copy of profiles/."""
    directory = shipped_profiles(tmp_path_factory.mktemp("page") / "profiles")
    config = ServeConfig(None, load_directory(directory, None),
                         profiles_admin_secret=ADMIN_SECRET)
    with serving_in_thread(config) as url:
        yield url


def admin_request(base: str, method: str, path: str, body: Any = None,
                  headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {ADMIN_SECRET}", "Content-Type": "application/json",
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def sign_in(page: Any) -> None:
    """The admin secret typed and sent with the keyboard alone."""
    page.focus("#admin-secret")
    page.keyboard.type(ADMIN_SECRET)
    page.keyboard.press("Enter")
    page.wait_for_selector("#assistant-list button[data-name=default]")
    assert page.evaluate("sessionStorage.length") == 1 and page.evaluate("localStorage.length") == 0
    assert ADMIN_SECRET not in page.url


def refused_beside_field(page: Any, form: str, name: str, value: str, submit: str,
                         allowed: str) -> None:
    """`value` typed into `name` and submitted: the server's message appears beside that field,
    which is marked invalid and focused."""
    page.fill(f"#{form} [name={name}]", value)
    page.click(submit)
    error = page.locator(f"#{form}-{name}-error")
    error.wait_for(state="visible")
    assert allowed in error.inner_text()
    assert page.get_attribute(f"#{form}-{name}", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.name") == name


def test_forms_are_generated_from_the_schema(browser: Any, base: str) -> None:
    page, console = open_page(browser, base, width=375)
    caller = page.locator("#caller-form")
    for name in ("endpointing_ms", "min_endpointing_delay", "instructions", "turn_detection"):
        assert caller.locator(f"[name={name}]").count() == 1, name
    assert caller.locator("[name=stt_model]").count() == 0  # operator-only: not a caller's
    legends = caller.locator("legend").all_inner_texts()
    assert legends[:3] == ["Turn-taking", "Interruptions", "Prompt and greeting"]
    help_text = page.inner_text("#caller-form-endpointing_ms-help")
    assert "0 to 5000 ms" in help_text and "default 25" in help_text
    label = page.locator("#caller-form-min_endpointing_delay").evaluate(
        "e => e.labels[0].textContent")
    assert label == "min_endpointing_delay (seconds)"
    # readable at 375 px: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.select_option("#caller-form [name=turn_detection]", "vad")
    refused_beside_field(page, "caller-form", "min_endpointing_delay", "9", "#caller-form "
                         "button[type=submit]", "5")
    page.fill("#caller-form [name=min_endpointing_delay]", "0.8")
    page.click("#caller-form button[type=submit]")
    page.wait_for_selector("#caller-status:has-text('Valid')")
    preview = json.loads(page.inner_text("#caller-metadata"))
    assert preview == {"turn_detection": "vad", "min_endpointing_delay": 0.8}
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "caller", "settings-page-caller.png")
    assert console.script_errors(400) == []


def test_assistant_create_edit_stale_and_bad_value(browser: Any, base: str) -> None:
    page, console = open_page(browser, base)
    sign_in(page)
    form = page.locator("#assistant-form")
    for name in ("endpointing_ms", "min_endpointing_delay", "instructions", "stt_model"):
        assert form.locator(f"[name={name}]").count() == 1, name

    page.click("#assistant-new")
    page.fill("#assistant-name", "page-test")
    page.fill("#assistant-form [name=description]", "Made by the page test")
    page.fill("#assistant-form [name=min_endpointing_delay]", "0.8")
    page.click("#assistant-save")
    page.wait_for_selector("#assistant-status:has-text('Saved page-test')")
    status, _, body = admin_request(base, "GET", "/api/profiles/page-test")
    assert status == 200 and json.loads(body)["values"] == {"min_endpointing_delay": 0.8}

    page.fill("#assistant-form [name=min_endpointing_delay]", "1.0")
    page.click("#assistant-save")
    page.wait_for_selector("#assistant-status:has-text('Saved page-test')")

    # Someone else saves a change meanwhile: the page's next save is stale.
    _, headers, _ = admin_request(base, "GET", "/api/profiles/page-test")
    status, _, _ = admin_request(base, "PUT", "/api/profiles/page-test",
                                 {"description": "changed elsewhere", "endpointing_ms": 300},
                                 {"If-Match": headers["ETag"]})
    assert status == 200
    page.fill("#assistant-form [name=min_endpointing_delay]", "1.2")
    page.click("#assistant-save")
    conflict = page.locator("#assistant-conflict")
    conflict.wait_for(state="visible")
    assert "Someone else changed page-test" in conflict.inner_text()
    _, _, body = admin_request(base, "GET", "/api/profiles/page-test")
    assert json.loads(body)["values"]["endpointing_ms"] == 300  # not overwritten silently

    page.click("#assistant-overwrite")
    page.wait_for_selector("#assistant-status:has-text('Saved page-test')")
    _, _, body = admin_request(base, "GET", "/api/profiles/page-test")
    assert json.loads(body)["values"] == {"min_endpointing_delay": 1.2}

    refused_beside_field(page, "assistant-form", "endpointing_ms", "99999", "#assistant-save",
                         "5000")
    screenshot(page, "assistants", "settings-page-assistants.png")

    page.click("#assistant-delete")  # confirmed in a modal dialog, by keyboard
    assert page.evaluate("document.activeElement.id") == "delete-cancel"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#assistant-list-status:has-text('Deleted page-test')")
    assert admin_request(base, "GET", "/api/profiles/page-test")[0] == 404
    assert console.script_errors(400, 412) == []


def test_call_without_credentials_explains_itself(browser: Any, base: str) -> None:
    page, console = open_page(browser, base)
    button = page.locator("#call-start")
    assert button.is_disabled()
    notice = page.locator("#call-unavailable")
    assert notice.is_visible()
    assert "serve has no LiveKit credentials" in notice.inner_text()
    assert "LIVEKIT_URL" in notice.inner_text()
    assert button.get_attribute("aria-describedby") == "call-unavailable"
    screenshot(page, "call", "settings-page-call.png")
    assert console.script_errors() == []


@pytest.mark.xdist_group("lab-sessions")
def test_simulate_plays_the_recording_and_shows_the_timeline(browser: Any, base: str) -> None:
    page, console = open_page(browser, base)
    sign_in(page)
    page.select_option("#caller-form [name=turn_detection]", "vad")
    page.fill("#caller-form [name=min_endpointing_delay]", "0.6")
    page.select_option("#sim-source", "caller")
    page.select_option("#sim-scenario", "question")
    page.click("#sim-run")
    audio = page.locator("#sim-results audio")
    audio.wait_for(state="attached", timeout=120_000)
    duration = audio.evaluate("""async (a) => {
        if (a.readyState < 1) await new Promise(r => a.addEventListener('loadedmetadata', r));
        await a.play();
        await new Promise(r => setTimeout(r, 300));
        a.pause();
        return {duration: a.duration, played: a.currentTime};
    }""")
    assert duration["duration"] > 1 and duration["played"] > 0
    image = page.locator("#sim-results img.timeline")
    image.wait_for(state="attached")
    assert image.evaluate("i => i.decode().then(() => i.naturalWidth)") > 100
    first_audio = page.locator("#sim-results .figures dd").first.inner_text()
    assert first_audio.endswith(" s")

    # The same run over HTTP: done, with a first-audio figure, a stereo WAV and a PNG.
    run_path = audio.evaluate("a => new URL(a.src).pathname").removesuffix("/recording.wav")
    status, _, body = admin_request(base, "GET", run_path)
    run = json.loads(body)
    assert status == 200 and run["status"] == "done"
    assert run["result"]["first_audio_ms"] > 0 and run["result"]["turn_log"]
    assert run["result"]["turn_log"][0]["end_of_turn"]["rule"] == "vad"
    with urllib.request.urlopen(base + run["result"]["recording"], timeout=30) as response:
        assert response.headers["Content-Type"] == "audio/wav"
        with wave.open(io.BytesIO(response.read())) as wav:
            assert wav.getnchannels() == 2 and wav.getnframes() > 0
    with urllib.request.urlopen(base + run["result"]["timeline"], timeout=30) as response:
        assert response.headers["Content-Type"] == "image/png"
        assert response.read().startswith(b"\x89PNG")
    screenshot(page, "simulate", "settings-page-simulate.png")
    page.set_viewport_size({"width": 375, "height": 800})  # results readable on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert console.script_errors() == []


@pytest.fixture(scope="module")
def base_with_credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """serve whose LiveKit server refuses connections at once (a closed local port)."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    directory = shipped_profiles(tmp_path_factory.mktemp("call") / "profiles")
    config = ServeConfig(Credentials(f"ws://127.0.0.1:{closed_port}", KEY, SECRET),
                         load_directory(directory, None), profiles_admin_secret=ADMIN_SECRET)
    with serving_in_thread(config) as url:
        yield url


@pytest.mark.skipif(not LIVEKIT_CLIENT.is_file(), reason="livekit-client not installed "
                    "(npm ci --prefix voice_settings/page)")
def test_call_posts_what_token_source_custom_would(browser: Any,
                                                    base_with_credentials: str) -> None:
    page, _ = open_page(browser, base_with_credentials)
    sign_in(page)
    page.click("#assistant-list button[data-name=patient]")
    page.wait_for_selector("#assistant-status:has-text('Opened patient')")
    page.fill("#assistant-form [name=instructions]", "You are patient. Be brief.")
    page.fill("#caller-form [name=endpointing_ms]", "400")
    assert page.is_enabled("#call-start") and page.locator("#call-unavailable").is_hidden()
    with page.expect_response("**/api/connection-details") as reply:
        page.click("#call-start")
    sent = json.loads(reply.value.request.post_data)
    assert sent["profile"] == "patient" and sent["systemPrompt"] == "You are patient. Be brief."
    assert json.loads(sent["participant_metadata"]) == {"endpointing_ms": 400}
    assert sent["room_config"] == {"agents": [{"agent_name": "settings-agent"}]}
    assert reply.value.status == 201
    details = reply.value.json()
    claims = jwt.decode(details["participant_token"], SECRET, algorithms=["HS256"])
    dispatch = json.loads(claims["roomConfig"]["agents"][0]["metadata"])
    assert dispatch == {"profile": "patient", "instructions": "You are patient. Be brief."}
    page.wait_for_selector("#call-status:has-text('The call failed')", timeout=60_000)
    assert page.is_visible("#call-start")
