"""Following one call, from the caller's validated settings to the end of the job.

`CallFollower` is made as soon as the caller is known, and listens from then on: it subscribes
to the caller's metadata changes and to profile edits in its constructor, before anything
awaits, so a change made while the session starts is not lost. `start()` follows the session's
turns from before its start and starts it unless the caller leaves first; `follow()` then acts
on every decision (instructions applied, attributes published), greets the caller, and ends the
job when the session closes. It registers its own teardown with the job.

Profiles reach the call through one seam, `self._profiles`: an object with the profiles now
(`store`), `start(on_change)` and `aclose()`: `CallProfiles`, the profile store (a directory or
a database) as the job read it at its start, then followed.
"""

from __future__ import annotations

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, room_io

from .call_settings import CallSettings
from .caller import caller_metadata, end_job_when_session_closes, run_while_present
from .config import AgentConfig
from .profile_watch import CallProfiles
from .publisher import Decisions, SettingsPublisher
from .turn_timing import TurnTiming


class CallFollower:
    """Everything a call does besides the conversation itself; see the module docstring."""

    def __init__(self, ctx: JobContext, participant: rtc.RemoteParticipant, *,
                 config: AgentConfig, profiles: CallProfiles) -> None:
        """`profiles`: the profile store as the job read it at its start."""
        self._ctx = ctx
        self.identity = participant.identity
        self._profiles = profiles
        decisions = Decisions()
        self.settings = CallSettings(
            identity=self.identity, participant_metadata=caller_metadata(ctx, participant),
            dispatch_metadata=ctx.job.metadata, profiles=self._profiles.store,
            switchable_profiles=config.switchable(self._profiles.store),
            on_change=decisions.notify)
        self._publisher = SettingsPublisher(self.settings, decisions)
        self._publish = ctx.room.local_participant.set_attributes
        self._timing = TurnTiming(self.identity, publish=self._publish,
                                  turn_detection=self.settings.current.settings.turn_detection)
        self.end_of_turn = self._timing.end_of_turn
        """Give the session's end-of-turn detector through it (`end_of_turn.detector`), so each
        turn's log line and `voice.timing` say which rule ended it."""
        ctx.room.on("participant_metadata_changed", self.settings.on_metadata_changed)
        self._profiles.start(on_change=self.settings.profiles_changed)
        ctx.add_shutdown_callback(self.aclose)

    async def start(self, session: AgentSession, agent: Agent) -> bool:
        """Start `session` for the caller, its turns timed from the first. False (the session
        closed, the job ending) when the caller left or the room closed first."""
        self._timing.follow(session)
        room = self._ctx.room
        started = await run_while_present(room, self.identity, session.start(
            agent=agent, room=room,
            room_options=room_io.RoomOptions(participant_identity=self.identity)))
        if not started:
            await session.aclose()
            self._ctx.shutdown("participant gone before the session started")
        return started

    def follow(self, session: AgentSession, agent: Agent) -> None:
        """The started session: act on every decision, greet, end the job when it closes."""
        end_job_when_session_closes(self._ctx, session, self.identity)
        self._publisher.start(apply_instructions=agent.update_instructions,
                              publish=self._publish)
        if greeting := self.settings.current.settings.greeting:
            session.say(greeting)

    async def aclose(self) -> None:
        """Stop following: first the inputs, then what acts on them."""
        self._ctx.room.off("participant_metadata_changed", self.settings.on_metadata_changed)
        await self._profiles.aclose()
        await self._publisher.aclose()
        await self._timing.aclose()
