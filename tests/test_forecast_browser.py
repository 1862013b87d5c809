"""Forecasts on the live dashboard in headless chromium: band, "now" divider, accuracy note.

Seeds 3 hours of cpu_percent history (5-s samples) into a fresh data dir, starts the real
monitor with the model job every second, waits until the API has a fitted cpu_percent
model for the live view's horizon, then checks the page drew it and says, for a metric
without history, that it will not guess.
"""
from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from test_browser import _run_monitor  # the shared way to start the real monitor

pytestmark = [pytest.mark.browser, pytest.mark.slow]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _seed(data_dir: Path, hours: float = 3.0) -> None:
    from storage import MetricStore
    now = time.time()
    times = np.arange(now - hours * 3600.0, now - 5.0, 5.0)
    rng = np.random.default_rng(0)
    cpu = 40 + 20 * np.sin(2 * np.pi * times / 7200.0) + rng.normal(0, 2, len(times))
    data_dir.mkdir(parents=True, exist_ok=True)
    with MetricStore(data_dir / "foresight.db") as store:
        store.append_many((float(t), {"cpu_percent": float(v)}) for t, v in zip(times, cpu))


def test_forecast_band_and_notes_drawn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import sync_playwright

    _seed(tmp_path / "data")
    monkeypatch.setenv("FORECAST_JOB_S", "1")
    with _run_monitor(tmp_path) as base:
        deadline = time.monotonic() + 60
        while True:
            with _OPENER.open(f"{base}/api/predictions?minutes=5", timeout=5) as resp:
                body = json.loads(resp.read())
            if body["forecasts"]["cpu_percent"]["status"] == "ok":
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no cpu_percent model within 60 s: {body['forecasts']['cpu_percent']}")
            time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(base)
            page.wait_for_function("""() => {
                const c = window.foresight && window.foresight.charts.cpu_percent;
                return c && c.data.datasets.some((d) => d.foresightRole === "forecast"
                                                        && d.data.length > 0);
            }""", timeout=30_000)
            roles = page.evaluate("""() => window.foresight.charts.cpu_percent.data.datasets
                                       .map((d) => d.foresightRole)""")
            assert roles.count("forecast-band") == 4 and "now" in roles
            cpu_note = page.inner_text('[data-chart="cpu_percent"] .chart-note')
            assert "band" in cpu_note and "repeating" in cpu_note
            memory_note = page.inner_text('[data-chart="memory_percent"] .chart-note')
            assert memory_note.startswith("No forecast yet")
            memory_roles = page.evaluate("""() => window.foresight.charts.memory_percent
                                              .data.datasets.map((d) => d.foresightRole)""")
            assert "forecast" not in memory_roles  # no guess drawn without history
            assert "forecast" in page.inner_text("#forecast-status")
            shots = Path(os.environ.get("FORESIGHT_SCREENSHOT_DIR") or tmp_path)
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "forecast.png"), full_page=True)
            browser.close()
