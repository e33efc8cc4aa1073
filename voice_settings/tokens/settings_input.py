"""Settings as a command line asks for them (--set, --instructions, --profile, --metadata,
--job-metadata, --attribute): the participant and dispatch metadata built from them, checked with
`resolve` before anything is signed or sent.

Participant metadata carries what a participant may set; operator-only fields travel in the
agent dispatch metadata.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..keys import split_by_audience
from ..parsing import parse_assignment
from ..profiles import ProfileStore
from ..resolution import Resolution, resolve
from ..tool_errors import SettingsRejected, UsageError
from .metadata import encode, json_file, json_object, over_limit, with_values

# What did not happen because settings were invalid: mint signs, update sends.
NOTHING_SIGNED, NOTHING_SENT = "nothing was signed", "nothing was sent"


@dataclass(frozen=True)
class SettingsInput:
    """Settings as a command line asks for them: --set KEY=VALUE items, --instructions,
    --profile, and the app's own metadata as --metadata text or a --metadata-file path."""

    assignments: Sequence[str] = ()
    instructions: str | None = None
    profile: str | None = None
    metadata: str | None = None
    metadata_file: str | None = None


def assignments(items: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        try:
            name, value = parse_assignment(item)
        except ValueError as exc:
            raise UsageError(f"--set {item!r}: {exc}") from None
        values[name] = value
    return values


def requested_settings(asked: SettingsInput) -> tuple[dict[str, Any], dict[str, Any]]:
    """(participant values, operator-only values) asked for by --set, --instructions, --profile."""
    participant, operator = split_by_audience(assignments(asked.assignments))
    if asked.instructions is not None:
        participant["instructions"] = asked.instructions
    if asked.profile is not None:
        participant["profile"] = asked.profile
    return participant, operator


def app_metadata(asked: SettingsInput) -> dict[str, Any]:
    if asked.metadata_file:
        return json_file(asked.metadata_file, "--metadata-file")
    return json_object(asked.metadata or "", "--metadata")


def checked(resolution: Resolution, consequence: str = NOTHING_SIGNED) -> Resolution:
    """`resolution`, or a usage error listing its errors and saying what was not done."""
    if resolution.errors:
        raise SettingsRejected(resolution.errors, consequence)
    return resolution


def note_unknown_keys(resolution: Resolution) -> None:
    for source, key in resolution.unknown_keys:
        print(f"note: {key!r} in {source} metadata is not a setting; passed through untouched",
              file=sys.stderr)


@dataclass(frozen=True)
class TokenMetadata:
    participant: str
    dispatch: str
    resolution: Resolution


def mint_metadata(asked: SettingsInput, job_metadata: str | None, agent: str | None,
                  store: ProfileStore) -> TokenMetadata:
    participant_values, operator_values = requested_settings(asked)
    participant = encode(with_values(app_metadata(asked), participant_values), "metadata")
    job = with_values(json_object(job_metadata or "", "--job-metadata"), operator_values)
    if job and not agent:
        what = ", ".join(operator_values) if operator_values else "--job-metadata"
        raise UsageError(f"{what}: operator-only settings and --job-metadata travel in the "
                          "agent dispatch metadata, which needs --agent NAME")
    dispatch = encode(job, "dispatch metadata")
    resolution = resolve(participant=participant or None, dispatch=dispatch or None,
                         profiles=store)
    return TokenMetadata(participant, dispatch, checked(resolution))


def attributes(items: Sequence[str], attribute_file: str | None) -> dict[str, str]:
    """Participant attributes from --attribute-file (a JSON object) and --attribute KEY=VALUE."""
    found: dict[str, str] = {}
    if attribute_file:
        document = json_file(attribute_file, "--attribute-file")
        if not all(isinstance(v, str) for v in document.values()):
            raise UsageError("--attribute-file: every attribute value must be a string")
        found.update(document)
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--attribute {item!r}: expected KEY=VALUE")
        found[key] = value
    if problem := over_limit("attributes", found):
        raise UsageError(problem)
    return found
