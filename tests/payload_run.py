"""Hostile payloads through the resolver and the change handler, with every invariant checked.

Each payload goes through both paths the agent has:
- the start of a call: `resolve(participant=payload, dispatch=..., profiles=...)`, no previous
  settings (and, every `NEW_CALL_EVERY` payloads, a whole new `CallSettings` built from it);
- a change mid-call: `CallSettings.metadata_changed(payload)` on a call that lives through the
  whole run, then `SettingsPublisher.attributes()`, the attributes the agent would publish.

An escape is anything that should never happen: an exception, an attribute LiveKit could not
take (not UTF-8, over 64 KiB, an FFI request protobuf refuses), settings that changed when the
input was refused, an operator-only value taken from the participant, invalid settings, an error
that reveals a bug, a log line that cannot be formatted, or an ERROR log. `bench/reliability.py`
runs a million; `tests/test_hostile_payloads.py` a sample on every CI run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from livekit.agents.cli.log import JsonFormatter

from tests.hostile_payloads import HostilePayloads, Payload
from tests.log_capture import project_logs_only_into
from tests.strategies import BUG_MARKERS
from voice_settings import resolve
from voice_settings.errors import METADATA, SettingsError, encodable
from voice_settings.harness.local_participant import attributes_request
from voice_settings.model import FIELDS, OPERATOR_FIELDS, VoiceSettings
from voice_settings.parsing import ParsedMetadata, parse_metadata
from voice_settings.resolution import Resolution
from voice_settings.runtime import attributes
from voice_settings.runtime.call_settings import CallSettings
from voice_settings.runtime.publisher import SettingsPublisher
from voice_settings.sources import Source
from voice_settings.store import load_directory

MAX_ATTRIBUTES_BYTES = 64 * 1024
"""LiveKit's limit for all of a participant's attributes together (keys and values, UTF-8)."""

NEW_CALL_EVERY = 1000
DISPATCHES = ("", '{"llm_model": "gpt-4o", "tts_voice": "nova", "profile": "patient"}',
              '{"profile": "snappy", "endpointingMs": 300}', "{not json", '{"profile": "nope"}')
"""Dispatch metadata of the successive calls: none, operator values, a profile, broken."""

_PAIRED = {"min_endpointing_delay": ("max_endpointing_delay",),
           "max_endpointing_delay": ("min_endpointing_delay",)}
"""min above max from one source is one error, naming one of the two."""
_FIELDS_OUT_OF_PROFILE = tuple(f for f in FIELDS if f != "profile")


@dataclass
class Escape:
    index: int
    kind: str
    check: str
    detail: str
    payload: str


@dataclass
class RunReport:
    payloads: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    rejected_whole: int = 0
    field_errors: int = 0
    changes: int = 0
    calls: int = 0
    log_lines: int = 0
    escapes: list[Escape] = field(default_factory=list)
    escapes_by_check: Counter[str] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return self.payloads / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"payloads": self.payloads, "seconds": round(self.seconds, 1),
                "payloads_per_second": round(self.per_second), "calls": self.calls,
                "rejected_whole": self.rejected_whole, "field_errors": self.field_errors,
                "changes": self.changes, "log_lines": self.log_lines,
                "escapes": len(self.escapes), "escapes_by_check": dict(self.escapes_by_check),
                "kinds": dict(sorted(self.kinds.items())),
                "first_escapes": [vars(e) for e in self.escapes[:10]]}


class FormattingHandler(logging.Handler):
    """Formats records as the worker's production JSON logger does and writes them as UTF-8
    with the worker's stdout error handler; counts what it could not, and ERROR lines.

    Every warning (they carry the hostile values) is formatted; one INFO line in
    `INFO_SAMPLE` (decisions about values already validated), to keep the long run fast."""

    INFO_SAMPLE = 10

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.formatter_ = JsonFormatter(ensure_ascii=False)
        self.lines = 0
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1
        if record.levelno < logging.WARNING and self.lines % self.INFO_SAMPLE:
            return
        try:
            self.formatter_.format(record).encode("utf-8", "backslashreplace")
        except Exception as exc:  # what logging would swallow and print to stderr
            self.failures.append(f"log: {record.msg!r} could not be formatted: {exc!r}")
        if record.levelno >= logging.ERROR:
            self.failures.append(f"log: an ERROR line: {record.getMessage()[:200]}")


def formatted_logs() -> contextlib.AbstractContextManager[FormattingHandler]:
    return project_logs_only_into(FormattingHandler())


def publishable(attrs: dict[str, str]) -> list[str]:
    """Why LiveKit could not take these attributes (nothing: []): the FFI request the SDK
    builds fails, or they are over the size limit."""
    try:
        attributes_request(attrs)
        size = sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in attrs.items())
    except Exception as exc:
        return [f"not publishable: {exc!r}"]
    return [f"not publishable: attributes are {size} bytes"] if size > MAX_ATTRIBUTES_BYTES else []


def what_the_app_sees(attrs: dict[str, str], in_force: VoiceSettings,
                      errors: tuple[SettingsError, ...]) -> list[str]:
    """Each attribute is strict JSON; voice.settings is what is in force, voice.errors the
    errors of the last change."""
    try:
        decoded = {k: json.loads(v, parse_constant=_refuse) for k, v in attrs.items()}
    except ValueError as exc:
        return [f"wrong attributes: not JSON: {exc}"]
    problems = []
    summary = attributes.settings_summary(in_force)  # text as UTF-8 carries it:
    summary = {k: encodable(v) if isinstance(v, str) else v for k, v in summary.items()}
    if decoded[attributes.SETTINGS] != summary:
        problems.append("wrong attributes: voice.settings is not the settings in force")
    published = [e["field"] for e in decoded[attributes.ERRORS]]
    if published != [e.field for e in errors[:attributes.MAX_ERRORS]]:
        problems.append("wrong attributes: voice.errors is not the last change's errors")
    return problems


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} in an attribute")


class PayloadRun:
    """One long call (rebuilt every `NEW_CALL_EVERY` payloads) fed hostile payloads."""

    def __init__(self, seed: int) -> None:
        self.payloads = HostilePayloads(seed)
        self.store = load_directory()
        self.report = RunReport()
        self.call: CallSettings
        self.publisher: SettingsPublisher
        self.base: Resolution

    def run(self, count: int) -> RunReport:
        """`count` more payloads (a run may be continued); returns the report so far."""
        with formatted_logs() as logs:
            began = time.perf_counter()
            for index, payload in enumerate(self.payloads.take(count), self.report.payloads):
                if index % NEW_CALL_EVERY == 0:
                    self._new_call(index, payload)
                parsed = parse_metadata(payload.value, Source.PARTICIPANT)  # for the checks
                fresh, problems = self._start_of_call(payload, parsed)
                self._check(index, payload, problems)
                if fresh is not None:
                    self._check(index, payload, self._change(payload, parsed, fresh))
                for failure in logs.failures:
                    self._escape(index, payload, failure)
                logs.failures.clear()
                self.report.payloads += 1
                self.report.kinds[payload.kind] += 1
            self.report.seconds += time.perf_counter() - began
            self.report.log_lines += logs.lines
        return self.report

    # --- the two paths -------------------------------------------------------------------
    def _new_call(self, index: int, payload: Payload) -> None:
        dispatch = DISPATCHES[(index // NEW_CALL_EVERY) % len(DISPATCHES)]
        self.base = resolve(dispatch=dispatch, profiles=self.store)
        self.dispatch = dispatch
        try:
            self.call = CallSettings(identity="fuzz", participant_metadata=payload.value,
                                     dispatch_metadata=dispatch, profiles=self.store)
        except Exception as exc:
            self._escape(index, payload, f"exception: starting a call: {exc!r}")
            self.call = CallSettings(identity="fuzz", participant_metadata="",
                                     dispatch_metadata=dispatch, profiles=self.store)
        self.publisher = SettingsPublisher(self.call)
        self.report.calls += 1

    def _start_of_call(self, payload: Payload,
                       parsed: ParsedMetadata) -> tuple[Resolution | None, list[str]]:
        try:
            resolution = resolve(participant=payload.value, dispatch=self.dispatch,
                                 profiles=self.store)
        except Exception as exc:
            return None, [f"exception: resolve raised {exc!r}"]
        problems = _valid(resolution)
        if parsed.rejected_whole and resolution.settings != self.base.settings:
            problems.append("changed: a document refused whole changed the settings at start")
        attrs = attributes.agent_attributes(resolution.settings, {}, resolution.errors)
        return resolution, problems + publishable(attrs)

    def _change(self, payload: Payload, parsed: ParsedMetadata, fresh: Resolution) -> list[str]:
        call, before = self.call, self.call.current
        try:
            changes = call.metadata_changed(payload.value)
        except Exception as exc:
            return [f"exception: metadata_changed raised {exc!r}"]
        after = call.current
        self.report.changes += len(changes)
        self.report.rejected_whole += parsed.rejected_whole
        self.report.field_errors += len(parsed.rejected_fields)
        problems = _valid(after) + _unchanged_where_refused(payload, parsed, before, after, fresh)
        try:
            self.publisher.applied_instructions = after.settings.instructions  # as applied
            attrs = self.publisher.attributes()
        except Exception as exc:
            return [*problems, f"exception: attributes() raised {exc!r}"]
        return problems + publishable(attrs) + what_the_app_sees(attrs, after.settings,
                                                                   call.errors)

    # --- reporting --------------------------------------------------------------------------
    def _check(self, index: int, payload: Payload, problems: list[str]) -> None:
        for problem in problems:
            self._escape(index, payload, problem)

    def _escape(self, index: int, payload: Payload, problem: str) -> None:
        """`problem` is "<check>: <detail>"; the check names what broke."""
        check, detail = problem.split(": ", 1)[0], problem
        self.report.escapes_by_check[check] += 1
        if len(self.report.escapes) < 100:
            self.report.escapes.append(Escape(index, payload.kind, check, detail[:300],
                                              _shown(payload.value)))


def _shown(value: Any) -> str:
    try:
        return repr(value)[:300]
    except ValueError:  # an int past Python's digit limit
        return f"a {type(value).__name__} too large to show"


def _valid(resolution: Resolution) -> list[str]:
    settings, problems = resolution.settings, []
    try:
        if VoiceSettings.model_validate(settings.model_dump()) != settings:
            problems.append("invalid settings: they do not validate to themselves")
    except Exception as exc:
        problems.append(f"invalid settings: {exc!r}"[:300])
    problems += [f"operator field from the participant: {name}" for name in OPERATOR_FIELDS
                 if resolution.sources[name] is Source.PARTICIPANT]
    for error in resolution.errors:
        text = str(error)
        if any(marker in text for marker in BUG_MARKERS):
            problems.append(f"bug reported: {text[:200]}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"not UTF-8: an error message: {_shown(text)}")
    return problems


def _unchanged_where_refused(payload: Payload, parsed: ParsedMetadata, before: Resolution,
                             after: Resolution, fresh: Resolution) -> list[str]:
    """A refused input keeps the last valid settings; a valid one is in force; a field the
    change does not name is where a call starting with this metadata would have it (`fresh`):
    nothing else moves it."""
    problems = []
    if payload.whole_rejected and not parsed.rejected_whole:
        problems.append("not refused: a document the rules refuse whole was read")
    if parsed.rejected_whole:
        if after.settings != before.settings or dict(after.sources) != dict(before.sources):
            problems.append("changed: a document refused whole changed the settings")
        if not any(e.field == METADATA for e in after.errors):
            problems.append("unreported: a document refused whole has no (metadata) error")
        return problems
    old, new = before.settings, after.settings
    adjusted = {name for name in FIELDS if after.sources[name] is Source.ADJUSTED}
    for name in parsed.rejected_fields - adjusted:
        if getattr(new, name) != getattr(old, name):
            problems.append(f"changed: refused {name} moved from {getattr(old, name)!r:.40} "
                            f"to {getattr(new, name)!r:.40}")
        if not {name, *_PAIRED.get(name, ())} & {e.field for e in after.errors}:
            problems.append(f"unreported: refused {name} has no error")
    for name, value in parsed.values.items():
        if name != "profile" and name not in adjusted and getattr(new, name) != value:
            problems.append(f"not applied: valid {name} {value!r:.40} is not in force")
    unknown_profile = any(e.field == "profile" and e.source is Source.PARTICIPANT
                          and e.message.startswith("unknown profile") for e in after.errors)
    if unknown_profile and new.profile != old.profile:
        problems.append(f"changed: an unknown profile moved the profile from {old.profile!r}")
    if new.profile == fresh.settings.profile:
        untouched = set(_FIELDS_OUT_OF_PROFILE) - set(parsed.values) - parsed.rejected_fields
        adjusted |= {name for name in FIELDS if fresh.sources[name] is Source.ADJUSTED}
        for name in untouched - adjusted:
            if getattr(new, name) != getattr(fresh.settings, name):
                problems.append(f"changed: {name}, not in the change, is not where a new call "
                                "would have it")
    return problems
