"""Scaling a service from its request-rate query (issue 12's point), on real servers.

Debian's Prometheus scrapes itself; the monitor (``--source prometheus``) reads
``sum by (job) (rate(prometheus_http_requests_total[5s]))`` as ``requests_per_s`` and
``SCALING_DEMAND_METRIC`` makes that series the demand. The test then sends Prometheus
real HTTP requests, its request rate rises, and the desired instance count follows.
No mock stands in for either server.
"""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest

from tests.browser.browser_support import free_port, get_json, run_monitor
from tests.sources.prometheus_support import prometheus_binary, run_prometheus
from tests.sources.test_prometheus_source import source_args, wait_for

pytestmark = pytest.mark.slow
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
RATE_QUERY = "requests_per_s=sum by (job) (rate(prometheus_http_requests_total[5s]))"
KEY = 'requests_per_s@job="foresight"'  # write_config names the scrape job "foresight"


def hammer(url: str, stop: threading.Event) -> int:
    sent = 0
    while not stop.is_set():
        with _OPENER.open(url, timeout=5) as resp:
            resp.read()
        sent += 1
    return sent


def test_a_rising_request_rate_raises_the_desired_count(tmp_path: Path) -> None:
    prometheus_binary()
    prom_port = free_port()
    with run_prometheus(tmp_path / "prom", prom_port, [f"127.0.0.1:{prom_port}"]) as prometheus:
        env = {
            "SCALING_DEMAND_METRIC": KEY,
            "SCALING_UNIT_CAPACITY": "10",  # one instance serves 10 requests/s
            "SCALING_INTERVAL": "1",
            "SCALING_BOOT_S": "2",
            "MAX_INSTANCES": "30",
            "COST_THRESHOLD": "1000",
        }
        with run_monitor(
            tmp_path,
            interval_s=1.0,
            needs_browser=False,
            extra_env=env,
            extra_args=source_args(prometheus, RATE_QUERY),
        ) as base:
            status_url = f"{base}/api/scaling/status"

            def quiet_status() -> dict | None:
                st = get_json(status_url)
                reading = (st["demand_metric"] or {}).get("reading") or {}
                return st if reading.get("value") is not None else None

            before = wait_for(quiet_status, what="a request-rate reading")
            assert before["demand_signal"] == KEY
            assert before["demand_metric"]["unit_capacity"] == 10.0
            assert before["demand_metric"]["reading"]["value"] < 10  # only our own queries
            quiet = before["desired"]
            stop = threading.Event()
            sent: list[int] = []
            workers = [
                threading.Thread(
                    target=lambda: sent.append(
                        hammer(f"{prometheus}/api/v1/status/buildinfo", stop)
                    )
                )
                for _ in range(4)
            ]
            for w in workers:
                w.start()
            try:
                busy = wait_for(
                    lambda: (st := get_json(status_url))["desired"] >= quiet + 3 and st,
                    timeout_s=45.0,
                    what="a scale-up from the request rate",
                )
            finally:
                stop.set()
                for w in workers:
                    w.join()
            assert busy["demand_metric"]["reading"]["value"] > 30  # requests/s
            assert busy["demand_signals"][KEY] == pytest.approx(
                busy["demand_metric"]["reading"]["value"] / 10.0, rel=1e-3
            )
            decision = busy["last_decision"]
            assert decision["inputs"]["signal"] == KEY
            assert sum(sent) > 100
            health = get_json(f"{base}/api/system/health")
            assert health["source"]["up"] is True
