"""The live dashboard in a real browser: Debian's headless chromium driven by Playwright.

Starts the real monitor (``main.py --monitor --interval 0.5``) as a subprocess on a free
loopback port, opens the page, waits for data, checks every chart has drawn points,
switches the range, runs and cancels a stress test, and saves screenshots
(``FORESIGHT_SCREENSHOT_DIR`` overrides where; default the test's tmp dir).

Never runs ``playwright install``: it launches /usr/bin/chromium (``make test`` installs
Debian's chromium when missing) and skips with a message when it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import get_json, run_monitor, screenshot_dir

INTERVAL_S = 0.5

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real monitor (no token) on a free port; yields its base URL."""
    with run_monitor(tmp_path_factory.mktemp("browser"), interval_s=INTERVAL_S) as base:
        yield base


@pytest.fixture
def shot_dir(tmp_path: Path) -> Path:
    return screenshot_dir(tmp_path)


# For every chart: points in dataset 0, painted pixels (is the canvas blank?) and how many
# pixels change when dataset 0 is hidden with the y axis held still (is it drawn?).
CHART_REPORT_JS = """() => Object.entries(window.foresight.charts).map(([key, chart]) => {
  const c = chart.canvas;
  const snap = () => c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const shown = snap();
  const y = chart.options.scales.y, saved = [y.min, y.max];
  y.min = chart.scales.y.min; y.max = chart.scales.y.max;
  chart.setDatasetVisibility(0, false); chart.update("none");
  const hidden = snap();
  chart.setDatasetVisibility(0, true); [y.min, y.max] = saved; chart.update("none");
  let painted = 0, line = 0;
  for (let i = 0; i < shown.length; i += 4) {
    if (shown[i + 3] !== 0) painted += 1;
    if (shown[i] !== hidden[i] || shown[i + 1] !== hidden[i + 1] || shown[i + 2] !== hidden[i + 2]
        || shown[i + 3] !== hidden[i + 3]) line += 1;
  }
  return {key, points: chart.data.datasets[0].data.length, painted, line,
          same: Chart.getChart(c) === chart, xmin: chart.scales.x.min, xmax: chart.scales.x.max};
})"""

ALL_CHARTS_HAVE_POINTS_JS = """(minCharts) => {
  const f = window.foresight;
  if (!f || Object.keys(f.charts).length < minCharts) return false;
  return Object.values(f.charts).every((c) => c.data.datasets[0] && c.data.datasets[0].data.length > 0);
}"""


def test_dashboard_live_charts_range_and_stress(server: str, shot_dir: Path, browser: Any) -> None:
    health = get_json(f"{server}/api/system/health")
    cpu_count = int(health["host"]["cpu_count"])
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.goto(f"{server}/")

    # 1. Data arrives: every chart (one per metric, one for all cores) has points,
    # and a line in its colour is painted on the canvas.
    page.wait_for_function(ALL_CHARTS_HAVE_POINTS_JS, arg=12, timeout=15_000)
    page.wait_for_timeout(1500)  # a few live polls
    report = page.evaluate(CHART_REPORT_JS)
    keys = {r["key"] for r in report}
    assert {
        "cpu_percent",
        "cpu_cores",
        "memory_percent",
        "disk_percent",
        "net_recv_bytes_per_s",
        "api_response_ms",
        "db_query_ms",
    } <= keys
    for r in report:
        assert r["same"], f"{r['key']}: canvas is not bound to its Chart"
        assert r["points"] > 0, f"{r['key']}: no points"
        assert r["painted"] > 1000, f"{r['key']}: blank canvas ({r})"
        # a flat line over a few seconds of a 5-minute axis is only a few pixels
        assert r["line"] >= 3, f"{r['key']}: its series is not drawn ({r})"
    # live window: the last 5 minutes
    cpu = next(r for r in report if r["key"] == "cpu_percent")
    assert 290_000 <= cpu["xmax"] - cpu["xmin"] <= 400_000
    tiles = page.locator("#tiles .tile")
    assert tiles.count() >= 12
    assert page.locator("#health-status").inner_text().startswith("sampler ")
    assert page.locator("#host-cpus").inner_text() == str(cpu_count)
    page.screenshot(path=str(shot_dir / "dashboard-1280.png"), full_page=True)

    # 2. The extension hooks fire (forecast.js / scaling.js rely on them).
    page.evaluate("""() => { window.__ticks = 0; window.__ranges = [];
        foresight.onTick.push(() => { window.__ticks += 1; });
        foresight.onRangeChange.push((info) => window.__ranges.push(info.range.key)); }""")
    page.wait_for_function("() => window.__ticks >= 2", timeout=5_000)

    # 3. Range selector: 1 hour is read from the store, downsampled.
    charts_before = page.evaluate("() => Object.keys(foresight.charts).length")
    page.get_by_role("radio", name="1 hour").click()
    page.wait_for_function("() => window.__ranges.includes('1h')", timeout=10_000)
    rng = page.evaluate("() => foresight.range")
    assert rng["key"] == "1h" and rng["live"] is False
    assert 3500 <= rng["untilS"] - rng["sinceS"] <= 3700
    report = page.evaluate(CHART_REPORT_JS)
    assert len(report) == charts_before  # charts are reused, not recreated
    # The x axis is that hour of history plus the room forecast.js asked for right of
    # "now": forecasts show by default in every range view, not only the live one.
    future_s = page.evaluate("() => foresight.futureS()")
    assert 0 < future_s <= 3600, future_s
    until_ms = rng["untilS"] * 1000
    # A fresh store holds seconds of that hour: the axis starts at its first sample
    # (dashboard_range.js shortStart), not a sliver at the right edge.
    assert rng["axisSinceS"] is not None and rng["axisSinceS"] > rng["sinceS"], rng
    for r in report:
        assert 0 < r["points"] <= 360, r
        assert abs(r["xmin"] - rng["axisSinceS"] * 1000) <= 1, r
        assert until_ms <= r["xmax"] <= until_ms + future_s * 1000 + 1, r
    assert page.get_by_role("radio", name="1 hour").get_attribute("aria-checked") == "true"
    page.get_by_role("radio", name="5 min (live)").click()
    page.wait_for_function(
        "() => window.__ranges.at(-1) === '5m' && foresight.range.live", timeout=10_000
    )

    # 4. Stress test: start from the page, see it running and the CPU chart move.
    burn_cores = min(2, cpu_count)
    page.get_by_label("Seconds").fill("20")
    page.get_by_label("Cores").fill(str(burn_cores))
    started_ms = page.evaluate("() => foresight.nowS() * 1000")
    page.get_by_role("button", name="Start").click()
    page.wait_for_function(
        "() => /Burning \\d+ cores?, \\d+ s left/.test(document.querySelector('#stress-status').textContent)",
        timeout=10_000,
    )
    assert get_json(f"{server}/api/stress-test")["running"] is True
    # new CPU points after the start, and the burn shows in them
    floor = 50.0 * burn_cores / cpu_count
    page.wait_for_function(
        """([t0, floor]) => {
          const d = foresight.charts.cpu_percent.data.datasets[0].data;
          return d.filter((p) => p.x > t0 + 1000).some((p) => p.y >= floor);
        }""",
        arg=[started_ms, floor],
        timeout=15_000,
    )
    assert page.locator("#stress-error").is_hidden()
    page.screenshot(path=str(shot_dir / "dashboard-stress.png"), full_page=True)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_function(
        "() => document.querySelector('#stress-status').textContent.startsWith('Idle')",
        timeout=10_000,
    )
    assert get_json(f"{server}/api/stress-test")["running"] is False

    assert not errors, errors
    # 5. A bad request shows the server's error in the page (chromium logs the
    # 400 response as a console error, which is expected from here on).
    page.get_by_label("Seconds").fill("500")
    page.evaluate("() => document.querySelector('#stress-seconds').removeAttribute('max')")
    page.get_by_role("button", name="Start").click()
    page.wait_for_function("() => !document.querySelector('#stress-error').hidden", timeout=5_000)
    assert "400" in page.locator("#stress-error").inner_text()
    assert "seconds" in page.locator("#stress-error").inner_text()

    # 6. Narrow screens: no horizontal scrolling.
    page.set_viewport_size({"width": 760, "height": 900})
    page.wait_for_timeout(500)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"page scrolls sideways by {overflow}px at 760px"
    page.screenshot(path=str(shot_dir / "dashboard-760.png"), full_page=True)
    unexpected = [e for e in errors if "status of 400" not in e]
    assert not unexpected, unexpected
    print(f"screenshots in {shot_dir}")


def test_token_is_asked_for_and_used(tmp_path: Path, browser: Any) -> None:
    """With FORESIGHT_TOKEN set, Start fails with 401 until the token is pasted."""
    token = "s3cret-browser-token"
    with run_monitor(tmp_path, token=token, interval_s=INTERVAL_S) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/")
        assert page.locator("#token-box").is_visible()
        page.get_by_label("Seconds").fill("5")
        page.get_by_label("Cores").fill("1")
        page.get_by_role("button", name="Start").click()
        page.wait_for_function(
            "() => !document.querySelector('#stress-error').hidden", timeout=5_000
        )
        assert "401" in page.locator("#stress-error").inner_text()
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Use token").click()
        assert page.evaluate("() => sessionStorage.getItem('foresight.token')") == token
        page.get_by_role("button", name="Start").click()
        page.wait_for_function(
            "() => document.querySelector('#stress-status').textContent.startsWith('Burning')",
            timeout=10_000,
        )
        assert page.locator("#stress-error").is_hidden()
        page.get_by_role("button", name="Cancel").click()
        page.wait_for_function(
            "() => document.querySelector('#stress-status').textContent.startsWith('Idle')",
            timeout=10_000,
        )
