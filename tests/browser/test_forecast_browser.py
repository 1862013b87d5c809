"""Forecasts on the dashboard in headless chromium: band, "now" divider, accuracy note.

Seeds 5 hours of cpu_percent history (5-s samples) into a fresh data dir, starts the real
monitor with the model job every second, waits until the API has fitted cpu_percent
models for the live view's and the 1-hour view's horizons, then checks the page draws
them in both views (right of "now", inside the axis room forecast.js asked for), that
"Show forecasts" hides them, and that a metric without history says it will not guess.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import get_json, run_monitor, screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The cpu_percent chart's forecast line has points, and a "now" divider is drawn.
FORECAST_DRAWN_JS = """() => {
  const c = window.foresight && window.foresight.charts.cpu_percent;
  return Boolean(c) && c.data.datasets.some((d) => d.foresightRole === "forecast"
                                               && d.data.length > 0)
    && c.data.datasets.some((d) => d.foresightRole === "now");
}"""
CPU_ROLES_JS = """() => window.foresight.charts.cpu_percent.data.datasets
                    .map((d) => d.foresightRole)"""


def _seed(data_dir: Path, hours: float = 5.0) -> None:
    """History enough for the 5-minute and 1-hour tiers (the latter needs ~4.4 h)."""
    from foresight.store.metric_store import MetricStore

    now = time.time()
    times = np.arange(now - hours * 3600.0, now - 5.0, 5.0)
    rng = np.random.default_rng(0)
    cpu = 40 + 20 * np.sin(2 * np.pi * times / 7200.0) + rng.normal(0, 2, len(times))
    data_dir.mkdir(parents=True, exist_ok=True)
    with MetricStore(data_dir / "foresight.db") as store:
        store.append_many((float(t), {"cpu_percent": float(v)}) for t, v in zip(times, cpu))


def _wait_for_models(base: str, queries: tuple[str, ...], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    for query in queries:
        while True:
            model = get_json(f"{base}/api/predictions?{query}")["forecasts"]["cpu_percent"]
            if model["status"] == "ok":
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no cpu_percent model for ?{query} within {timeout_s:g} s: {model}")
            time.sleep(0.5)


def test_forecast_band_and_notes_drawn(tmp_path: Path, browser: Any) -> None:
    _seed(tmp_path / "data")
    with run_monitor(tmp_path, extra_env={"FORECAST_JOB_S": "1"}) as base:
        _wait_for_models(base, ("minutes=5", "hours=1"))
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.goto(base)
        page.wait_for_function(FORECAST_DRAWN_JS, timeout=30_000)
        roles = page.evaluate(CPU_ROLES_JS)
        assert roles.count("forecast-band") == 4 and "now" in roles
        cpu_note = page.inner_text('[data-chart="cpu_percent"] .chart-note')
        assert "band" in cpu_note and "repeating" in cpu_note
        memory_note = page.inner_text('[data-chart="memory_percent"] .chart-note')
        assert memory_note.startswith("No forecast yet")
        memory_roles = page.evaluate("""() => window.foresight.charts.memory_percent
                                          .data.datasets.map((d) => d.foresightRole)""")
        assert "forecast" not in memory_roles  # no guess drawn without history
        assert "forecast" in page.inner_text("#forecast-status")
        shots = screenshot_dir(tmp_path)
        page.screenshot(path=str(shots / "forecast.png"), full_page=True)

        # The 1-hour view draws the 1-hour tier's forecast by default too, past "now"
        # and within the axis room forecast.js asked for.
        page.get_by_role("radio", name="1 hour").click()
        page.wait_for_function("() => foresight.range.key === '1h'", timeout=10_000)
        page.wait_for_function(
            f"""() => ({FORECAST_DRAWN_JS})() && /1-minute steps/.test(
            document.querySelector('[data-chart="cpu_percent"] .chart-note').textContent)""",
            timeout=30_000,
        )
        view = page.evaluate("""() => {
            const c = foresight.charts.cpu_percent;
            const f = c.data.datasets.find((d) => d.foresightRole === "forecast");
            return {until: foresight.range.untilS, future: foresight.futureS(),
                    xmax: c.scales.x.max, first: f.data[0].x, last: f.data.at(-1).x};
        }""")
        until_ms, future_ms = view["until"] * 1000, view["future"] * 1000
        assert future_ms > 0
        assert view["xmax"] <= until_ms + future_ms + 1
        assert until_ms - 120_000 <= view["first"] and view["last"] > until_ms, view
        assert view["last"] <= until_ms + future_ms + 1, view
        page.screenshot(path=str(shots / "forecast-1h.png"), full_page=True)

        # Unticking "Show forecasts" removes them and gives the axis back to history.
        page.uncheck("#forecast-show")
        page.wait_for_function("() => foresight.futureS() === 0", timeout=5_000)
        assert "forecast" not in page.evaluate(CPU_ROLES_JS)
        assert page.inner_text('[data-chart="cpu_percent"] .chart-note').startswith(
            "Forecast hidden"
        )
