"""The publisher on its own: applies instructions in order, publishes what is in force."""

from __future__ import annotations

import asyncio
import json
import logging

from livekit.rtc._proto import ffi_pb2

from voice_settings.runtime import attributes
from voice_settings.runtime.call_settings import CallSettings
from voice_settings.runtime.publisher import Decisions, PublishRetry, SettingsPublisher
from voice_settings.store import load_directory

PROFILES = load_directory()


def following(metadata: str, retry: PublishRetry | None = None,
              ) -> tuple[CallSettings, SettingsPublisher]:
    decisions = Decisions()
    call = CallSettings(identity="alice", participant_metadata=metadata, dispatch_metadata="",
                        profiles=PROFILES, on_change=decisions.notify)
    publisher = SettingsPublisher(call, decisions, retry=retry or PublishRetry())
    return call, publisher


def digest_in(publication: dict[str, str]) -> str:
    return json.loads(publication[attributes.SETTINGS])["instructions_sha256"]


async def test_the_worker_applies_the_latest_and_survives_a_failing_apply(caplog):
    caplog.set_level(logging.ERROR, logger="voice_settings.runtime")
    applied, publications = [], []
    fail_once = [True]

    async def apply(text: str) -> None:
        if fail_once.pop() if fail_once else False:
            raise RuntimeError("LLM session gone")
        applied.append(text)

    async def publish(attrs: dict[str, str]) -> None:
        publications.append(attrs)

    call, publisher = following(json.dumps({"systemPrompt": "Start."}))
    publisher.start(apply, publish)
    call.metadata_changed(json.dumps({"systemPrompt": "One."}))
    await asyncio.wait_for(publisher.wait_until_applied(), 5)
    assert applied == [] and "could not apply instructions" in caplog.text
    assert digest_in(publications[-1]) == attributes.instructions_digest("Start."), \
        "must not claim 'One.'"

    for n in range(5):
        call.metadata_changed(json.dumps({"systemPrompt": f"N{n}."}))
    await asyncio.wait_for(publisher.wait_until_applied(), 5)
    await publisher.aclose()
    assert applied[-1] == "N4." and len(applied) <= 5
    assert digest_in(publications[-1]) == attributes.instructions_digest("N4.")


async def test_wait_until_applied_waits_for_a_change_notified_after_it_settled():
    gate = asyncio.Event()
    applied: list[str] = []

    async def slow_apply(text: str) -> None:
        await gate.wait()
        applied.append(text)

    async def publish(attrs: dict[str, str]) -> None:
        pass

    call, publisher = following(json.dumps({"systemPrompt": "Start."}))
    publisher.start(slow_apply, publish)
    await asyncio.wait_for(publisher.wait_until_applied(), 5)  # the first publication
    call.metadata_changed(json.dumps({"systemPrompt": "Later."}))
    waiter = asyncio.ensure_future(publisher.wait_until_applied())
    await asyncio.sleep(0.05)
    assert not waiter.done(), "returned before the change was applied"
    gate.set()
    await asyncio.wait_for(waiter, 5)
    assert applied == ["Later."]
    await publisher.aclose()


FAST = PublishRetry(first_delay_s=0.01, max_delay_s=0.04, max_attempts=5)


def failing(times: int, publications: list[dict[str, str]]):
    """A publish callable that fails `times` times, then records what it publishes."""
    calls = [0]

    async def publish(attrs: dict[str, str]) -> None:
        calls[0] += 1
        if calls[0] <= times:
            raise ConnectionError(f"publish refused ({calls[0]})")
        publications.append(attrs)

    return publish, calls


async def noop_apply(text: str) -> None:
    pass


def test_the_backoff_doubles_up_to_its_ceiling():
    policy = PublishRetry()
    assert [policy.delay_s(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


async def test_a_failed_publish_is_retried_until_it_goes_through(caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    publications: list[dict[str, str]] = []
    publish, calls = failing(3, publications)
    call, publisher = following(json.dumps({"systemPrompt": "Start."}), FAST)

    publisher.start(noop_apply, publish)
    await asyncio.wait_for(publisher.wait_until_applied(), 5)
    await publisher.aclose()

    assert calls[0] == 4 and publications == [publisher.attributes()]
    failures = [r for r in caplog.records if "publish" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelno == logging.WARNING
    assert failures[0].participant == "alice"


async def test_a_retry_publishes_the_latest_state_and_a_change_resets_the_count():
    publications: list[dict[str, str]] = []
    publish, calls = failing(FAST.max_attempts - 1, publications)
    call, publisher = following(json.dumps({"systemPrompt": "Start."}), FAST)

    publisher.start(noop_apply, publish)
    async with asyncio.timeout(5):
        while calls[0] < FAST.max_attempts - 2:  # failing, not yet given up
            await asyncio.sleep(0.005)
    call.metadata_changed(json.dumps({"systemPrompt": "Changed while failing."}))
    await asyncio.wait_for(publisher.wait_until_applied(), 5)
    await publisher.aclose()

    assert len(publications) == 1, "given up before the change, or published twice"
    assert digest_in(publications[0]) == attributes.instructions_digest("Changed while failing.")


async def test_after_the_last_try_it_gives_up_with_one_error_until_the_next_change(caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    publications: list[dict[str, str]] = []
    publish, calls = failing(FAST.max_attempts, publications)
    call, publisher = following(json.dumps({"systemPrompt": "Start."}), FAST)

    publisher.start(noop_apply, publish)
    await asyncio.wait_for(publisher.wait_until_applied(), 5)
    assert calls[0] == FAST.max_attempts and publications == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "gave up" in errors[0].getMessage()

    call.metadata_changed(json.dumps({"systemPrompt": "Next."}))
    await asyncio.wait_for(publisher.wait_until_applied(), 5)
    await publisher.aclose()
    assert digest_in(publications[-1]) == attributes.instructions_digest("Next.")


async def test_mapping_metadata_with_surrogates_is_still_published():
    # Metadata handed over as a Mapping (a dispatch dict, a console) skips the JSON reader that
    # refuses lone surrogates; its rejected values still reach voice.errors.
    call = CallSettings(identity="alice", dispatch_metadata={"greeting": "\udfff"},
                        participant_metadata={"systemPrompt": "Hi \ud800", "\ud83d": 1},
                        profiles=PROFILES)
    publisher = SettingsPublisher(call)
    published: list[dict[str, str]] = []

    async def publish_like_the_ffi(attrs: dict[str, str]) -> None:
        request = ffi_pb2.FfiRequest()
        for key, value in attrs.items():
            entry = request.set_local_attributes.attributes.add()
            entry.key, entry.value = key, value
        published.append(attrs)

    publisher.start(noop_apply, publish_like_the_ffi)
    await asyncio.wait_for(publisher.wait_until_applied(), 5)
    await publisher.aclose()
    errors = json.loads(published[-1][attributes.ERRORS])
    assert {(e["field"], e["value"]) for e in errors} == {
        ("instructions", "Hi \\ud800"), ("greeting", "\\udfff")}
