"""The target picker: series of another target (here pushed) are one choice away."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from browser_support import get_json, open_page, run_monitor, wait_for
from browser_support import push_samples as push

pytestmark = [pytest.mark.browser, pytest.mark.slow]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_picking_a_target_shows_its_series(tmp_path: Path, browser: Any) -> None:
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


# A rule every host fires at once (its data disk is never 0 % full); the pushed target's
# disk_percent is 0, so only the host's series is alerted on.
HOST_ONLY_RULES = """
rules:
  - {name: DiskAnyUse, kind: threshold, metric: disk_percent, level: 0.001, for: 0s,
     severity: warning, annotations: {summary: "Data disk {value:.1f} % full"}}
"""
PUSH_EVERY_S = 5.0  # ten times the monitor's interval: a scraper's cadence, not a gap


def test_a_target_keeps_the_range_draws_its_own_cadence_and_not_the_hosts_alerts(
    tmp_path: Path,
    browser: Any,
) -> None:
    """Switching target keeps ?range=; a series pushed every 5 s on a 0.5-s monitor is one
    line, not 40 dots; the host's alert on disk_percent marks the host's tile, not the
    target's tile of the same name."""
    rules = tmp_path / "rules.yml"
    rules.write_text(HOST_ONLY_RULES)
    env = {
        "FORESIGHT_ALERT_RULES": str(rules),
        "FORESIGHT_LIVE_MODELS": "0",
        "FORESIGHT_LIVE_SCALING": "0",
    }
    with run_monitor(tmp_path, interval_s=0.5, extra_env=env) as base:
        now = time.time()
        rows = [
            {
                "timestamp": now - 200 + PUSH_EVERY_S * i,
                "target": "web-1",
                "metric": "disk_percent",
                "value": 0.0,
            }
            for i in range(40)
        ]
        assert push(base, rows)["stored"] == 40
        firing = wait_for(
            lambda: [
                a
                for a in get_json(f"{base}/api/alerts?state=firing")["alerts"]
                if a["name"] == "DiskAnyUse"
            ],
            what="the host's DiskAnyUse alert to fire",
        )
        assert {a["metric"] for a in firing} == {"disk_percent"}, firing  # the host's only
        errors: list[str] = []
        page = open_page(browser, f"{base}/?range=1h", errors)
        page.wait_for_selector("#target-picker:not([hidden])")
        with page.expect_navigation():
            page.locator("#target").select_option("web-1")
        assert "target=web-1" in page.url and "range=1h" in page.url, page.url
        page.wait_for_function("() => window.foresight && foresight.range.key === '1h'")
        checked = page.locator('#range button[data-range="1h"]')
        assert checked.get_attribute("aria-checked") == "true"

        # The live 5 minutes: raw points 5 s apart, drawn without a break between them.
        page.goto(f"{base}/?target=web-1")
        page.wait_for_function(
            "() => window.foresight && foresight.charts.disk_percent"
            " && foresight.charts.disk_percent.data.datasets[0].data.length >= 30"
        )
        points = page.evaluate(
            "() => foresight.charts.disk_percent.data.datasets[0].data.map((p) => p.y)"
        )
        assert None not in points, points

        # The alert is listed, but it is the host's: web-1's disk_percent stays unmarked.
        page.locator('#alerts-active tr[data-alert="DiskAnyUse"]').wait_for()
        tile = page.locator('#tiles .tile[data-metric="disk_percent"]')
        assert tile.get_attribute("data-alert") is None
        shaded = page.evaluate(
            "() => foresight.charts.disk_percent.data.datasets"
            ".filter((d) => d.foresightRole === 'alert' && d.data.length).length"
        )
        assert shaded == 0

        # Back on this host, its tile is marked (the marking itself still works).
        with page.expect_navigation():
            page.locator("#target").select_option("")
        assert "target=" not in page.url and not page.url.endswith("?"), page.url
        page.wait_for_function(
            "() => document.querySelector('#tiles .tile[data-metric=\"disk_percent\"]')"
            "?.dataset.alert === 'firing'"
        )
        assert not errors, errors


def test_a_targets_load_chart_shows_its_own_cpu_count(tmp_path: Path, browser: Any) -> None:
    """The page context carries each target's CPU count: web-2's load chart is judged
    on its 16 CPUs (levels 16 and 80), a target with no count says it has no levels."""
    with run_monitor(tmp_path, interval_s=0.5) as base:
        now = time.time()
        rows = [
            {"timestamp": now - 60 + i, "target": t, "metric": "load1", "value": 3.0}
            for i in range(60)
            for t in ("web-2", "web-3")
        ]
        rows.append({"timestamp": now - 1, "target": "web-2", "metric": "cpu_count", "value": 16})
        assert push(base, rows)["stored"] == len(rows)
        meta = "() => document.querySelector('[data-chart=load1] .chart-meta').textContent"
        errors: list[str] = []
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        for target, expected in (
            ("web-2", "warn 16 · crit 80 (16 CPUs)"),
            ("web-3", "no CPU count: no load levels"),
        ):
            page.goto(f"{base}/?target={target}")
            page.wait_for_function("() => window.foresight && window.foresight.charts.load1")
            assert page.evaluate(meta) == expected
        page.goto(f"{base}/")
        page.wait_for_function("() => window.foresight && window.foresight.charts.load1")
        cores = page.evaluate("() => window.foresight.targetCpus['']")
        assert cores >= 1 and page.evaluate(meta).endswith(f"({cores} CPUs)")
        assert not errors, errors
