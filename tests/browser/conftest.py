"""The browser tests' one Chromium: a ``browser`` fixture each test module gets its own of.

Module scope: the tests of one file share one headless /usr/bin/chromium (launching one
costs seconds on a loaded host), and a browser one file's tests crash or wedge ends with
that file instead of leaking into the next. Whatever pages a test leaves open are closed
after it, so a page still polling its monitor does not load the tests after it. Skips,
saying what to install, when chromium or the playwright package is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import launch_chromium, require_browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless /usr/bin/chromium (a Playwright ``Browser``) for this test module."""
    require_browser()  # before the import: a missing playwright skips, not errors
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, launch_chromium(pw) as chromium:
        yield chromium


@pytest.fixture(autouse=True)
def _close_pages_left_open(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used ``browser``: close the contexts (and pages) it left open."""
    yield
    chromium = request.node.funcargs.get("browser") if hasattr(request.node, "funcargs") else None
    if chromium is not None and chromium.is_connected():
        for context in chromium.contexts:
            context.close()
