"""Validated per-user voice settings for a LiveKit agent.

One concept per module.
- Settings: `model` (the settings and their policy), `errors` (what was wrong, and where it came
  from), `parsing` (untrusted metadata in, valid values out), `sources` (precedence and
  provenance), `profiles` (operator presets), `changes` (what a change means), `plugins`
  (settings onto the framework), `schema` (JSON Schema and the README table), `cli`.
- The agent's runtime: `call` (waiting for the caller), `live` (changes during a call),
  `attributes` (what the app is told), `turn_detector` (which model this machine can run).
- Tokens, for `token_tool.py`: `tokens`, `token_server`, `token_report`, `participant_update`,
  `credentials`, `tool_errors`; `dispatch_settings` (admin screens' top-level fields),
  `profile_api` (the profile API), `http_errors`.
- `profile_files`: the profiles directory as a store (versions, atomic writes, live reloads).
- `harness`: offline stand-ins for LiveKit, Deepgram and OpenAI, and the demo.
Only the settings modules are imported here; the others pull in livekit and load on use.
"""

from .changes import FieldChange, diff, pending_fields
from .errors import SettingsError, Source
from .json_input import MAX_METADATA_BYTES
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
from .sources import Resolution, resolve

__all__ = [
    "FIELDS", "LIVE_FIELDS", "MAX_METADATA_BYTES", "NEXT_SESSION_FIELDS",
    "OPERATOR_FIELDS", "PARTICIPANT_FIELDS", "PROFILE_FIELDS", "FieldChange", "ParsedMetadata",
    "ProfileError", "ProfileStore", "Resolution", "SettingsError", "Source", "VoiceSettings",
    "diff", "parse_assignment", "parse_metadata", "pending_fields", "resolve",
    "validate_field",
]
