"""Defects a user saw on the dashboard's charts, each pinned in a real browser.

* Alert shading: two rules firing together on one metric (LoadCareful and LoadHigh on
  load1 do on any busy host) used to be drawn as one dataset whose x went backwards, so
  Chart.js filled odd triangles. The shading is now, per severity, the union of the
  episodes: sorted by time, from the lowest threshold firing at each instant.

The rules are written by the test (disk_percent below any usage), so nothing depends on
the host's load. Screenshots go to ``FORESIGHT_SCREENSHOT_DIR`` (default: the test's tmp).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import get_json, launch_chromium, open_page, run_monitor, screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OVERLAPPING_RULES = """
rules:
  - {name: DiskHigh, kind: threshold, metric: disk_percent, level: 0.002, for: 1s,
     severity: warning}
  - {name: DiskCareful, kind: threshold, metric: disk_percent, level: 0.001, for: 3s,
     severity: warning}
"""
QUIET = {"FORESIGHT_LIVE_MODELS": "0", "FORESIGHT_LIVE_SCALING": "0"}

ALERT_BANDS = """() => (foresight.charts.disk_percent?.data.datasets || [])
  .filter((d) => d.foresightRole === 'alert')
  .map((d) => ({severity: d.alertSeverity, points: d.data.map((p) => [p.x, p.y])}))"""


def test_overlapping_alerts_shade_one_sorted_band_from_the_lowest_threshold(
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    rules = tmp_path / "rules.yml"
    rules.write_text(OVERLAPPING_RULES)
    env = {**QUIET, "FORESIGHT_ALERT_RULES": str(rules)}
    errors: list[str] = []
    with (
        run_monitor(tmp_path, extra_env=env) as base,
        sync_playwright() as pw,
        launch_chromium(pw) as browser,
    ):
        page = open_page(browser, f"{base}/", errors)
        page.locator('#alerts-active tr[data-alert="DiskCareful"].state-firing').wait_for(
            timeout=30_000
        )
        page.locator('#alerts-active tr[data-alert="DiskHigh"].state-firing').wait_for()
        page.wait_for_function(f"() => ({ALERT_BANDS})().length > 0", timeout=15_000)
        page.wait_for_timeout(6_000)  # the page polls alerts every 5 s: both are drawn
        fired = {
            a["name"]: a["fired_at"] * 1000
            for a in get_json(f"{base}/api/alerts?state=firing")["alerts"]
        }
        bands = page.evaluate(ALERT_BANDS)
        page.locator('article[data-chart="disk_percent"]').screenshot(
            path=str(screenshot_dir(tmp_path) / "alert-band-disk_percent.png")
        )
    xs = [x for b in bands for x, _ in b["points"]]
    assert xs == sorted(xs), f"the band's x goes backwards (Chart.js fills triangles): {xs}"
    assert [b["severity"] for b in bands] == ["warning"], bands  # one per severity
    assert None not in [y for _, y in bands[0]["points"]]  # one unbroken episode
    # DiskHigh (0.002) fired first, DiskCareful (0.001) two seconds later: the band steps
    # down to the lower threshold when it fires, and runs on to "now".
    high, careful = fired["DiskHigh"], fired["DiskCareful"]
    assert high < careful, fired
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = bands[0]["points"]
    assert (x0, y0, y1) == (pytest.approx(high), 0.002, 0.002), bands
    assert (x1, x2, y2) == (pytest.approx(careful), pytest.approx(careful), 0.001), bands
    assert y3 == 0.001 and x3 >= careful, bands
    assert not errors, errors
