"""Notifications against a real Alertmanager (Debian's binary, started by the test)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alertmanager_support import get_json, run_alertmanager, wait_for

from foresight.alerts.conditions import Signals
from foresight.alerts.engine import AlertEngine
from foresight.alerts.notify import Notifier, Outgoing, webhook_body
from foresight.alerts.rules import RuleBook
from foresight.store.alert_log import AlertLog, Matcher, Silence
from foresight.store.metric_store import MetricStore
from tests.http_support import QuietHandler, loopback_server

T0 = 1_800_000_000.0  # the alerts' own times; Alertmanager is told valid-until from these
RULES = """
rules:
  - {name: CpuCritical, kind: threshold, metric: cpu_percent, level: 90, clear: 85,
     for: 30s, severity: critical, annotations: {summary: "CPU at {value:.0f} %"}}
  - {name: MemoryCritical, kind: threshold, metric: memory_percent, level: 95,
     severity: critical}
"""


@dataclass
class Hook:
    """A local HTTP server's URL and the JSON bodies POSTed to it."""

    url: str
    bodies: list[dict]


@pytest.fixture
def hook() -> Iterator[Hook]:
    bodies: list[dict] = []

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

    with loopback_server(Handler) as base:
        yield Hook(url=f"{base}/hook", bodies=bodies)


@pytest.fixture
def alertmanager(tmp_path: Path, hook: Hook) -> Iterator[str]:
    with run_alertmanager(tmp_path, webhook_url=hook.url) as base:
        yield base


def engine_for(tmp_path: Path, notifier: Notifier) -> tuple[AlertEngine, MetricStore]:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    store = MetricStore(tmp_path / "f.db")
    return AlertEngine(RuleBook(rules), AlertLog(store), notifier), store


def am_alerts(base: str) -> dict[str, dict]:
    return {a["labels"]["alertname"]: a for a in get_json(f"{base}/api/v2/alerts")}


def test_firing_reaches_alertmanager_and_resolving_clears_it(
    tmp_path: Path, alertmanager: str, hook: Hook
) -> None:
    import time

    notifier = Notifier(alertmanager_url=alertmanager, external_url="http://127.0.0.1:5000")
    engine, store = engine_for(tmp_path, notifier)
    now = time.time() - 40  # the alert's times are real: it resolves one second ago
    try:
        engine.evaluate(Signals(now, {"cpu_percent": 97.0}, now))
        assert notifier.flush() and am_alerts(alertmanager) == {}  # pending: not sent
        engine.evaluate(Signals(now + 30, {"cpu_percent": 97.0}, now + 30))
        assert notifier.flush()
        got = wait_for(lambda: am_alerts(alertmanager).get("CpuCritical"), what="the alert")
        assert got["labels"] == {
            "alertname": "CpuCritical",
            "severity": "critical",
            "metric": "cpu_percent",
        }
        assert got["annotations"]["summary"] == "CPU at 97 %"
        assert got["status"]["state"] == "active"
        # Alertmanager itself posts to the webhook receiver: our payload has its shape
        sent = wait_for(lambda: hook.bodies, what="Alertmanager's webhook")[0]
        ours = webhook_body([Outgoing(engine.active()[0], now + 240)], notifier.generator_url, "x")
        assert set(ours) == set(sent)
        assert set(ours["alerts"][0]) == set(sent["alerts"][0])
        assert sent["alerts"][0]["labels"] == ours["alerts"][0]["labels"]
        engine.evaluate(Signals(now + 39, {"cpu_percent": 40.0}, now + 39))
        assert notifier.flush()
        wait_for(lambda: "CpuCritical" not in am_alerts(alertmanager), what="the resolution")
        status = notifier.status()["targets"][0]
        assert status["sent"] == 2 and status["failed_attempts"] == 0
    finally:
        notifier.stop()
        store.close()


def test_a_silence_keeps_the_alert_from_alertmanager(tmp_path: Path, alertmanager: str) -> None:
    import time

    notifier = Notifier(alertmanager_url=alertmanager)
    engine, store = engine_for(tmp_path, notifier)
    now = time.time()
    try:
        engine.add_silence(
            Silence((Matcher("alertname", "CpuCritical"),), now, now + 600, "test", "", now)
        )
        for dt in (0, 30):
            engine.evaluate(Signals(now + dt, {"cpu_percent": 97.0, "memory_percent": 99.0}, now))
        assert notifier.flush()
        wait_for(lambda: "MemoryCritical" in am_alerts(alertmanager), what="the unsilenced alert")
        assert "CpuCritical" not in am_alerts(alertmanager)
        firing = {r.rule: r.state for r in engine.active()}
        assert firing == {"CpuCritical": "firing", "MemoryCritical": "firing"}  # still recorded
    finally:
        notifier.stop()
        store.close()


def test_an_unreachable_alertmanager_is_retried_and_reported(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nothing listens there
    notifier = Notifier(
        alertmanager_url=f"http://127.0.0.1:{port}", attempts=3, backoff_s=0.01, timeout_s=1
    )
    engine, store = engine_for(tmp_path, notifier)
    try:
        engine.evaluate(Signals(T0, {"memory_percent": 99.0}, T0))  # for 0: fires at once
        assert notifier.flush()
        target = notifier.status()["targets"][0]
        assert target["failed_attempts"] == 3 and target["dropped"] == 1 and target["sent"] == 0
        assert str(port) in target["last_error"]
    finally:
        notifier.stop()
        store.close()
