"""--source prometheus against a real Prometheus scraping the monitor's own /metrics.

Debian's prometheus binary (tests/sources/prometheus_support.py) scrapes the monitor
under test every second as job "foresight"; the monitor reads ``up{job="foresight"}``
back through the HTTP API. No mock stands in for either.
"""

from __future__ import annotations

import itertools
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.browser.browser_support import free_port, get_json, run_monitor, wait_for
from tests.sources.prometheus_support import prometheus_binary, run_prometheus

pytestmark = pytest.mark.slow
UP_QUERY = 'up=up{job="foresight"}'


def source_args(prometheus: str, *queries: str) -> list[str]:
    args = ["--source", "prometheus", "--prometheus-url", prometheus]
    for query in queries or (UP_QUERY,):
        args += ["--prometheus-query", query]
    return args


def up_target(base: str) -> str | None:
    targets = get_json(f"{base}/api/metrics").get("targets", {})
    found = targets.get("up") or []
    return found[0] if found else None


def up_points(base: str, target: str) -> list[list[float]]:
    query = urllib.parse.urlencode(
        {"target": target, "metric": "up", "since": "-3600", "limit": "10000"}
    )
    body = get_json(f"{base}/api/metrics?{query}")
    return body["metrics"]["up"]["points"]


def assert_one_point_per_interval(points: list[list[float]], interval_s: float = 1.0) -> None:
    """Unique, increasing timestamps on the interval grid, and no hole."""
    stamps = [p[0] for p in points]
    assert len(stamps) == len(set(stamps)), "a timestamp is stored twice"
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(stamps)]
    assert gaps and all(g == interval_s for g in gaps), sorted(set(gaps))
    assert all(abs(t / interval_s - round(t / interval_s)) < 1e-6 for t in stamps)


@pytest.fixture
def ports() -> tuple[int, int]:
    prometheus_binary()  # skip early, before any server starts
    return free_port(), free_port()


def test_up_query_makes_metric_up_appear(tmp_path: Path, ports) -> None:
    monitor_port, prom_port = ports
    scrape = [f"127.0.0.1:{monitor_port}"]
    with run_prometheus(tmp_path / "prom", prom_port, scrape) as prometheus:
        with run_monitor(
            tmp_path,
            interval_s=1.0,
            needs_browser=False,
            port=monitor_port,
            extra_args=source_args(prometheus),
        ) as base:
            target = wait_for(lambda: up_target(base), what="metric up in /api/metrics")
            assert target == f'instance="127.0.0.1:{monitor_port}",job="foresight"'
            # Prometheus scrapes this very monitor (0 before it listened, then 1)
            wait_for(lambda: up_points(base, target)[-1][1] == 1.0, what="up = 1")
            health = get_json(f"{base}/api/system/health")
            assert health["source"]["up"] is True and health["source"]["series"] == 1
            assert health["status"] == "ok", health["reasons"]
            listed = get_json(f"{base}/api/metrics")["metrics"]
            assert listed["source_up"]["current"]["value"] == 1.0
            assert "cpu_percent" not in listed  # this host is not sampled


def test_prometheus_outage_shows_alerts_and_catches_up_without_duplicates(
    tmp_path: Path, ports
) -> None:
    monitor_port, prom_port = ports
    scrape = [f"127.0.0.1:{monitor_port}"]
    prometheus = f"http://127.0.0.1:{prom_port}"
    with run_monitor(
        tmp_path,
        interval_s=1.0,
        needs_browser=False,
        port=monitor_port,
        extra_args=source_args(prometheus),
    ) as base:
        # Prometheus is not there yet: the monitor runs and says so
        health = wait_for(
            lambda: (h := get_json(f"{base}/api/system/health"))["source"]["up"] is False and h,
            what="source down in health",
        )
        assert health["status"] == "degraded"
        assert any("does not answer" in r for r in health["reasons"]), health["reasons"]
        with run_prometheus(tmp_path / "prom", prom_port, scrape):
            target = wait_for(lambda: up_target(base), what="metric up")
            wait_for(lambda: len(up_points(base, target)) >= 4, what="4 points of up")
        # Prometheus away again: an alert fires, ticks go on
        alerts = wait_for(
            lambda: [
                a
                for a in get_json(f"{base}/api/alerts?state=firing")["alerts"]
                if a["name"] == "SourceDown"
            ],
            what="SourceDown firing",
        )
        assert alerts[0]["metric"] == "source_up"
        ticks = get_json(f"{base}/api/system/health")["ticks"]
        time.sleep(4.0)
        assert get_json(f"{base}/api/system/health")["ticks"] >= ticks + 3
        before = len(up_points(base, target))
        with run_prometheus(tmp_path / "prom", prom_port, scrape):  # same TSDB: history kept
            wait_for(
                lambda: get_json(f"{base}/api/system/health")["source"]["up"] is True,
                what="source back up",
            )
            wait_for(lambda: len(up_points(base, target)) >= before + 6, what="caught up")
            points = up_points(base, target)
            health = get_json(f"{base}/api/system/health")
    assert health["source"]["caught_up_points"] >= 3  # the outage's points, by query_range
    assert_one_point_per_interval(points)


def test_a_restarted_monitor_catches_up_what_prometheus_saw(tmp_path: Path, ports) -> None:
    monitor_port, prom_port = ports
    scrape = [f"127.0.0.1:{monitor_port}"]
    with run_prometheus(tmp_path / "prom", prom_port, scrape) as prometheus:
        args = source_args(prometheus)
        with run_monitor(
            tmp_path, interval_s=1.0, needs_browser=False, port=monitor_port, extra_args=args
        ) as base:
            target = wait_for(lambda: up_target(base), what="metric up")
            wait_for(lambda: len(up_points(base, target)) >= 3, what="3 points of up")
        time.sleep(5.0)  # the monitor is down: Prometheus' scrapes of it fail (up = 0)
        with run_monitor(
            tmp_path, interval_s=1.0, needs_browser=False, port=monitor_port, extra_args=args
        ) as base:
            wait_for(lambda: up_points(base, target)[-1][1] == 1.0, what="up again")
            points = up_points(base, target)
    assert 0.0 in {p[1] for p in points}  # the gap came from Prometheus, not invented
    assert_one_point_per_interval(points)


def test_a_query_prometheus_rejects_stops_the_start(tmp_path: Path, ports) -> None:
    """A bad PromQL is bad input: exit 2 with one line, not a monitor that reads nothing."""
    import subprocess
    import sys

    from tests.browser.browser_support import ROOT

    monitor_port, prom_port = ports
    with run_prometheus(tmp_path / "prom", prom_port, []) as prometheus:
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "main.py"),
                "--monitor",
                "--port",
                str(monitor_port),
                "--data-dir",
                str(tmp_path / "data"),
                *source_args(prometheus, "bad=rate(up[)"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Prometheus rejects the query bad=" in result.stderr
