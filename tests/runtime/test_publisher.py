"""The publisher on its own: applies instructions in order, publishes what is in force."""

from __future__ import annotations

import asyncio
import json
import logging

from voice_settings import ProfileStore
from voice_settings.runtime import attributes
from voice_settings.runtime.call_settings import CallSettings
from voice_settings.runtime.publisher import SettingsPublisher

PROFILES = ProfileStore.load()


def following(metadata: str) -> tuple[CallSettings, SettingsPublisher]:
    call = CallSettings(identity="alice", participant_metadata=metadata, dispatch_metadata="",
                        profiles=PROFILES)
    publisher = SettingsPublisher(call)
    call.on_change = publisher.notify
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
