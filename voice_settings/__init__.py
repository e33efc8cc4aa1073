"""Validated per-user voice settings for a LiveKit agent.

The settings core, one concept per module (imports neither livekit.api nor aiohttp nor jwt):
`model` (the settings, their units, ranges and policy), `json_input` (one reader of untrusted
JSON), `keys` (key aliases), `parsing` and `errors` (untrusted metadata in, valid values and
clear errors out), `sources` (the precedence of sources) and `resolution` (applying them),
`profiles` (operator presets) and `profile_files` (the profiles directory as a store: versions,
atomic writes, reloads), `changes` (what a change means), `schema`, `cli`.

Subpackages: `runtime/` (the agent during a call) · `tokens/` (what token_tool.py runs) ·
`harness/` (offline stand-ins for LiveKit, Deepgram and OpenAI, and the demo).
"""

from .changes import FieldChange, diff, pending_fields
from .errors import SettingsError
from .json_input import MAX_METADATA_BYTES, JsonInputError, read_json_object
from .model import (
    FIELDS,
    LIVE_FIELDS,
    NEXT_SESSION_FIELDS,
    OPERATOR_FIELDS,
    PARTICIPANT_FIELDS,
    PROFILE_FIELDS,
    VoiceSettings,
)
from .parsing import ParsedMetadata, parse_assignment, parse_metadata, validate_field
from .profiles import ProfileError, ProfileStore
from .resolution import Resolution, resolve
from .sources import PRECEDENCE, Source

__all__ = [
    "FIELDS", "LIVE_FIELDS", "MAX_METADATA_BYTES", "NEXT_SESSION_FIELDS", "OPERATOR_FIELDS",
    "PARTICIPANT_FIELDS", "PRECEDENCE", "PROFILE_FIELDS", "FieldChange", "JsonInputError",
    "ParsedMetadata", "ProfileError", "ProfileStore", "Resolution", "SettingsError", "Source",
    "VoiceSettings", "diff", "parse_assignment", "parse_metadata", "pending_fields",
    "read_json_object", "resolve", "validate_field",
]
