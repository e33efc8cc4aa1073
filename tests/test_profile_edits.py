"""The agent follows the profile store: edits apply without restarting the worker.

Through the real entrypoint, framework and plugins, against the offline stand-ins.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

import agent
from tests.agent_helpers import published, running_agent, settled, until, user_turn
from voice_settings.harness import OfflineStack
from voice_settings.profiles import DEFAULT_PROFILES_DIR
from voice_settings.runtime import attributes
from voice_settings.runtime.profile_watch import job_profiles

SUPPORT = '''description = "Support line"
instructions = "You are Sam from support."
min_endpointing_delay = 0.6
'''


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILES_DIR, directory)
    (directory / "support.toml").write_text(SUPPORT, encoding="utf-8")
    return directory


def edit(directory: Path, text: str) -> None:
    """Write the way an editor or the API does: a new file renamed over the old one."""
    tmp = directory / ".support.toml.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(directory / "support.toml")


async def test_a_live_call_follows_an_edit_of_its_profile(profiles_dir, caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    env = {"VOICE_PROFILES_DIR": str(profiles_dir)}
    async with running_agent(json.dumps({"profile": "support"}), env=env) as stack:
        assert (await user_turn(stack, "hello")).system == "You are Sam from support."

        edit(profiles_dir, SUPPORT.replace("Sam", "Kim").replace("0.6", "0.9"))
        await settled(stack, "You are Kim from support.")

        assert (await user_turn(stack, "who is this?")).system == "You are Kim from support."
        assert published(stack, attributes.PENDING) == {"min_endpointing_delay": 0.9}
        decisions = {(r.getMessage().split(" for ")[0], r.field, r.cause) for r in caplog.records
                     if getattr(r, "cause", None) == "profile edited"}
        assert decisions == {("change applied", "instructions", "profile edited"),
                             ("change deferred to next session", "min_endpointing_delay",
                              "profile edited")}
        assert all(r.participant == "alice" for r in caplog.records
                   if getattr(r, "cause", None) == "profile edited")


async def test_a_broken_edit_keeps_the_last_valid_version(profiles_dir, caplog):
    caplog.set_level(logging.INFO, logger="voice_settings.runtime")
    env = {"VOICE_PROFILES_DIR": str(profiles_dir)}
    async with running_agent(json.dumps({"profile": "support"}), env=env) as stack:
        edit(profiles_dir, SUPPORT + "min_endpointing_delay_typo = 3\n")
        rejected = await until(lambda: [r for r in caplog.records
                                        if r.getMessage().startswith("profile rejected")],
                               "the broken profile is rejected")
        assert "support.toml" in rejected[0].getMessage()
        assert rejected[0].field == "min_endpointing_delay_typo"
        assert (await user_turn(stack, "still Sam?")).system == "You are Sam from support."

        edit(profiles_dir, SUPPORT.replace("Sam", "Kim"))  # fixed: it applies
        await settled(stack, "You are Kim from support.")


async def test_the_next_job_uses_an_edit_made_after_its_process_was_prewarmed(profiles_dir,
                                                                              monkeypatch):
    monkeypatch.setenv("VOICE_PROFILES_DIR", str(profiles_dir))
    prewarmed: dict = {}

    def prewarm_before_the_edit(proc) -> None:
        proc.userdata.update(prewarmed)

    async with OfflineStack(env={"VOICE_PROFILES_DIR": str(profiles_dir)}) as stack:
        agent.server.setup_fnc(stack.ctx.proc)  # the pool prewarms a process...
        prewarmed.update(stack.ctx.proc.userdata)
        edit(profiles_dir, SUPPORT.replace("Sam", "Kim"))  # ...then the operator edits...
        stack.start(agent.entrypoint, setup=prewarm_before_the_edit)  # ...then a job comes
        await stack.room.join("alice", metadata=json.dumps({"profile": "support"}))
        await until(lambda: published(stack, attributes.SETTINGS), "session started")
        assert (await user_turn(stack, "hi")).system == "You are Kim from support."


async def test_a_job_starts_on_the_last_valid_profiles_and_logs_what_it_refused(
        profiles_dir, caplog):
    from voice_settings.store import directory_backend

    backend = directory_backend(profiles_dir)
    (profiles_dir / "support.toml").write_text("min_endpointing_delay = 99\n", encoding="utf-8")
    (profiles_dir / "fresh.toml").write_text("not toml", encoding="utf-8")
    (profiles_dir / ".#patient.toml").write_text("", encoding="utf-8")  # an editor's lock file
    caplog.set_level(logging.WARNING)
    store = await job_profiles(backend)
    assert "support" not in store and "fresh" not in store  # never valid in this process
    assert store.names() == ["default", "dictation", "patient", "snappy"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("support.toml: min_endpointing_delay:" in m and "not served" in m
               for m in messages)
    assert any("fresh.toml" in m and "not served" in m for m in messages)
    assert any(".#patient.toml" in m and "skipped" in m for m in messages)
