"""The call follower on its own, in a real room and job context: it listens from its
construction, before anything awaits, and its teardown stops what it started."""

from __future__ import annotations

import json

from voice_settings.harness import OfflineStack
from voice_settings.runtime.call_follower import CallFollower
from voice_settings.runtime.config import AgentConfig
from voice_settings.runtime.profile_watch import CallProfiles
from voice_settings.store import directory_backend


async def test_it_listens_from_construction_and_its_teardown_stops_listening():
    async with OfflineStack() as stack:
        caller = await stack.room.join("alice", metadata=json.dumps({"systemPrompt": "First."}),
                                       publish_audio=False)
        profiles = await CallProfiles.read(directory_backend(), AgentConfig())
        call = CallFollower(stack.ctx, caller, config=AgentConfig(), profiles=profiles)
        # No await between construction and the change: the event is delivered at once.
        stack.room.set_metadata("alice", json.dumps({"systemPrompt": "Second."}))
        assert call.settings.current.settings.instructions == "Second."

        teardown = [cb.__qualname__ for cb in stack.ctx._shutdown_callbacks]
        assert teardown == ["CallFollower.aclose"], "it registers its own teardown, once"
        await call.aclose()
        stack.room.set_metadata("alice", json.dumps({"systemPrompt": "Third."}))
        assert call.settings.current.settings.instructions == "Second."
