"""Pushed series get anomaly scores and threshold alerts (issue 12), in the real monitor.

``POST /api/samples`` stores a batch and hands it to the same per-series detectors and
alert rules the cycle's sample goes through (``foresight.live.pushed``), in timestamp
order; the request does not wait for them.
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import get_json, run_monitor, wait_for
from browser_support import push_samples as push

pytestmark = pytest.mark.slow
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
TARGET = 'instance="web-1:9100"'


def alerts_of(base: str, name: str) -> list[dict]:
    query = urllib.parse.urlencode({"name": name, "limit": "100"})
    return get_json(f"{base}/api/alerts?{query}")["alerts"]


def test_a_pushed_spike_is_an_anomaly_of_its_target(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    now = time.time()
    values = 50.0 + rng.normal(0.0, 1.0, 900)
    values[850] = 400.0  # a clear spike in requests/s, 50 s before now
    rows = [
        {"timestamp": now - 900 + i, "target": TARGET, "metric": "requests_per_s", "value": v}
        for i, v in enumerate(values)
    ]
    with run_monitor(tmp_path, interval_s=0.5, needs_browser=False) as base:
        answer = push(base, rows)
        assert answer["stored"] == 900 and answer["scoring"] == "queued"
        query = urllib.parse.urlencode({"target": TARGET, "limit": "50"})

        def spike() -> list[dict]:
            found = get_json(f"{base}/api/anomalies?{query}")["anomalies"]
            return [a for a in found if a["metric"] == "requests_per_s"]

        def scored_to_the_end() -> bool:  # scoring runs in the background, in time order
            score = get_json(f"{base}/api/anomalies?{query}")["scores"].get("requests_per_s")
            return bool(score) and abs(score["timestamp"] - (now - 1)) <= 0.01

        wait_for(scored_to_the_end, timeout_s=60.0, what="scores of every pushed point")
        found = spike()
        assert found, "the spike among the pushed points is not an anomaly"
        # flagged at the spike or within the detector's 10-point score window after it
        assert [a["timestamp"] for a in found] == sorted(
            (a["timestamp"] for a in found), reverse=True
        )
        assert any(now - 50 - 0.01 <= a["timestamp"] <= now - 40 for a in found), found
        # this host's anomalies are not the pushed target's
        local = get_json(f"{base}/api/anomalies?limit=100")["anomalies"]
        assert all(a["metric"] != "requests_per_s" for a in local)
        # the same points again are stored once and scored once: nothing new
        assert push(base, rows)["stored"] == 0
        time.sleep(1.0)
        assert len(spike()) == len(found)


def test_pushed_values_over_a_level_fire_the_rule_for_that_target(tmp_path: Path) -> None:
    key = f"cpu_percent@{TARGET}"
    with run_monitor(tmp_path, interval_s=0.5, needs_browser=False) as base:
        now = time.time()
        hot = [  # 40 s at 97 %: CpuCritical (critical from 90 % for 30 s) fires
            {"timestamp": now - 40 + i, "target": TARGET, "metric": "cpu_percent", "value": 97.0}
            for i in range(41)
        ]
        assert push(base, hot)["stored"] == 41

        def firing() -> list[dict]:
            return [
                a
                for a in alerts_of(base, "CpuCritical")
                if a["metric"] == key and a["state"] == "firing"
            ]

        alert = wait_for(firing, what="CpuCritical firing for the pushed target")[0]
        assert alert["labels"]["target"] == TARGET
        assert alert["value"] == 97.0
        assert alert["since"] == pytest.approx(now - 40, abs=0.01)
        time.sleep(2.0)  # several cycles without this series: the alert stays firing
        assert firing()
        cool = [
            {"timestamp": time.time(), "target": TARGET, "metric": "cpu_percent", "value": 20.0}
        ]
        push(base, cool)
        wait_for(
            lambda: any(
                a["metric"] == key and a["state"] == "resolved"
                for a in alerts_of(base, "CpuCritical")
            ),
            what="CpuCritical resolved by the pushed value under its clear level",
        )


@pytest.mark.browser
def test_a_pushed_request_rate_drives_the_pool_and_the_panel_names_it(
    tmp_path: Path, browser: Any
) -> None:
    """SCALING_DEMAND_METRIC on a pushed series: a rising rate raises the desired count."""
    key = 'requests_per_s@service="api"'
    env = {
        "SCALING_DEMAND_METRIC": key,
        "SCALING_UNIT_CAPACITY": "10",
        "SCALING_INTERVAL": "1",
        "SCALING_BOOT_S": "2",
        "MAX_INSTANCES": "20",
        "COST_THRESHOLD": "1000",
    }
    with run_monitor(tmp_path, interval_s=0.5, extra_env=env) as base:
        status_url = f"{base}/api/scaling/status"

        def rate(value: float) -> None:
            sample = {
                "timestamp": time.time(),
                "target": 'service="api"',
                "metric": "requests_per_s",
            }
            push(base, [{**sample, "value": value}])

        rate(5.0)
        quiet = wait_for(
            lambda: (st := get_json(status_url))["demand_metric"]["reading"] and st,
            what="the first reading of the pushed series",
        )
        assert quiet["demand_signal"] == key and quiet["desired"] == 1
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        page.wait_for_function(
            "() => document.getElementById('scaling-signals').textContent"
            ".includes('requests_per_s@service')",
            timeout=15_000,
        )
        for value in (20.0, 40.0, 60.0, 80.0, 100.0):
            rate(value)
            time.sleep(1.2)
        busy = wait_for(
            lambda: (st := get_json(status_url))["desired"] >= 8 and st,
            what="a scale-up from the pushed request rate",
        )
        assert busy["demand_metric"]["reading"]["value"] == 100.0
        page.wait_for_function(
            "() => document.getElementById('scaling-signals').textContent"
            ".includes('= 100.00 ÷ 10.00 per instance')",
            timeout=15_000,
        )
