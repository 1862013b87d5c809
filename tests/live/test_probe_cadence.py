"""The HTTP probe on its own beat (``probe_every_s``): the own health endpoint every 5 s by
default, a user's URL every tick; between probes the last reading is held for the alert
rules, the failure-risk model, ``current`` and ``/metrics``, never stored or charted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import create_app
from foresight.core.settings import Settings
from foresight.live.alerting import EXTRAS_KEY as ALERTS_KEY
from foresight.live.services import build_services, probe_every_s, run_cycle, stop
from metrics_collector import SELF_PROBE_EVERY_S, Sample
from tests.http_support import QuietHandler, loopback_server

T0 = 1_800_000_000.0


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that answers 200 and records each GET's path."""
    seen: list[str] = []

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the monitor's own waitress

        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    with loopback_server(Handler) as base:
        yield f"{base}/health", seen


def test_the_own_endpoint_is_probed_every_5_s_and_a_users_url_every_tick() -> None:
    assert SELF_PROBE_EVERY_S == 5.0
    assert probe_every_s(Settings()) == SELF_PROBE_EVERY_S  # the own health endpoint
    assert probe_every_s(Settings(probe_url="http://example.test/")) == 0.0  # every tick
    assert probe_every_s(Settings(probe_every_s=2.0)) == 2.0  # the setting wins
    assert probe_every_s(Settings(probe_url="http://example.test/", probe_every_s=30.0)) == 30.0


def test_probes_follow_their_beat_and_the_reading_is_held_in_between(
    tmp_path: Path, counting_server: tuple[str, list[str]]
) -> None:
    url, seen = counting_server
    settings = Settings(data_dir=tmp_path / "data", probe_url=url, probe_every_s=5.0)
    services = build_services(settings, now=T0)
    try:
        services.collector.prime()
        samples = [run_cycle(services, T0 + i) for i in range(11)]
        client = create_app({"TESTING": True}, services=services).test_client()
        exposition = client.get("/metrics").get_data(as_text=True)
        stored = services.store.raw_rows(T0 - 1, T0 + 11)
    finally:
        stop(services)
    assert len(seen) == 3  # at 0, 5 and 10 s: not every tick
    probed = [i for i, s in enumerate(samples) if "api_response_ms" in s.values]
    assert probed == [0, 5, 10]
    for i, sample in enumerate(samples):
        if i in probed:
            assert not sample.held and sample.values["api_success"] == 1.0
        else:  # the last probe, held: for the rules, not a new measurement
            last = samples[max(p for p in probed if p < i)]
            probe = {k: v for k, v in sample.held.items() if k.startswith("api_")}
            assert probe == {
                "api_response_ms": last.values["api_response_ms"],
                "api_success": last.values["api_success"],
            }
            assert {sample.held_at[k] for k in probe} == {last.timestamp}
            assert "api_response_ms" not in sample.to_dict()["values"]
    # only what was measured is stored (so charts and the models see a 5-s series)
    assert [ts for ts, values in stored if "api_response_ms" in values] == [T0, T0 + 5, T0 + 10]
    assert "foresight_api_probe_success 1.0" in exposition


def test_current_values_carry_the_held_probe_between_probes(
    tmp_path: Path, counting_server: tuple[str, list[str]]
) -> None:
    url, _ = counting_server
    settings = Settings(data_dir=tmp_path / "data", probe_url=url, probe_every_s=5.0)
    services = build_services(settings, now=T0)
    try:
        services.collector.prime()
        samples = [run_cycle(services, T0 + i) for i in range(3)]
        client = create_app({"TESTING": True}, services=services).test_client()
        metrics = client.get("/api/metrics?limit=5").get_json()["metrics"]
        realtime = client.get("/api/metrics/realtime").get_json()
        exposition = client.get("/metrics").get_data(as_text=True)
    finally:
        stop(services)
    held = samples[0].values["api_response_ms"]
    assert "api_response_ms" not in samples[2].values
    # the last probe, with the time it was taken (not the newest tick's)
    assert metrics["api_response_ms"]["current"] == {
        "timestamp": T0,
        "value": held,
        "level": "ok",
    }
    assert metrics["cpu_percent"]["current"]["timestamp"] == T0 + 2
    assert realtime["current"]["api_response_ms"]["value"] == held
    assert "foresight_api_probe_success 1.0" in exposition  # a gauge on every scrape
    # the live feed's samples are what was measured: the probe only in the first
    assert [("api_response_ms" in s["values"]) for s in realtime["samples"]] == [
        True,
        False,
        False,
    ]


def test_a_slow_probe_alert_holds_between_probes_and_fires_after_its_for(services) -> None:
    """ApiSlow (critical from 200 ms, ``for: 1m``) on a probe every 5 s: pending from the
    first slow probe, firing a minute later; it would resolve at the first tick without
    a probe if the rules read only the tick's own values."""
    live = services.extras[ALERTS_KEY]
    slow = {"api_response_ms": 450.0, "api_success": 1.0}
    for i in range(62):
        now = T0 + i
        if i % 5 == 0:
            sample = Sample(now, {"cpu_percent": 5.0, **slow})
        else:
            sample = Sample(now, {"cpu_percent": 5.0}, held=slow)
        live.stage(now, sample)
        states = {r.rule: r.state for r in live.engine.active() if r.metric == "api_response_ms"}
        if i < 60:
            assert states.get("ApiSlow") == "pending", (i, states)
    assert states.get("ApiSlow") == "firing"
    # the probe answers fast again: the alert resolves at that probe, not before
    fast = {"api_response_ms": 3.0, "api_success": 1.0}
    live.stage(T0 + 62, Sample(T0 + 62, {"cpu_percent": 5.0}, held=slow))
    assert {r.rule for r in live.engine.active()} >= {"ApiSlow"}
    live.stage(T0 + 65, Sample(T0 + 65, {"cpu_percent": 5.0, **fast}))
    assert "ApiSlow" not in {r.rule for r in live.engine.active()}
