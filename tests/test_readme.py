"""The README is part of the product: its commands are CI's, its tables are the code's."""

import re
from pathlib import Path

from voice_settings.runtime import attributes
from voice_settings.runtime.turn_timing import TIMING
from voice_settings.schema import reference_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _opening_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block, "the README must open with a sh code block"
    assert README.index(block.group(0)) < README.index("\n## "), "commands come first"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands():
    assert len(_opening_commands()) == 2


def test_ci_runs_the_readme_test_command():
    test_command = _opening_commands()[1]
    assert "pytest" in test_command
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines


def test_settings_reference_table_matches_the_model():
    assert reference_markdown() in README


def test_agent_attributes_are_documented():
    for name in (attributes.SETTINGS, attributes.PENDING, attributes.ERRORS, TIMING):
        assert f"`{name}`" in README


RELIABILITY = (ROOT / "docs" / "RELIABILITY.md").read_text(encoding="utf-8")
NOT_ON_THIS_BRANCH_YET = {"tests/tokens/test_serve_hostile.py"}  # the token server's fuzz


def test_the_reliability_document_cites_tests_that_exist():
    cited = re.findall(r"`((?:tests/)?[\w/]+\.py)::(\w+)", RELIABILITY)
    assert len(cited) >= 15
    for path, name in cited:
        path = path if path.startswith("tests/") else f"tests/{path}"
        if path in NOT_ON_THIS_BRANCH_YET and not (ROOT / path).exists():
            continue
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {name}\(", source, re.M), f"{path}::{name}"
    assert "docs/RELIABILITY.md" in README
