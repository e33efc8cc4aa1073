"""The settings core (the model, parsing, sources, profiles, schema, the settings CLI) stands
without what only the token tool needs: livekit-api, aiohttp and PyJWT."""

from __future__ import annotations

import json
import subprocess
import sys

TOKEN_ONLY_PACKAGES = ("livekit.api", "aiohttp", "jwt")


def modules_after_importing(*names: str) -> set[str]:
    code = (f"import json, sys\nfor name in {list(names)!r}:\n    __import__(name)\n"
            "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return set(json.loads(result.stdout))


def test_settings_core_and_cli_import_no_token_dependencies() -> None:
    loaded = modules_after_importing("voice_settings", "voice_settings.cli",
                                     "voice_settings.tool_errors")
    assert "voice_settings.cli" in loaded  # the probe did import what it names
    pulled_in = sorted(m for m in loaded
                       if any(m == p or m.startswith(p + ".") for p in TOKEN_ONLY_PACKAGES))
    assert pulled_in == []


def test_the_probe_sees_token_dependencies_when_they_are_imported() -> None:
    loaded = modules_after_importing("voice_settings.tokens.server")
    assert {"livekit.api", "aiohttp", "jwt"} <= loaded


UPPER_LAYERS = ("voice_settings.lab", "voice_settings.harness", "agent", "livekit")


def upper_layers_in(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in UPPER_LAYERS))


def test_the_settings_cli_loads_no_lab_harness_agent_or_framework() -> None:
    loaded = modules_after_importing("voice_settings.cli")
    assert "voice_settings.cli" in loaded
    assert upper_layers_in(loaded) == []


def test_only_the_lab_command_loads_the_lab() -> None:
    code = ("import json, sys\nfrom voice_settings.cli import main\n"
            "main(['schema'])\nmain(['profiles', 'list'])\n"
            "print('\\n' + json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert upper_layers_in(set(json.loads(result.stdout.splitlines()[-1]))) == []

    help_text = subprocess.run([sys.executable, "-m", "voice_settings", "lab", "--help"],
                               capture_output=True, text=True, check=True).stdout
    assert "--scenario" in help_text and "Each session speaks a scenario" in help_text
