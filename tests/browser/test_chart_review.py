"""Defects a user saw on the dashboard's charts, each pinned in a real browser.

* Alert shading: two rules firing together on one metric (LoadCareful and LoadHigh on
  load1 do on any busy host) used to be drawn as one dataset whose x went backwards, so
  Chart.js filled odd triangles. The shading is now, per severity, the union of the
  episodes: sorted by time, from the lowest threshold firing at each instant.
* Forecasts: fetched every 15 s and anchored at their job's newest sample, the line and
  bands started left of the "now" divider (which moves every tick), over the actuals.
* Axis labels: the 5-minute view's whole-minute ticks read "8:04:00 PM" on the memory,
  device and capacity charts (their span is just under 6 min), "8:04 PM" beside them.

One monitor serves them all: a seeded hour of cpu_percent (so a forecast model fits at
once) and rules written by the test (disk_percent below any usage), so nothing depends on
the host's load. Screenshots go to ``FORESIGHT_SCREENSHOT_DIR`` (default: the test's tmp).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    get_json,
    open_page,
    run_monitor,
    screenshot_dir,
    seed_cpu_history,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OVERLAPPING_RULES = """
rules:
  - {name: DiskHigh, kind: threshold, metric: disk_percent, level: 0.002, for: 1s,
     severity: warning}
  - {name: DiskCareful, kind: threshold, metric: disk_percent, level: 0.001, for: 3s,
     severity: warning}
"""
ENV = {"FORESIGHT_LIVE_SCALING": "0", "FORECAST_JOB_S": "1"}

ALERT_BANDS = """() => (foresight.charts.disk_percent?.data.datasets || [])
  .filter((d) => d.foresightRole === 'alert')
  .map((d) => ({severity: d.alertSeverity, points: d.data.map((p) => [p.x, p.y])}))"""


def _seed(data_dir: Path, hours: float = 1.0) -> None:
    """An hour of cpu_percent and memory_percent, 5 s apart (the live view's model needs
    far less; the zoom test needs a second chart with history)."""
    seed_cpu_history(data_dir, hours, memory_percent=30.0)


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The real monitor (seeded, the test's rules); yields (base URL, its tmp dir)."""
    tmp = tmp_path_factory.mktemp("review")
    _seed(tmp / "data")
    rules = tmp / "rules.yml"
    rules.write_text(OVERLAPPING_RULES)
    with run_monitor(tmp, extra_env={**ENV, "FORESIGHT_ALERT_RULES": str(rules)}) as base:
        yield base, tmp


def test_overlapping_alerts_shade_one_sorted_band_from_the_lowest_threshold(
    monitor: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    base, _ = monitor
    errors: list[str] = []
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
    page.close()
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


FORECAST_START = """() => {
  const c = foresight.charts.cpu_percent;
  if (!c) return null;
  const divider = c.data.datasets.find((d) => d.foresightRole === "now");
  const drawn = c.data.datasets.filter((d) => ["forecast", "forecast-band"].includes(d.foresightRole)
                                              && d.data.length);
  if (!divider || !drawn.length) return null;
  return {now: divider.data[0].x, starts: drawn.map((d) => [d.label, d.data[0].x])};
}"""


def test_forecast_lines_and_bands_start_at_the_now_divider(
    monitor: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    base, _ = monitor
    wait_for(
        lambda: (
            get_json(f"{base}/api/predictions?minutes=5")["forecasts"]["cpu_percent"]["status"]
            == "ok"
        ),
        timeout_s=90,
        what="a cpu_percent model for the live view",
    )
    errors: list[str] = []
    page = open_page(browser, f"{base}/", errors)
    page.wait_for_function(f"() => window.foresight && ({FORECAST_START})() !== null")
    for _ in range(3):  # right after a draw, and after live ticks moved the divider on
        page.wait_for_timeout(2_500)
        view = page.evaluate(FORECAST_START)
        early = [(label, view["now"] - x) for label, x in view["starts"] if x < view["now"] - 1]
        assert not early, f"drawn before the now divider (label, ms before): {early}"
    page.locator('article[data-chart="cpu_percent"]').screenshot(
        path=str(screenshot_dir(tmp_path) / "forecast-from-now.png")
    )
    page.close()
    assert not errors, errors


# Every tick label of a chart, with the spacing of its ticks in ms.
TICKS = """(which) => {
  const c = which === "memory" ? foresight.system.charts.memory : foresight.charts[which];
  const t = c.scales.x.ticks;
  return {labels: t.map((k) => k.label), step: t.length > 1 ? t[1].value - t[0].value : null};
}"""


def test_whole_minute_ticks_have_no_seconds(monitor: tuple[str, Path], browser: Any) -> None:
    base, _ = monitor
    errors: list[str] = []
    page = open_page(browser, f"{base}/", errors)
    page.wait_for_function(
        "() => window.foresight && foresight.charts.cpu_percent && foresight.system"
        " && foresight.system.charts.memory"
    )
    page.wait_for_timeout(1_500)
    for which in ("cpu_percent", "memory"):
        ticks = page.evaluate(TICKS, which)
        assert ticks["step"] >= 60_000, ticks  # the live 5 minutes: whole-minute steps
        with_seconds = [label for label in ticks["labels"] if label.count(":") > 1]
        assert not with_seconds, f"{which}: seconds on whole-minute ticks: {ticks}"
    page.close()
    assert not errors, errors


# {chart: [y tick labels]} of every History chart and every system-panel chart.
Y_LABELS = """() => {
  const all = {...foresight.charts};
  for (const [k, c] of Object.entries(foresight.system.charts)) all[`system ${k}`] = c;
  return Object.fromEntries(Object.entries(all).map(([k, c]) => [k, c.scales.y.ticks.map((t) => t.label)]));
}"""


def test_no_two_y_ticks_of_a_chart_read_alike(monitor: tuple[str, Path], browser: Any) -> None:
    """A day of 2020 holds no data: the byte axes run 0..1 in half steps, which read
    "0 B/s", "1 B/s", "1 B/s" (formatBytes rounds 0.5 up)."""
    base, _ = monitor
    errors: list[str] = []
    page = open_page(browser, f"{base}/?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z", errors)
    page.wait_for_function(
        "() => window.foresight && foresight.range.key === 'custom'"
        " && foresight.charts.disk_read_bytes_per_s && foresight.system.charts.memory"
    )
    page.wait_for_timeout(1_000)
    labels = page.evaluate(Y_LABELS)
    alike = {chart: ticks for chart, ticks in labels.items() if len(set(ticks)) < len(ticks)}
    assert not alike, f"y ticks that read alike: {alike}"
    assert labels["disk_read_bytes_per_s"] == ["0 B/s", "0.5 B/s", "1 B/s"], labels
    page.close()
    assert not errors, errors


# Count each History chart's draws and the live ticks for 8 s (no mouse: no crosshair).
DRAWS = """async () => {
  const counts = {};
  for (const [k, c] of Object.entries(foresight.charts)) {
    const draw = c.draw.bind(c);
    counts[k] = 0;
    c.draw = () => { counts[k] += 1; draw(); };
  }
  let ticks = 0;
  foresight.onTick.push(({live}) => { if (live) ticks += 1; });
  await new Promise((resolve) => setTimeout(resolve, 8000));
  return {ticks, counts};
}"""


def test_a_live_tick_draws_each_chart_once(monitor: tuple[str, Path], browser: Any) -> None:
    """forecast.js moved its "now" divider with an update() of its own after the
    dashboard's: every chart was drawn twice a second."""
    base, _ = monitor
    errors: list[str] = []
    page = open_page(browser, f"{base}/", errors)
    page.wait_for_function(f"() => window.foresight && ({FORECAST_START})() !== null")
    seen = page.evaluate(DRAWS)
    page.close()
    ticks = seen["ticks"]
    assert ticks >= 5, seen  # a 0.5-s monitor: about 16 ticks in 8 s
    # one draw per tick, plus in 8 s at most one forecast refresh (every 15 s) and two
    # alert polls (every 5 s) of a chart that carries them; twice a tick was ~16 more
    too_many = {k: n for k, n in seen["counts"].items() if n > ticks + 4}
    assert not too_many, f"draws in {ticks} ticks: {too_many}"
    assert not errors, errors


# What a range load does (static/js/dashboard.js loadRange): fill every chart with the
# new range's points, then update the charts one by one. Here memory_percent gets twice
# its points, then cpu_percent (under the mouse) is updated first.
REFILL = """() => {
  const memory = foresight.charts.memory_percent.data.datasets[0];
  const more = [];
  memory.data.forEach((p, i, all) => {
    more.push(p);
    const next = all[i + 1];
    if (next && p.y !== null && next.y !== null) more.push({x: (p.x + next.x) / 2, y: p.y});
  });
  memory.data = more;
  try { foresight.charts.cpu_percent.update("none"); } catch (err) { return String(err); }
  foresight.update();
  return null;
}"""


def test_a_range_load_under_the_mouse_does_not_throw(
    monitor: tuple[str, Path], browser: Any
) -> None:
    """A drag-zoom from the 1-hour view to raw samples failed with "Could not load
    history: Cannot read properties of undefined (reading 'x')": updating the chart under
    the mouse replays the mouse, and the shared crosshair set the tooltip of charts not
    yet updated at an index past their old, shorter data (Chart.js threw)."""
    base, _ = monitor
    errors: list[str] = []
    page = open_page(browser, f"{base}/?range=1h", errors)
    page.wait_for_function(
        "() => window.foresight && foresight.range.key === '1h' && foresight.charts.cpu_percent"
        " && foresight.charts.memory_percent.data.datasets[0].data.length > 100"
    )
    canvas = page.locator("#chart-cpu_percent")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    # over the last quarter of the history (the axis runs 30 min past now)
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] * 0.62, box["y"] + box["height"] / 2)
    thrown = page.evaluate(REFILL)
    page.close()
    assert thrown is None, thrown
    assert not errors, errors


def test_the_tooltip_at_now_shows_the_series_not_the_divider(
    monitor: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    """Chart.js's "nearest" mode picked the "now" divider's two points under the mouse:
    the tooltip read "now: 0.0 %" and "now: 100.0 %" instead of the CPU."""
    base, _ = monitor
    errors: list[str] = []
    page = open_page(browser, f"{base}/", errors)
    page.wait_for_function(f"() => window.foresight && ({FORECAST_START})() !== null")
    canvas = page.locator("#chart-cpu_percent")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    px, py = page.evaluate(
        """() => { const c = foresight.charts.cpu_percent;
                   const now = c.data.datasets.find((d) => d.foresightRole === "now");
                   return [c.scales.x.getPixelForValue(now.data[0].x),
                           (c.chartArea.top + c.chartArea.bottom) / 2]; }"""
    )
    page.mouse.move(box["x"] + px - 30, box["y"] + py)
    page.mouse.move(box["x"] + px, box["y"] + py)
    page.wait_for_timeout(300)
    shown = page.evaluate(
        """() => foresight.charts.cpu_percent.tooltip.dataPoints
                 .map((p) => [p.dataset.foresightRole, p.dataset.label])"""
    )
    page.locator('article[data-chart="cpu_percent"]').screenshot(
        path=str(screenshot_dir(tmp_path) / "tooltip-now.png")
    )
    page.close()
    assert shown and all(role == "series" for role, _ in shown), shown
    assert not errors, errors
