"""Validated per-user voice settings for a LiveKit agent.

One concept per module: `model` (the settings and their policy), `parsing` (untrusted metadata
in, valid values out), `sources` (precedence and provenance), `profiles` (operator presets),
`changes` (what a change means), `plugins` (settings onto the framework), `schema` (JSON Schema).
"""

from .changes import FieldChange, diff, pending_fields
from .errors import SettingsError, Source
from .model import (
    FIELDS,
    LIVE_FIELDS,
    NEXT_SESSION_FIELDS,
    OPERATOR_FIELDS,
    PARTICIPANT_FIELDS,
    PROFILE_FIELDS,
    VoiceSettings,
)
from .parsing import (
    KEY_ALIASES,
    MAX_METADATA_BYTES,
    ParsedMetadata,
    parse_assignment,
    parse_metadata,
    split_by_audience,
    validate_field,
)
from .profiles import ProfileError, ProfileStore
from .sources import Resolution, resolve

__all__ = [
    "FIELDS", "KEY_ALIASES", "LIVE_FIELDS", "MAX_METADATA_BYTES", "NEXT_SESSION_FIELDS",
    "OPERATOR_FIELDS", "PARTICIPANT_FIELDS", "PROFILE_FIELDS", "FieldChange", "ParsedMetadata",
    "ProfileError", "ProfileStore", "Resolution", "SettingsError", "Source", "VoiceSettings",
    "diff", "parse_assignment", "parse_metadata", "pending_fields", "resolve",
    "split_by_audience", "validate_field",
]
