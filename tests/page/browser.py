"""Debian's chromium driven by Playwright for the settings page tests, and the page served by
the real token server on 127.0.0.1; skipped (with the reason) where either is missing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image  # matplotlib's dependency (the lab extra, in the test extra)

ROOT = Path(__file__).resolve().parents[2]
# The panels' pictures for docs/settings-page.md: regenerated with
# `PAGE_SCREENSHOTS_DIR=docs/images .venv/bin/python -m pytest tests/page`; other runs write them
# to a temporary directory, so a test run leaves the work tree as it was.
IMAGES = Path(os.environ.get("PAGE_SCREENSHOTS_DIR") or tempfile.mkdtemp(prefix="page-pictures-"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium, one per test module."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).is_file():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield browser
        finally:
            browser.close()


class Console:
    """Every console error and uncaught exception of a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def script_errors(self, *expected_statuses: int) -> list[str]:
        """The errors, less Chromium's line for each HTTP status the test itself provoked."""
        expected = [f"status of {status}" for status in expected_statuses]
        return [e for e in self.errors
                if not (e.startswith("Failed to load resource") and any(s in e for s in expected))]


def open_page(browser: Any, base: str, width: int = 1280) -> tuple[Any, Console]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    console = Console(page)
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready=true]")
    return page, console


MAX_PICTURE_HEIGHT = 1000


def screenshot(page: Any, panel: str, name: str) -> Path:
    """The panel's picture for the docs, small: the top of one panel, at the page's scale."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / name
    box = page.locator(f"#{panel}").evaluate("""e => { const r = e.getBoundingClientRect();
        return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; }""")
    page.screenshot(path=str(path), full_page=True, animations="disabled", clip={
        "x": box["x"], "y": box["y"], "width": box["width"],
        "height": min(box["height"], MAX_PICTURE_HEIGHT)})
    with Image.open(path) as picture:  # 64 colours: a page, not a photo; a third of the bytes
        picture.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path, optimize=True)
    return path
