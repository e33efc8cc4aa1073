"""JSON Schema of the settings, for a settings screen to build its form from and validate against.

`participant_schema()` is what participant metadata may contain: only the fields a user may set,
any other keys allowed (the app shares metadata with the rest of itself). `settings_schema()`
covers every field, as operators write them in dispatch metadata. Each property carries
`applies` ("live" or "next_session"), `set_by` and, where there is one, `unit`.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from .keys import KEY_ALIASES
from .model import FIELDS, OPERATOR_FIELDS, PARTICIPANT_FIELDS, PROFILE_FIELDS, Off, VoiceSettings
from .profiles import DESCRIPTION_KEY

_OFF = {"const": "off", "description": "Disabled (the same as null)."}


@cache
def _properties() -> dict[str, Any]:
    schema = VoiceSettings.model_json_schema(mode="validation")
    properties = schema["properties"]
    for name, prop in properties.items():
        prop.pop("title", None)
        if Off in VoiceSettings.model_fields[name].metadata:
            prop["anyOf"].append(_OFF)
        if name == "min_endpointing_delay":
            prop["description"] += " Must not exceed max_endpointing_delay."
    return properties


def _schema(fields: list[str], title: str, description: str,
            refused: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`properties` is one entry per field, for a form; `allOf` says what the parser also does:
    other spellings (endpointingMs, systemPrompt) are checked like the field, and the keys of
    `refused` fields are refused in any spelling, so the schema never passes what the parser
    drops."""
    properties = _properties()
    keys: dict[str, Any] = {
        key: {"$ref": f"#/properties/{name}"}
        for key, name in KEY_ALIASES.items() if key != name and name in fields}
    keys.update({key: False for key, name in KEY_ALIASES.items() if name in refused})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        "type": "object",
        "properties": {name: copy.deepcopy(properties[name]) for name in fields},
        "allOf": [{"properties": keys}],
        "additionalProperties": True,
    }


def participant_schema() -> dict[str, Any]:
    return _schema(
        [f for f in FIELDS if f in PARTICIPANT_FIELDS],
        "Voice settings in participant metadata",
        "What a user's app may put in the participant's token metadata. Keys may also be "
        "camelCase (endpointingMs); systemPrompt is an alias of instructions. Operator-only "
        "settings (models, voice, language) are refused in any spelling. Other keys are "
        "ignored by the agent.",
        refused=OPERATOR_FIELDS,
    )


def settings_schema() -> dict[str, Any]:
    return _schema(
        list(FIELDS),
        "Voice settings",
        "Every setting, as operators may give them in dispatch metadata. Fields with "
        "set_by=operator are refused in participant metadata.",
    )


def profile_schema() -> dict[str, Any]:
    """A profile as the profile API takes it (PUT /api/profiles/{name}), for an admin form: the
    description and the profile fields, one property each by its snake_case name, as in a profile
    file; `allOf` checks the other spellings metadata accepts (minEndpointingDelay) like their
    field, and `propertyNames` refuses every other key."""
    fields = [name for name in FIELDS if name in PROFILE_FIELDS]
    schema = _schema(fields, "Voice profile", "A named preset of settings, stored as "
                     "profiles/<name>.toml. Fields left out keep the default profile's value (or "
                     "the built-in default). Every profile must also be valid over the "
                     "operator's default profile.")
    del schema["additionalProperties"]
    schema["properties"] = {
        DESCRIPTION_KEY: {"type": "string", "description": "What the profile is for."},
        **schema["properties"]}
    schema["propertyNames"] = {"enum": [DESCRIPTION_KEY, *(key for key, name in KEY_ALIASES.items()
                                                          if name in PROFILE_FIELDS)]}
    return schema


def _range(prop: dict[str, Any]) -> str:
    options = prop.get("anyOf", [prop])
    parts = []
    for option in options:
        if "enum" in option:
            parts.append(" \\| ".join(option["enum"]))
        elif "minimum" in option:
            parts.append(f"{option['minimum']:g} to {option['maximum']:g}")
        elif option.get("type") == "null":
            parts.append("null")
        elif option.get("const") == "off":
            parts.append('"off"')
        elif option.get("type") == "boolean":
            parts.append("true \\| false")
        elif "maxLength" in option:
            parts.append(f"{option.get('minLength', 0)} to {option['maxLength']} characters")
        elif "pattern" in option:
            parts.append("identifier")
    return ", ".join(parts)


def _default(value: Any) -> str:
    if isinstance(value, str) and len(value) > 24:
        return "(text, see model.py)"
    return "`" + json.dumps(value) + "`"


def reference_markdown() -> str:
    """The settings reference of docs/settings.md: field, unit, default, range, when, who."""
    rows = ["| field | unit | default | range | applies | set by |",
            "|---|---|---|---|---|---|"]
    properties = _properties()
    for name in FIELDS:
        prop = properties[name]
        applies = "live" if prop["applies"] == "live" else "next session"
        who = "user or operator" if prop["set_by"] == "participant" else "operator only"
        rows.append(f"| `{name}` | {prop.get('unit', '')} | {_default(prop.get('default'))} "
                    f"| {_range(prop)} | {applies} | {who} |")
    return "\n".join(rows) + "\n"
