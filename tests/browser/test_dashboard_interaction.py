"""Issue 14 in a real browser: zoom, pan, the shared crosshair, the range in the URL,
gaps, the data-start note, stale tiles, the theme toggle, the favicon and hidden tabs.

The monitor runs from a store seeded with a steady ``cpu_percent`` that has a 10-minute
hole in it, so the 1-hour range has a known gap and a known first sample. Screenshots go
to ``FORESIGHT_SCREENSHOT_DIR`` (default: the test's tmp dir).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import get_json, run_monitor, screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTERVAL_S = 0.5
SEED_START_AGO_S = 40 * 60  # seeded data: 40 to 25 min ago, a hole, then 15 to 5 min ago
GAP_AGO_S = (25 * 60, 15 * 60)
SEED_END_AGO_S = 5 * 60


def _seed(data_dir: Path, now: float) -> None:
    from foresight.store.metric_store import MetricStore

    data_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for ago in range(SEED_START_AGO_S, SEED_END_AGO_S, -5):
        if GAP_AGO_S[1] < ago < GAP_AGO_S[0]:
            continue
        rows.append((now - ago, {"cpu_percent": 50.0}))
    with MetricStore(data_dir / "foresight.db") as store:
        store.append_many(rows)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    """The real monitor on a seeded store; yields (base URL, the seed's 'now')."""
    tmp = tmp_path_factory.mktemp("interaction")
    now = time.time()
    _seed(tmp / "data", now)
    with run_monitor(tmp, interval_s=INTERVAL_S) as base:
        yield base, now


@pytest.fixture
def shot_dir(tmp_path: Path) -> Path:
    return screenshot_dir(tmp_path)


def _open(browser: Any, url: str, errors: list[str], **context: Any) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 900}, **context).new_page()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.goto(url)
    page.wait_for_function(
        "() => window.foresight && foresight.charts.cpu_percent &&"
        " foresight.charts.cpu_percent.data.datasets[0].data.length > 3",
        timeout=20_000,
    )
    return page


def _x_window(page: Any) -> list[list[float]]:
    return page.evaluate(
        "() => Object.values(foresight.charts).map((c) => [c.scales.x.min, c.scales.x.max])"
    )


def _drag(page: Any, key: str, frm: float, to: float, modifier: str | None = None) -> None:
    """Drag across chart ``key`` from fraction ``frm`` to ``to`` of its plot width."""
    canvas = page.locator(f"#chart-{key}")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    area = page.evaluate(f"() => foresight.charts[{key!r}].chartArea")
    y = box["y"] + (area["top"] + area["bottom"]) / 2
    x0 = box["x"] + area["left"] + (area["right"] - area["left"]) * frm
    x1 = box["x"] + area["left"] + (area["right"] - area["left"]) * to
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.move(x0, y)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * i / 10, y)
    page.mouse.up()
    if modifier:
        page.keyboard.up(modifier)


def test_drag_zoom_pan_reload_and_double_click(
    seeded: tuple[str, float], shot_dir: Path, browser: Any
) -> None:
    base, _ = seeded
    errors: list[str] = []
    page = _open(browser, f"{base}/?range=1h", errors)
    page.wait_for_function("() => foresight.range.key === '1h'")
    before = _x_window(page)
    assert len({tuple(w) for w in before}) == 1, "every chart shows the same span"
    (lo, hi) = before[0]
    assert hi - lo >= 3600 * 1000 * 0.99
    step_1h = page.evaluate("() => foresight.range.stepS")

    # Drag-zoom on one chart: every chart follows, fetched again at a finer step.
    _drag(page, "cpu_percent", 0.3, 0.6)
    page.wait_for_function("() => foresight.range.key === 'custom'", timeout=10_000)
    after = _x_window(page)
    assert len({tuple(w) for w in after}) == 1, after[:3]
    zlo, zhi = after[0]
    assert lo < zlo < zhi < hi
    assert 0.2 < (zhi - zlo) / (hi - lo) < 0.4, (zlo, zhi, lo, hi)
    step_zoom = page.evaluate("() => foresight.range.stepS")
    assert step_zoom is None or step_zoom < step_1h, (step_zoom, step_1h)
    url = page.url
    assert "from=" in url and "to=" in url and "range=1h" in url
    page.screenshot(path=str(shot_dir / "zoomed.png"), full_page=True)

    # Shift-drag pans: the span keeps its width and moves earlier.
    _drag(page, "memory_percent", 0.3, 0.6, modifier="Shift")
    page.wait_for_function(f"() => foresight.charts.cpu_percent.scales.x.min < {zlo - 1000}")
    plo, phi = _x_window(page)[0]
    assert abs((phi - plo) - (zhi - zlo)) < 0.05 * (zhi - zlo)
    page.wait_for_function("() => location.href.includes('from=')")
    panned_url = page.url
    assert panned_url != url

    # The range survives a reload through the URL.
    page.reload()
    page.wait_for_function(
        "() => window.foresight && foresight.range.key === 'custom' && foresight.charts.cpu_percent"
    )
    rlo, rhi = _x_window(page)[0]
    assert abs(rlo - plo) <= 1000 and abs(rhi - phi) <= 1000, (rlo, rhi, plo, phi)
    assert page.locator('#range button[aria-checked="true"]').count() == 0

    # Double-click restores the range picked before the zoom (1 hour).
    page.locator("#chart-cpu_percent").dblclick()
    page.wait_for_function("() => foresight.range.key === '1h'", timeout=10_000)
    back = _x_window(page)[0]
    assert back[1] - back[0] >= 3600 * 1000 * 0.99
    assert "from=" not in page.url and "range=1h" in page.url
    assert page.locator('#range button[data-range="1h"]').get_attribute("aria-checked") == "true"
    assert not errors, errors


def test_gap_is_drawn_as_a_gap_and_data_start_is_named(
    seeded: tuple[str, float], shot_dir: Path, browser: Any
) -> None:
    base, now = seeded
    errors: list[str] = []
    page = _open(browser, f"{base}/?range=1h", errors)
    page.wait_for_function("() => foresight.range.key === '1h'")
    gap_ms = (now - sum(GAP_AGO_S) / 2) * 1000
    data_ms = (now - 10 * 60) * 1000  # inside the seeded data after the hole
    # Column of pixels at an instant: how many change when the series is hidden.
    report = page.evaluate(
        """([gapMs, dataMs]) => {
          const chart = foresight.charts.cpu_percent, ds = chart.data.datasets[0];
          const c = chart.canvas, area = chart.chartArea, ratio = chart.currentDevicePixelRatio;
          const column = (ms) => {
            const x = Math.round(chart.scales.x.getPixelForValue(ms) * ratio);
            const h = Math.round((area.bottom - area.top) * ratio);
            return c.getContext("2d").getImageData(x - 1, Math.round(area.top * ratio), 3, h).data;
          };
          const y = chart.options.scales.y, saved = [y.min, y.max];
          y.min = chart.scales.y.min; y.max = chart.scales.y.max;
          const shown = [column(gapMs), column(dataMs)];
          chart.setDatasetVisibility(0, false); chart.update("none");
          const hidden = [column(gapMs), column(dataMs)];
          chart.setDatasetVisibility(0, true); [y.min, y.max] = saved; chart.update("none");
          const diff = (a, b) => { let n = 0; for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++; return n; };
          const nulls = ds.data.filter((p) => p.y === null).map((p) => p.x);
          return {gap: diff(shown[0], hidden[0]), data: diff(shown[1], hidden[1]), nulls,
                  spanGaps: chart.options.spanGaps, status: document.getElementById("range-status").textContent};
        }""",
        [gap_ms, data_ms],
    )
    assert report["spanGaps"] is False
    assert any(abs(x - gap_ms) < 6 * 60 * 1000 for x in report["nulls"]), report["nulls"]
    assert report["data"] > 0, "the line is drawn where there is data"
    assert report["gap"] == 0, "nothing is drawn across the 10-minute hole"
    assert "Data starts at" in report["status"], report["status"]
    page.locator('[data-chart="cpu_percent"]').screenshot(path=str(shot_dir / "gap.png"))

    # A range before any data says so.
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3 * 86400))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 2 * 86400))
    page.goto(f"{base}/?from={start}&to={end}&range=1h")
    page.wait_for_function("() => window.foresight && foresight.range.key === 'custom'")
    page.wait_for_function(
        "() => document.getElementById('range-status').textContent.includes('No data in this range')"
    )
    empty = page.locator("#charts .chart-empty:visible").count()
    assert empty == page.evaluate("() => Object.keys(foresight.charts).length")
    # so do the memory and device charts (system.js), each it has drawn
    page.wait_for_function(
        "() => document.querySelectorAll('.system-panel .chart-empty:not([hidden])').length"
        " === Object.keys(foresight.system.charts).length"
    )
    # A range of days labels its axis with dates (a month name), not just hours.
    labels = page.evaluate(
        "() => foresight.charts.cpu_percent.scales.x.ticks.map((t) => t.label).join(' | ')"
    )
    month = page.evaluate(
        "(ms) => new Intl.DateTimeFormat(undefined, {month: 'short'}).format(new Date(ms))",
        (now - 2.5 * 86400) * 1000,
    )
    assert month in labels, labels
    assert not errors, errors


def test_crosshair_and_tooltip_on_every_chart(
    seeded: tuple[str, float], shot_dir: Path, browser: Any
) -> None:
    base, _ = seeded
    errors: list[str] = []
    page = _open(browser, f"{base}/", errors)
    page.wait_for_timeout(3000)  # a few seconds of live samples on every chart
    canvas = page.locator("#chart-cpu_percent")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    area = page.evaluate("() => foresight.charts.cpu_percent.chartArea")
    # Hover 2 s before the newest point: every metric has a sample there.
    x = page.evaluate(
        """() => { const c = foresight.charts.cpu_percent, d = c.data.datasets[0].data;
                   return c.scales.x.getPixelForValue(d[d.length - 1].x - 2000); }"""
    )
    page.mouse.move(box["x"] + x, box["y"] + (area["top"] + area["bottom"]) / 2)
    page.wait_for_timeout(200)
    # Where each chart drew its line, as a time, and that chart's time per pixel.
    state = page.evaluate(
        """() => Object.entries(foresight.charts).map(([key, c]) => ({key,
             line: c.$crosshairX, tips: c.tooltip.getActiveElements().length,
             at: c.$crosshairX === null ? null : c.scales.x.getValueForPixel(c.$crosshairX),
             msPerPx: (c.scales.x.max - c.scales.x.min) / c.chartArea.width}))"""
    )
    page.screenshot(path=str(shot_dir / "crosshair.png"), full_page=True)
    assert len(state) >= 10
    for chart in state:
        assert chart["line"] is not None, chart
        assert chart["tips"] > 0, chart
    instants = [c["at"] for c in state]
    tolerance = 2 * max(c["msPerPx"] for c in state)
    assert max(instants) - min(instants) <= tolerance, f"one instant on every chart: {state}"
    # "CPU per core" draws the warn/crit lines its header names, after the core series.
    cores = page.evaluate(
        """() => foresight.charts.cpu_cores.data.datasets.map((d) => ({role: d.foresightRole,
             y: d.data.map((p) => p.y), hidden: Boolean(d.hidden)}))"""
    )
    lines = {d["role"]: d for d in cores if d["role"] in ("warning", "critical")}
    assert set(lines) == {"warning", "critical"}, cores
    assert all(
        len(set(d["y"])) == 1 and len(d["y"]) == 2 and not d["hidden"] for d in lines.values()
    )
    assert cores[0]["role"] == "series"
    page.mouse.move(5, 5)  # leaving the chart hides it everywhere
    page.wait_for_timeout(200)
    gone = page.evaluate(
        "() => Object.values(foresight.charts).every((c) => c.$crosshairX === null)"
    )
    assert gone
    assert not errors, errors


def test_theme_toggle_favicon_docs_and_hidden_tab(
    seeded: tuple[str, float], shot_dir: Path, browser: Any
) -> None:
    base, _ = seeded
    errors: list[str] = []
    page = _open(browser, f"{base}/", errors, color_scheme="dark")
    theme = "() => document.documentElement.dataset.theme"
    background = "() => getComputedStyle(document.body).backgroundColor"
    assert page.evaluate(theme) == "dark"  # follows prefers-color-scheme
    dark_bg = page.evaluate(background)
    page.screenshot(path=str(shot_dir / "dark.png"))
    page.click("#theme-toggle")
    assert page.evaluate(theme) == "light"
    assert page.evaluate(background) != dark_bg
    grid = page.evaluate("() => foresight.charts.cpu_percent.options.scales.x.grid.color")
    assert grid.lower() == "#e6e9ed", "the charts are recoloured too"
    page.reload()
    page.wait_for_function("() => window.foresight && foresight.charts.cpu_percent")
    assert page.evaluate(theme) == "light", "the choice is remembered over the system's"
    page.screenshot(path=str(shot_dir / "light.png"))

    # /api/docs: same theme, a way back to the dashboard.
    page.goto(f"{base}/api/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=20_000)
    assert page.evaluate(theme) == "light"
    back = page.locator("#back-to-dashboard")
    assert back.get_attribute("href") == "/"
    page.screenshot(path=str(shot_dir / "api_docs.png"))
    page.click("#theme-toggle")
    assert page.evaluate(theme) == "dark"
    page.screenshot(path=str(shot_dir / "api_docs_dark.png"))
    page.click("#theme-toggle")

    # The favicon: /favicon.ico answers with the SVG, and the page links it.
    icon = page.request.get(f"{base}/favicon.ico")
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in icon.body()
    page.goto(f"{base}/")
    href = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(f"{base}{href}").status == 200

    # A hidden tab sends nothing (headless chromium never hides a tab by itself, so
    # the Page Visibility API is made to say "hidden", as a background tab would).
    page.wait_for_function("() => window.foresight && foresight.charts.cpu_percent")
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
          Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    page.wait_for_timeout(1500)  # requests already under way finish
    seen.clear()
    page.wait_for_timeout(4000)
    assert seen == [], seen
    page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
          Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    page.wait_for_timeout(1500)
    assert any("/api/metrics/realtime" in u for u in seen), "polling resumes when shown"
    assert not errors, errors


def test_bad_ranges_in_the_url_and_the_form_get_a_clear_answer(
    seeded: tuple[str, float], shot_dir: Path, browser: Any
) -> None:
    """A hand-edited URL with an impossible time falls back to its preset (no script
    error, no page stuck on "Loading…"); a range that starts after now, typed or dragged
    in the forecast part of a chart, is refused in words and leaves the view as it was."""
    base, _ = seeded
    errors: list[str] = []
    status = "() => document.getElementById('range-status').textContent"
    page = _open(browser, f"{base}/?from=1e30&to=2e30", errors)
    page.wait_for_function(f"() => ({status})().includes('Live:')")
    assert page.evaluate(status).startswith("Ignored ?from=1e30&to=2e30: needs both, each")
    assert "from=" not in page.url, page.url
    page.goto(f"{base}/?range=1h&from=-5&to=-1")  # not "5 s before now": not epochs
    page.wait_for_function("() => window.foresight && foresight.range.key === '1h'")
    page.wait_for_function(f"() => ({status})().includes('Last hour')")
    # A reversed pair is said to be one (before: the preset, silently), and the
    # page never asks the API for a range that ends before it starts.
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/metrics?" in r.url else None)
    reversed_pair = "from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z"
    page.goto(f"{base}/?{reversed_pair}&range=1h")
    page.wait_for_function(f"() => ({status})().includes('Last hour')")
    assert page.evaluate(status).startswith(
        f"Ignored ?{reversed_pair}: the range ends before it starts. Last hour"
    )
    assert asked and all("until=" not in u for u in asked), asked

    page.fill("#range-from", "2999-01-01T00:00")
    page.fill("#range-to", "2999-01-02T00:00")
    page.click("#range-apply")
    page.wait_for_function(f"() => ({status})().includes('after now')")
    assert page.evaluate("() => foresight.range.key") == "1h"
    assert "from=" not in page.url, page.url
    page.locator(".range-panel").screenshot(path=str(shot_dir / "future_range.png"))

    # A drag right of the "now" line, where only forecasts are drawn.
    page.click('#range button[data-range="5m"]')
    page.wait_for_function("() => foresight.range.key === '5m'")
    before = _x_window(page)[0]
    now_at = page.evaluate(
        """() => { const x = foresight.charts.cpu_percent.scales.x;
                   return (foresight.nowS() * 1000 - x.min) / (x.max - x.min); }"""
    )
    assert now_at < 0.9, now_at  # the live view runs past now, for the forecasts
    _drag(page, "cpu_percent", now_at + 0.3 * (1 - now_at), 0.99)
    page.wait_for_function(f"() => ({status})().includes('after now')")
    assert page.evaluate("() => foresight.range.key") == "5m"
    after = _x_window(page)[0]
    assert abs((after[1] - after[0]) - (before[1] - before[0])) < 5000, (before, after)
    assert "from=" not in page.url, page.url
    assert not errors, errors


def test_decision_colours_are_readable_in_the_light_theme(
    seeded: tuple[str, float], browser: Any
) -> None:
    """The decision log's scale-up/scale-down words keep a 4.5:1 contrast (WCAG AA) on the
    light theme's white panel, as they do on the dark one."""
    base, _ = seeded
    errors: list[str] = []
    for scheme in ("light", "dark"):
        page = _open(browser, f"{base}/", errors, color_scheme=scheme)
        assert page.evaluate("() => document.documentElement.dataset.theme") == scheme
        if scheme == "light":  # one manual decision, made as a user would
            page.wait_for_function(
                "() => document.getElementById('scaling-ready').textContent !== '–'"
            )
            ready = int(page.locator("#scaling-ready").inner_text())
            page.fill("#scaling-instances", "1" if ready > 1 else "2")
            page.click("#scaling-apply")
        cell = page.locator('#scaling-decisions td[class^="action-scale_"]').first
        cell.wait_for()
        # Looked up inside one evaluate: the log is redrawn on every poll.
        ratio = page.evaluate(
            """() => {
              const td = document.querySelector('#scaling-decisions td[class^="action-scale_"]');
              const rgb = (el, prop) => getComputedStyle(el)[prop].match(/[0-9.]+/g).map(Number);
              let bgEl = td, bg = rgb(bgEl, "backgroundColor");
              while (bg.length > 3 && bg[3] === 0 && bgEl.parentElement) {
                bgEl = bgEl.parentElement; bg = rgb(bgEl, "backgroundColor");
              }
              const lum = ([r, g, b]) => {
                const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
              };
              const [a, b] = [lum(rgb(td, "color")), lum(bg)];
              return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            }"""
        )
        assert ratio >= 4.5, (scheme, ratio, cell.inner_text())
    assert not errors, errors


def test_every_tile_and_chart_has_a_name_not_a_metric_key(
    seeded: tuple[str, float], browser: Any
) -> None:
    """Tiles and chart heads read as words ("Connections", "Load score"), never the raw
    key (``active_connections``); the key and the catalog's description are on hover."""
    base, _ = seeded
    errors: list[str] = []
    page = _open(browser, f"{base}/", errors)
    page.wait_for_function(
        "() => document.querySelector('#tiles .tile[data-metric=\"load_score_percent\"]')"
    )
    tiles = page.evaluate(
        """() => [...document.querySelectorAll('#tiles .tile')].map((t) =>
             [t.dataset.metric, t.querySelector('.tile-name').textContent, t.title])"""
    )
    heads = page.evaluate(
        """() => [...document.querySelectorAll('#charts .chart-card')].map((c) =>
             [c.dataset.chart, c.querySelector('.chart-title').textContent,
              c.querySelector('.chart-title').title])"""
    )
    assert {m for m, _, _ in tiles} >= {"active_connections", "load_score_percent"}, tiles
    for metric, name, hover in tiles + heads:
        assert name and name != metric and "_" not in name.replace("_WAIT", ""), (metric, name)
        assert metric.split("@")[0] in hover or "cpu_core" in hover, (metric, hover)
    assert not errors, errors


def test_tiles_grey_and_sample_age_ticks_when_the_server_stops(
    tmp_path: Path, shot_dir: Path, browser: Any
) -> None:
    errors: list[str] = []
    with run_monitor(tmp_path, interval_s=INTERVAL_S) as base:
        assert get_json(f"{base}/api/system/health")["ticks"] >= 2
        page = _open(browser, f"{base}/", errors)
        page.wait_for_selector(".tile.level-ok")
        assert not page.evaluate(
            "() => document.getElementById('tiles').classList.contains('stale')"
        )
        live_filter = page.evaluate(
            "() => getComputedStyle(document.querySelector('.tile')).filter"
        )
        assert "grayscale" not in live_filter
    # The server has stopped (run_monitor's exit); the page keeps running.
    page.wait_for_function(
        "() => document.getElementById('tiles').classList.contains('stale')", timeout=15_000
    )
    tile_filter = page.evaluate("() => getComputedStyle(document.querySelector('.tile')).filter")
    assert "grayscale(1)" in tile_filter, tile_filter
    age = page.locator("#health-age")
    first = age.text_content()
    page.wait_for_timeout(2500)
    second = age.text_content()
    assert "unreachable" in second, second
    assert first != second, "the age keeps counting"
    assert page.locator("#health-status").text_content() == "unreachable"
    page.screenshot(path=str(shot_dir / "stale.png"))
    assert not errors, errors
