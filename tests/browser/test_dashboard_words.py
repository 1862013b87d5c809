"""What the dashboard says against what it shows, each pinned in a real browser.

* The Forecasts panel said "forecast 5 min ahead" (the horizon the live view asks the API
  for, which only picks the model tier) while the live charts draw 90 s of it.
* A past custom range (a zoom, or typed-in from/to) read "Forecast (10-second steps): …"
  under every chart with nothing drawn: such a range has no room right of "now".
* The capacity panel's pool events shared a 260-px scroll box with the instances table,
  so the box cut the list's last line in half.
* The decisions table let a narrow column split words ("fallbac|k-hpa").
* The API probe's 0/1 flag had an axis of 0, 0.5, 1, 1.5 (its tile reads "up").
* Chart notes of five lines under every chart, and twenty resolved alerts above the
  charts, pushed the charts apart and a screen down.
* "No anomalies flagged in the last 24 h" stood under a list of that day's anomaly
  episodes after a restart (single points were kept in memory only; now they are stored
  too, but a store from before that has episodes without points).

One monitor serves them all: a seeded hour of cpu_percent (a live-view model fits at
once), a stored anomaly episode from two hours ago, as a restart leaves them, and six
disk rules the alert test fires and resolves by rewriting their file.
Screenshots go to ``FORESIGHT_SCREENSHOT_DIR`` (default: the test's tmp).
"""

from __future__ import annotations

import time
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

ENV = {"FORECAST_JOB_S": "1", "SCALING_INTERVAL": "2", "SCALING_BOOT_S": "4"}


def _seed(data_dir: Path) -> None:
    """An hour of cpu_percent 5 s apart, and one closed episode from two hours ago."""
    from foresight.store.episodes import Episode, EpisodeMetric, save_episode
    from foresight.store.metric_store import MetricStore

    with MetricStore(seed_cpu_history(data_dir)) as store:
        start = time.time() - 7200.0
        metric = EpisodeMetric("cpu_percent", start, start + 20.0, 0.9, 97.0, 40.0)
        save_episode(store, Episode(None, start, start + 60.0, 0.9, True, (metric,)))


# Six disk rules: LEVEL 0.001 fires them all on any disk, 100.5 resolves them.
DISK_RULES = "rules:\n" + "".join(
    f"  - {{name: Disk{i}, kind: threshold, metric: disk_percent, level: LEVEL, for: 1s,"
    " severity: info}\n"
    for i in range(6)
)


RULES: dict[str, Path] = {}  # the module monitor's base URL -> its rules file


def _write_rules(path: Path, level: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(DISK_RULES.replace("LEVEL", level))
    tmp.replace(path)  # the monitor never reads half a file


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("words")
    _seed(tmp / "data")
    _write_rules(tmp / "rules.yml", "100.5")
    env = {**ENV, "FORESIGHT_ALERT_RULES": str(tmp / "rules.yml")}
    with run_monitor(tmp, extra_env=env) as base:
        RULES[base] = tmp / "rules.yml"
        wait_for(
            lambda: (
                get_json(f"{base}/api/predictions?minutes=5")["forecasts"]["cpu_percent"]["status"]
                == "ok"
            ),
            timeout_s=90,
            what="a cpu_percent model for the live view",
        )
        yield base


# How far past "now" the cpu_percent forecast line is drawn, in seconds (null: none).
DRAWN_AHEAD_S = """() => {
  const c = foresight.charts.cpu_percent;
  const line = c.data.datasets.find((d) => d.foresightRole === "forecast");
  if (!line || !line.data.length) return null;
  return (line.data[line.data.length - 1].x - foresight.nowS() * 1000) / 1000;
}"""


def test_the_forecast_status_names_the_span_the_charts_draw(monitor: str, browser: Any) -> None:
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors)
    page.wait_for_function(f"() => window.foresight && ({DRAWN_AHEAD_S})() !== null")
    ahead_s = page.evaluate(DRAWN_AHEAD_S)
    status = page.inner_text("#forecast-status")
    assert 60 <= ahead_s <= 95, ahead_s  # the live view draws 90 s
    assert "90 s ahead" in status and "5 min ahead" not in status, status
    page.click('#range button[data-range="1h"]')
    page.wait_for_function(
        "() => !document.getElementById('forecast-status').textContent.includes('90 s')",
        timeout=20_000,
    )
    status = page.inner_text("#forecast-status")  # the 1 h view draws 30 min (asks 1 h)
    assert "30 min ahead" in status or "none drawn yet" in status, status
    page.close()
    assert not errors, errors


def test_a_past_custom_range_claims_no_forecast(monitor: str, browser: Any, tmp_path: Path) -> None:
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/?from={iso(now - 1800)}&to={iso(now - 900)}", errors)
    page.wait_for_function(
        "() => document.querySelector('[data-chart=\"cpu_percent\"] .chart-note')"
        "?.textContent.length > 0",
        timeout=30_000,
    )
    page.wait_for_timeout(1_000)  # a second draw (the first fetch answered) changes nothing
    notes = page.locator(".chart-note").all_inner_texts()
    claims = [n for n in notes if n.startswith("Forecast (") or "Forecast drawn" in n]
    assert not claims, claims
    cpu_note = page.inner_text('[data-chart="cpu_percent"] .chart-note')
    assert "5 min, 1 h, 24 h and 7 d ranges only" in cpu_note, cpu_note
    drawn = page.evaluate(
        """() => foresight.charts.cpu_percent.data.datasets
             .filter((d) => d.foresightRole === "forecast" && d.data.length).length"""
    )
    assert drawn == 0
    assert "none drawn on a custom range" in page.inner_text("#forecast-status")
    page.locator('article[data-chart="cpu_percent"]').screenshot(
        path=str(screenshot_dir(tmp_path) / "custom-past-cpu.png")
    )
    page.close()
    assert not errors, errors


# Pixels of the pool-event list hidden by a box around it that clips (0: all of it shows).
EVENTS_CUT_PX = """() => {
  const list = document.getElementById("scaling-events");
  const bottom = list.getBoundingClientRect().bottom;
  let cut = 0;
  for (let el = list.parentElement; el && el !== document.body; el = el.parentElement) {
    if (getComputedStyle(el).overflowY === "visible") continue;
    cut = Math.max(cut, bottom - el.getBoundingClientRect().bottom);
  }
  return cut;
}"""


def test_the_pool_event_list_shows_its_last_line(
    monitor: str, browser: Any, tmp_path: Path
) -> None:
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors, width=900, height=1200)
    page.wait_for_function(
        "() => document.getElementById('scaling-badge').textContent.includes('auto')",
        timeout=15_000,
    )
    top = int(get_json(f"{monitor}/api/scaling/status")["max_instances"])
    page.fill("#scaling-instances", str(top))
    page.click("#scaling-apply")
    # Launches and, 4 s later, their ready events: a list longer than a few lines.
    page.wait_for_function(
        f"() => document.querySelectorAll('#scaling-events li').length >= {min(2 * top - 1, 5)}",
        timeout=30_000,
    )
    page.locator("#capacity-panel").screenshot(
        path=str(screenshot_dir(tmp_path) / "capacity-events.png")
    )
    assert page.evaluate(EVENTS_CUT_PX) <= 0.5
    page.close()
    assert not errors, errors


def test_no_anomalies_line_does_not_deny_the_stored_episodes(monitor: str, browser: Any) -> None:
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors)
    page.wait_for_function("() => document.querySelectorAll('#episode-list li').length > 0")
    page.wait_for_function(
        "() => !document.getElementById('forecast-status').textContent.startsWith('Loading')"
    )
    none = page.locator("#anomaly-none")
    if none.is_visible():  # no stored point (the seeded episode has none)
        text = none.inner_text()
        assert "points" in text and "No anomalies" not in text, text
    page.close()
    assert not errors, errors


# Words of the capacity tables wider than their cell (split mid-word by the table layout).
WORDS_SPLIT = """() => {
  const probe = document.createElement("span");
  probe.style.cssText = "white-space: nowrap; position: absolute; visibility: hidden";
  const split = [];
  for (const td of document.querySelectorAll("#capacity-panel .decision-log td")) {
    const style = getComputedStyle(td);
    probe.style.font = style.font;
    document.body.appendChild(probe);
    const room = td.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    for (const word of td.textContent.split(/[\\s-]+/).filter(Boolean)) {
      probe.textContent = word;
      if (probe.getBoundingClientRect().width > room + 0.5) split.push(word);
    }
    probe.remove();
  }
  return split;
}"""


def test_decision_words_are_not_split_mid_word(monitor: str, browser: Any) -> None:
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors, width=900, height=1200)
    page.wait_for_function(
        "() => document.getElementById('scaling-badge').textContent.includes('auto')",
        timeout=15_000,
    )
    page.fill("#scaling-instances", str(get_json(f"{monitor}/api/scaling/status")["desired"]))
    page.click("#scaling-apply")  # a decision whose rule is "manual-override"
    page.wait_for_function(
        "() => [...document.querySelectorAll('#scaling-decisions td')]"
        ".some((td) => td.textContent.includes('manual-override'))",
        timeout=30_000,
    )
    assert page.evaluate(WORDS_SPLIT) == []
    page.close()
    assert not errors, errors


def test_the_probe_flag_axis_reads_up_and_failing(monitor: str, browser: Any) -> None:
    """api_success is 0 or 1 (its tile says "up"): its axis ran 0, 0.5, 1, 1.5."""
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors)
    page.wait_for_function("() => window.foresight && foresight.charts.api_success")
    page.wait_for_timeout(500)
    axis = page.evaluate(
        """() => { const y = foresight.charts.api_success.scales.y;
                   return {max: y.max, labels: y.ticks.map((t) => t.label)}; }"""
    )
    assert axis == {"max": 1, "labels": ["failing", "up"]}, axis
    page.close()
    assert not errors, errors


# The cpu_percent note: its height in lines, and the lines its whole text needs.
NOTE_LINES = """() => {
  const note = document.querySelector('[data-chart="cpu_percent"] .chart-note');
  const line = parseFloat(getComputedStyle(note).lineHeight);
  return {shown: note.clientHeight / line, needed: note.scrollHeight / line,
          title: note.title, text: note.textContent};
}"""


def test_a_long_chart_note_takes_two_lines_until_clicked(monitor: str, browser: Any) -> None:
    """Five-line accuracy notes under every chart pushed the charts apart."""
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors, width=1280)
    page.wait_for_function(
        "() => document.querySelector('[data-chart=\"cpu_percent\"] .chart-note')"
        "?.textContent.startsWith('Forecast (')",
        timeout=30_000,
    )
    page.evaluate("""() => foresight.setNote("cpu_percent", "A long note. ".repeat(40))""")
    lines = page.evaluate(NOTE_LINES)
    assert lines["needed"] > 2 and lines["shown"] <= 2.05, lines
    assert lines["title"] == lines["text"]  # the whole text on hover
    page.click('[data-chart="cpu_percent"] .chart-note')
    lines = page.evaluate(NOTE_LINES)
    assert lines["shown"] >= lines["needed"] - 0.05, lines
    page.close()
    assert not errors, errors


def _alert_states(base: str) -> list[str]:
    return [
        a["state"]
        for a in get_json(f"{base}/api/alerts?limit=100")["alerts"]
        if a["name"].startswith("Disk")
    ]


def test_resolved_alerts_show_five_until_asked_for_all(monitor: str, browser: Any) -> None:
    """Twenty resolved rows pushed the charts a screen down."""
    rules = RULES[monitor]
    _write_rules(rules, "0.001")
    wait_for(lambda: _alert_states(monitor).count("firing") == 6, 60, "six firing alerts")
    _write_rules(rules, "100.5")
    wait_for(lambda: _alert_states(monitor).count("resolved") == 6, 60, "six resolved alerts")
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors)
    more = page.locator("#alerts-resolved-more")
    more.wait_for(state="visible", timeout=20_000)
    rows = page.locator("#alerts-resolved tbody tr")
    assert rows.count() == 5 and "Show all 6" in more.inner_text()
    more.click()
    assert rows.count() == 6 and more.get_attribute("aria-expanded") == "true"
    page.wait_for_timeout(5_500)  # a poll keeps the choice
    assert rows.count() == 6
    page.close()
    assert not errors, errors


def test_the_per_core_chart_marks_now_and_says_why_no_forecast(monitor: str, browser: Any) -> None:
    """Its axis runs 90 s past now like the others: its lines seemed to stop short."""
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors)
    page.wait_for_function(
        "() => window.foresight?.charts.cpu_cores && document.querySelector("
        "'[data-chart=\"cpu_percent\"] .chart-note')?.textContent.startsWith('Forecast (')",
        timeout=30_000,
    )
    roles = page.evaluate(
        "() => foresight.charts.cpu_cores.data.datasets.map((d) => d.foresightRole)"
    )
    assert "now" in roles and "forecast" not in roles, roles
    note = page.inner_text('[data-chart="cpu_cores"] .chart-note')
    assert note.startswith("No forecast per core"), note
    page.close()
    assert not errors, errors


# Per row of the chart grid, the distinct tops of its plots (one each when aligned).
PLOT_TOPS_BY_ROW = """() => {
  const rows = {};
  for (const card of document.querySelectorAll("#charts .chart-card")) {
    const row = Math.round(card.getBoundingClientRect().top);
    const top = Math.round(card.querySelector(".chart-box").getBoundingClientRect().top);
    (rows[row] ||= new Set()).add(top);
  }
  return Object.values(rows).map((tops) => [...tops]);
}"""


def test_every_plot_of_a_chart_row_starts_at_one_height(monitor: str, browser: Any) -> None:
    """ "API response time" spelled "warn 150 ms · crit 200 ms": its header wrapped."""
    errors: list[str] = []
    page = open_page(browser, f"{monitor}/", errors, width=1280)
    page.wait_for_function("() => window.foresight?.charts.api_response_ms", timeout=30_000)
    tops = page.evaluate(PLOT_TOPS_BY_ROW)
    assert all(len(row) == 1 for row in tops), tops
    meta = page.inner_text('[data-chart="api_response_ms"] .chart-meta')
    assert meta == "warn 150 · crit 200 ms", meta
    page.close()
    assert not errors, errors
