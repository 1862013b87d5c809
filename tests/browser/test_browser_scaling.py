"""The capacity panel in a real browser: the stress-test button visibly drives a scale-up.

Runs the real monitor with fast scaling (decisions every 2 s, 4 s boot lag), opens the
page in Debian's headless chromium, starts a stress test on every core from the page's
own form, and waits for the panel to show a scale-up decision and more ready instances.
Skips when /usr/bin/chromium or the playwright package is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import get_json, open_page, run_monitor

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The real monitor with fast scaling: decisions every 2 s, instances boot in 4 s."""
    with run_monitor(
        tmp_path, extra_env={"SCALING_INTERVAL": "2", "SCALING_BOOT_S": "4", "MAX_INSTANCES": "10"}
    ) as base:
        yield base


def test_stress_button_drives_a_visible_scale_up(server: str, tmp_path: Path, browser: Any) -> None:
    cores = int(get_json(f"{server}/api/scaling/status")["host_cores"])
    errors: list[str] = []
    page = open_page(browser, f"{server}/", errors)
    page.wait_for_function(
        "() => document.getElementById('scaling-badge').textContent.includes('auto')",
        timeout=15_000,
    )
    # Start from one instance, then let the stress test push demand up.
    page.fill("#scaling-instances", "1")
    page.fill("#scaling-hold", "0")  # no hold: automatic decisions go on at once
    page.click("#scaling-apply")
    page.wait_for_function(
        "() => document.getElementById('scaling-ready').textContent === '1'", timeout=10_000
    )
    page.fill("#stress-seconds", "20")
    page.fill("#stress-cores", str(cores))
    page.click("#stress-start")
    # A scale-up decision appears in the log, and instances boot then become ready.
    page.wait_for_function(
        """() => [...document.querySelectorAll('#scaling-decisions tr')]
              .some((tr) => tr.textContent.includes('scale up'))""",
        timeout=20_000,
    )
    page.wait_for_function(
        "() => Number(document.getElementById('scaling-ready').textContent) >= 2",
        timeout=20_000,
    )
    # Rules are explained in plain words on hover, and the instances table fills.
    assert page.eval_on_selector("#scaling-decisions td.rule", "td => td.title.length") > 10
    assert page.locator("#scaling-instances-list tr").count() >= 1
    # The head gives the cadence, and a hold's reason (holds are not logged), never the
    # newest log row again.
    note = page.text_content("#scaling-note") or ""
    assert note.startswith(("decides every 2 s; next at about ", "decides every 2 s; holding: "))
    newest = page.text_content("#scaling-decisions tr td:last-child") or ""
    assert newest not in note, (note, newest)
    points = page.evaluate(
        "() => Chart.getChart(document.getElementById('capacity-chart'))"
        ".data.datasets[1].data.length"
    )
    assert points > 0
    # The highest line sits below the chart's frame (ready at max hid ready + booting).
    top, highest = page.evaluate(
        """() => { const c = Chart.getChart(document.getElementById('capacity-chart'));
            const ys = c.data.datasets.flatMap((d) => d.data.map((p) => p.y))
              .filter(Number.isFinite);
            return [c.scales.y.max, Math.max(...ys)]; }"""
    )
    assert top > highest
    page.locator("#capacity-panel").screenshot(path=str(tmp_path / "capacity.png"))
    page.click("#stress-cancel")
    assert errors == []
