"""The dashboard with a store that has a past: alerts from before a restart, a gap in the
data, a long resolved history, and less history than the range asks for.

One monitor on a seeded store (two hours of cpu_percent; disk_percent from two hours
ago until twenty minutes ago, then the live samples: a twenty-minute gap; one alert
firing on disk_percent since before the gap; 130 resolved alerts, one whose summary
holds an ISO 8601 UTC time as the `{when}` of forecast and exhaustion rules renders it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import get_json, run_monitor, seed_cpu_history

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RESOLVED = 130  # more than the panel's poll holds (100) and many pages of 25
GAP_S = (1200.0, 7200.0)  # disk_percent seeded from 2 h ago until 20 min ago
FIRED_AGO_S = 1800.0  # the firing alert: since 30 min ago, across the gap
ZONE = "America/New_York"
RULES = """rules:
  - {name: DiskAny, kind: threshold, metric: disk_percent, level: 0.001, severity: warning}
"""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seed(data_dir: Path, now: float) -> None:
    from foresight.store.alert_log import AlertLog, AlertRecord
    from foresight.store.metric_store import MetricStore

    path = seed_cpu_history(data_dir, hours=2.0)
    with MetricStore(path) as store:
        store.append_many(
            (now - ago, {"disk_percent": 30.0}) for ago in range(int(GAP_S[1]), int(GAP_S[0]), -5)
        )
        records = [
            AlertRecord(
                "DiskAny",
                "disk_percent",
                "warning",
                "firing",
                30.0,
                0.001,
                since=now - FIRED_AGO_S - 1,
                fired_at=now - FIRED_AGO_S,
                updated_at=now - GAP_S[0],
            )
        ]
        for i in range(RESOLVED):
            start = now - 86_400 - 600.0 * i  # older the larger i: row i is number i + 1
            records.append(
                AlertRecord(
                    f"Old{i:03d}",
                    "cpu_percent",
                    "info",
                    "resolved",
                    50.0,
                    45.0,
                    since=start,
                    fired_at=start + 1,
                    resolved_at=start + 60,
                    updated_at=start + 60,
                    annotations={"summary": f"CPU may cross 45 % (at {_iso(start + 30)})"},
                )
            )
        AlertLog(store).save(records)


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("history")
    _seed(tmp / "data", time.time())
    (tmp / "rules.yml").write_text(RULES)
    env = {
        "FORESIGHT_ALERT_RULES": str(tmp / "rules.yml"),
        "FORESIGHT_LIVE_MODELS": "0",
        "FORESIGHT_LIVE_SCALING": "0",
    }
    with run_monitor(tmp, extra_env=env) as base:
        yield base


def _page(browser: Any, url: str, errors: list[str]) -> Any:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id=ZONE, locale="en-US"
    )
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page


def test_annotation_times_are_local_like_the_rest_of_the_page(monitor: str, browser: Any) -> None:
    """ "at 2026-12-02T01:23:45Z" stood beside the page's local "8:23:45 PM"."""
    newest = get_json(f"{monitor}/api/alerts?state=resolved&limit=1")["alerts"][0]
    raw = newest["annotations"]["summary"]
    iso = re.search(r"\d{4}-\d\d-\d\dT[\d:]+Z", raw)
    assert iso, raw  # the API keeps its ISO value
    local = datetime.fromisoformat(iso.group(0).replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE))
    clock = local.strftime("%I:%M:%S %p").lstrip("0")  # en-US: "8:23:45 PM"
    errors: list[str] = []
    page = _page(browser, f"{monitor}/", errors)
    cell = page.locator(f'#alerts-resolved tr[data-alert="{newest["name"]}"] td').nth(6)
    cell.wait_for(timeout=20_000)
    text = cell.inner_text().replace("\u202f", " ")  # ICU's narrow space before "PM"
    assert clock in text and iso.group(0) not in text, text
    assert cell.get_attribute("title") == raw  # the server's own words on hover
    page.context.close()
    assert not errors, errors


# [gap start ms, gap end ms] of the disk_percent line, and the shaded alert spans.
GAP_AND_BAND = """() => {
  const c = foresight.charts.disk_percent;
  const line = c.data.datasets.find((d) => d.foresightRole === "series").data;
  const at = line.findIndex((p, i) => i > 0 && p.y === null && line[i - 1].y !== null);
  const band = c.data.datasets.filter((d) => d.foresightRole === "alert").flatMap((d) => {
    const spans = [];
    for (let i = 1; i < d.data.length; i++) {
      if (d.data[i].y !== null && d.data[i - 1].y !== null) spans.push([d.data[i - 1].x, d.data[i].x]);
    }
    return spans;
  });
  return {gap: at < 0 ? null : [line[at - 1].x, line[at + 1].x], band};
}"""


def test_an_alert_is_shaded_only_where_there_was_data(monitor: str, browser: Any) -> None:
    """An alert active before a stop was shaded across the hours nothing was sampled."""
    errors: list[str] = []
    page = _page(browser, f"{monitor}/?range=1h", errors)
    # shaded after the gap once the live samples there span a bucket or two (the 1 h
    # range refreshes every 15 s, the alerts every 5 s)
    found = page.wait_for_function(
        f"() => {{ const f = ({GAP_AND_BAND})(); "
        "return f.gap && f.band.some(([, b]) => b > f.gap[1]) && f; }",
        timeout=60_000,
    ).json_value()
    gap, band = found["gap"], found["band"]
    assert gap and gap[1] - gap[0] > 0.8 * (GAP_S[0] * 1000 - 60_000), found  # ~20 min
    assert band, found
    inside = [(a, b) for a, b in band if a < gap[1] - 1 and b > gap[0] + 1]
    assert not inside, f"shaded across the gap {gap}: {inside}"
    # before the gap (from fired_at) and after it (the live samples): both shaded
    assert min(a for a, _ in band) <= gap[0] and max(b for _, b in band) >= gap[1], found
    page.context.close()
    assert not errors, errors


def test_show_all_pages_through_the_stored_history(monitor: str, browser: Any) -> None:
    """The panel held the newest 20 resolved alerts; older ones could not be reached."""
    errors: list[str] = []
    page = _page(browser, f"{monitor}/", errors)
    more = page.locator("#alerts-resolved-more")
    more.wait_for(state="visible", timeout=20_000)
    assert page.locator("#alerts-resolved tbody tr").count() == 5
    more.click()
    status = page.locator("#alerts-resolved-range")
    page.wait_for_function(
        "() => / of /.test(document.getElementById('alerts-resolved-range').textContent)",
        timeout=10_000,
    )
    seen: list[str] = []
    for _ in range(RESOLVED):
        names = page.eval_on_selector_all(
            "#alerts-resolved tbody tr", "(rows) => rows.map((r) => r.dataset.alert)"
        )
        assert len(names) == 25 or len(seen) + len(names) == RESOLVED, (len(seen), names)
        assert status.inner_text().startswith(f"{len(seen) + 1}–{len(seen) + len(names)} of ")
        seen += names
        older = page.locator("#alerts-resolved-older")
        if older.is_disabled():
            break
        older.click()
        page.wait_for_function(
            "(first) => document.querySelector('#alerts-resolved tbody tr')?.dataset.alert !== first",
            arg=names[0],
            timeout=10_000,
        )
    assert seen == [f"Old{i:03d}" for i in range(RESOLVED)]
    assert status.inner_text() == f"126–130 of {RESOLVED}, newest first"
    page.locator("#alerts-resolved-newer").click()
    page.wait_for_function(
        "() => document.getElementById('alerts-resolved-range').textContent.startsWith('101–')",
        timeout=10_000,
    )
    more.click()  # back to the newest five
    assert page.locator("#alerts-resolved tbody tr").count() == 5
    assert page.locator("#alerts-resolved-pager").is_hidden()
    page.context.close()
    assert not errors, errors


AXIS = """() => ({min: foresight.charts.cpu_percent.options.scales.x.min / 1000,
  sinceS: foresight.range.sinceS, nowS: foresight.nowS(),
  status: document.getElementById('range-status').textContent})"""


def test_a_short_history_fills_the_long_range(monitor: str, browser: Any) -> None:
    """Two hours of a fresh install drew 2 px wide on the 7-day range."""
    errors: list[str] = []
    page = _page(browser, f"{monitor}/?range=7d", errors)
    page.wait_for_function(
        "() => document.getElementById('range-status').textContent.startsWith('Last 7 days')",
        timeout=30_000,
    )
    axis = page.evaluate(AXIS)
    assert axis["nowS"] - axis["sinceS"] == pytest.approx(7 * 86400, abs=120), axis  # asked 7 d
    held = axis["nowS"] - axis["min"]
    assert 7000 < held < 7200 * 1.1, axis  # the axis starts at the first sample
    assert "holds only 2 h" in axis["status"] and "axis starts there" in axis["status"], axis
    # one point per bucket of the two hours, not of seven days (20 min): finer
    step = page.evaluate("() => foresight.range.stepS")
    assert step is None or step <= 7200 / 100, step
    # a range the data covers keeps its whole span
    page.click('#range button[data-range="1h"]')
    page.wait_for_function(
        "() => document.getElementById('range-status').textContent.startsWith('Last hour')",
        timeout=30_000,
    )
    axis = page.evaluate(AXIS)
    assert axis["nowS"] - axis["min"] == pytest.approx(3600, abs=60), axis
    assert "axis starts" not in axis["status"], axis
    page.context.close()
    assert not errors, errors
