"""Memory, devices and top processes on the dashboard, in headless chromium.

Starts the real monitor, opens the page and checks: the processes tables fill (with CPU
figures after the baseline pass), the Devices charts draw a line per disk, interface
and filesystem, loopback appears in none of them (and the page says why), the memory
totals show, and the panel's metrics got no stray chart in the History grid.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from browser_support import get_json, open_page, push_samples, run_monitor, screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHARTS_DRAWN_JS = """() => {
  const s = window.foresight && window.foresight.system;
  if (!s) return false;
  return ["memory", "disk", "net", "fs"].every((k) => s.charts[k]
    && s.charts[k].data.datasets.some((d) => d.data.length >= 2));
}"""
LABELS_JS = """() => Object.fromEntries(Object.entries(window.foresight.system.charts)
  .map(([k, c]) => [k, c.data.datasets.map((d) => d.metric)]))"""
PROCESSES_FILLED_JS = """() => {
  const rows = document.querySelectorAll("#proc-cpu tbody tr");
  return rows.length > 0 && [...rows].some((r) => /%/.test(r.children[2].textContent));
}"""


def test_processes_table_fills_and_device_charts_draw(tmp_path: Path, browser: Any) -> None:
    with run_monitor(tmp_path) as base:
        devices = get_json(f"{base}/api/devices")
        loopback = [i["name"] for i in devices["interfaces"] if i["loopback"]]
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base)
        page.wait_for_function(PROCESSES_FILLED_JS, timeout=20_000)
        page.wait_for_function(CHARTS_DRAWN_JS, timeout=20_000)
        metrics = page.evaluate(LABELS_JS)
        assert any(m.startswith("disk_read_bytes_per_s:") for m in metrics["disk"])
        assert any(m.startswith("net_recv_bytes_per_s:") for m in metrics["net"])
        assert "fs_used_percent:/" in metrics["fs"] or metrics["fs"]
        assert set(metrics["memory"]) >= {"memory_used_bytes", "memory_available_bytes"}
        for name in loopback:  # loopback: in no chart, and the page says why
            assert not any(m.endswith(f":{name}") for ms in metrics.values() for m in ms)
            assert f"{name} (loopback)" in page.inner_text("#devices-excluded")
        mem_rows = page.locator("#proc-mem tbody tr")
        assert mem_rows.count() > 0
        assert page.locator("#fs-table tbody tr").count() == len(devices["filesystems"])
        assert page.inner_text("#mem-total") not in ("", "–")
        # the panel's own metrics got no chart or tile in the History grid
        stray = page.evaluate(
            """() => Object.keys(window.foresight.charts)
                 .filter((k) => k.includes(":") || k.startsWith("memory_used"))"""
        )
        assert stray == []
        assert page.locator('.tile[data-metric="memory_used_bytes"]').count() == 0
        # the History grid still has its own network chart (totals without loopback)
        assert "net_recv_bytes_per_s" in page.evaluate("() => Object.keys(foresight.charts)")
        shots = screenshot_dir(tmp_path)
        page.locator("#memory-panel").screenshot(path=str(shots / "system-memory.png"))
        page.locator("#devices-panel").screenshot(path=str(shots / "system-devices.png"))
        page.locator("#processes-panel").screenshot(path=str(shots / "system-processes.png"))
        page.screenshot(path=str(shots / "system-page.png"), full_page=True)
        assert errors == [], errors


def test_a_target_without_device_series_says_no_data_not_a_blank_box(
    tmp_path: Path, browser: Any
) -> None:
    """A Devices or Memory chart is made with its first series, so on a pushed target's
    view (none of those series) the four cards were blank boxes; they say "No data"."""
    with run_monitor(tmp_path) as base:
        now = time.time()
        rows = [
            {"timestamp": now - 60 + i, "target": "web-1", "metric": "requests_per_s", "value": 5.0}
            for i in range(50)
        ]
        assert push_samples(base, rows)["stored"] == 50
        errors: list[str] = []
        page = open_page(browser, f"{base}/?target=web-1", errors, height=1800)
        page.wait_for_function("() => window.foresight && window.foresight.charts.requests_per_s")
        notes = "[...document.querySelectorAll('[data-system-chart] .chart-empty')]"
        page.wait_for_function(f"() => {notes}.every((n) => !n.hidden)", timeout=15_000)
        assert page.evaluate(f"() => {notes}.length") == 4
        assert page.evaluate("() => Object.keys(window.foresight.system.charts)") == []
        # this host's own view still draws them, with the notes hidden
        page.goto(base)
        page.wait_for_function(CHARTS_DRAWN_JS, timeout=30_000)
        page.wait_for_function(f"() => {notes}.every((n) => n.hidden)", timeout=15_000)
        assert not errors, errors
