"""The README and docs/ are part of the product: their commands are CI's, their tables are the
code's, their links lead somewhere."""

import re
from pathlib import Path

import pytest

from voice_settings.runtime import attributes
from voice_settings.runtime.turn_timing import TIMING
from voice_settings.schema import reference_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_MAX_LINES = 180
# Other branches and engineers link to these by name: renaming one is a breaking change.
DOC_PAGES = ("settings.md", "during-a-call.md", "tokens-and-serve.md", "assistants.md",
             "timing-lab.md", "deploying.md", "RELIABILITY.md")


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


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


def test_readme_stays_a_front_page():
    lines = len(README.splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move reference text to docs/"


def test_readme_links_every_docs_page():
    on_disk = {page.name for page in DOCS.glob("*.md")}
    assert set(DOC_PAGES) <= on_disk
    for name in sorted(on_disk):
        assert f"](docs/{name})" in README, f"docs/{name} is not linked from README.md"


@pytest.mark.parametrize("name", DOC_PAGES)
def test_each_docs_page_says_what_it_answers_and_links_back(name):
    text = _doc(name)
    title, _, rest = text.partition("\n\n")
    assert title.startswith("# "), f"docs/{name} starts with its title"
    first_paragraph = rest.split("\n\n", 1)[0]
    assert "](../README.md" in first_paragraph, f"docs/{name}: first paragraph links back"


def test_settings_reference_table_matches_the_model():
    assert reference_markdown() in _doc("settings.md")


def test_agent_attributes_are_documented():
    during_a_call = _doc("during-a-call.md")
    for name in (attributes.SETTINGS, attributes.PENDING, attributes.ERRORS, TIMING):
        assert f"`{name}`" in during_a_call


def test_the_reliability_document_cites_tests_that_exist():
    cited = re.findall(r"`((?:tests/)?[\w/]+\.py)::(\w+)", _doc("RELIABILITY.md"))
    assert len(cited) >= 15
    for path, name in cited:
        path = path if path.startswith("tests/") else f"tests/{path}"
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {name}\(", source, re.M), f"{path}::{name}"


# --- every relative link resolves, anchors included --------------------------------------------

LINKED_PAGES = sorted({ROOT / "README.md", *DOCS.glob("*.md"), *(ROOT / "bench").glob("*.md"),
                       ROOT / "voice_settings" / "harness" / "README.md"})
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+).*?\1", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _prose(markdown: str) -> str:
    """The text links and headings can be in: not fenced code blocks, not code spans."""
    return FENCE.sub("", markdown)


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading ids: lower case, no punctuation, spaces to hyphens, -1, -2 on repeats."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(_prose(markdown)):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _relative_links(markdown: str) -> list[str]:
    prose = CODE_SPAN.sub("", _prose(markdown))
    return [target for target in LINK.findall(prose)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I)]  # http:, https:, mailto:


def test_the_anchor_rule_matches_github():
    assert _anchors("# Tokens and serve: `token_tool.py`\n## A, b\n## A, b\n") == {
        "tokens-and-serve-token_toolpy", "a-b", "a-b-1"}


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    links = _relative_links(page.read_text(encoding="utf-8"))
    for target in links:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(ROOT)}: ({target})"
        assert resolved.exists(), f"{where}: no such file"
        if anchor and resolved.suffix == ".md":
            headings = _anchors(resolved.read_text(encoding="utf-8"))
            assert anchor in headings, f"{where}: no such heading"


def test_the_link_checker_sees_links():
    assert len(_relative_links(README)) >= 10
    sample = "[a](b.md) `[c](d.md)` [e](https://x) ![f](g.png)\n```\n[h](i.md)\n```\n"
    assert _relative_links(sample) == ["b.md", "g.png"]
