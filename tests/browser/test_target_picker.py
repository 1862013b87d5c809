"""The target picker: series of another target (here pushed) are one choice away."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import get_json, launch_chromium, run_monitor
from browser_support import push_samples as push

pytestmark = [pytest.mark.browser, pytest.mark.slow]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_picking_a_target_shows_its_series(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with run_monitor(tmp_path, interval_s=0.5) as base:
        now = time.time()
        rows = [
            {
                "timestamp": now - 100 + i,
                "target": "web-1",
                "metric": "requests_per_s",
                "value": 10.0 + i % 7,
            }
            for i in range(100)
        ]
        assert push(base, rows)["stored"] == 100
        assert get_json(f"{base}/api/metrics")["targets"]["requests_per_s"] == ["web-1"]
        errors: list[str] = []
        with sync_playwright() as pw, launch_chromium(pw) as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.goto(f"{base}/")
            page.wait_for_function(
                "() => window.foresight && Object.keys(window.foresight.charts).length > 3"
            )
            assert "requests_per_s" not in page.evaluate("Object.keys(window.foresight.charts)")
            picker = page.locator("#target")
            page.wait_for_selector("#target-picker:not([hidden])")
            assert picker.locator("option").all_inner_texts() == ["this host", "web-1"]
            with page.expect_navigation():
                picker.select_option("web-1")
            assert page.url.endswith("?target=web-1")
            page.wait_for_function(
                "() => window.foresight && window.foresight.charts.requests_per_s"
                " && window.foresight.charts.requests_per_s.data.datasets[0].data.length >= 90"
            )
            charts = page.evaluate("Object.keys(window.foresight.charts)")
            assert charts == ["requests_per_s"], charts  # only web-1's series
            assert page.locator("#target").input_value() == "web-1"
        assert not errors, errors
