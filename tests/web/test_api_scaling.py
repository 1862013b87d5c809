"""Live scaling in the monitor (the stage) and its API, with the Flask test client."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from foresight.core.errors import InputError
from foresight.core.settings import from_environment
from foresight.live.scaling import EXTRAS_KEY, LiveScaling, from_settings
from foresight.scaling.webhook import WebhookExecutor
from metrics_collector import Sample
from tests.http_support import QuietHandler, loopback_server


def feed(live: LiveScaling, clock, cpu_percent: float | list[float], seconds: float) -> None:
    """Run the stage once a second for ``seconds`` at the given CPU (fake clock)."""
    for k in range(int(seconds)):
        cpu = cpu_percent[k % len(cpu_percent)] if isinstance(cpu_percent, list) else cpu_percent
        live.stage(clock.advance(1.0), Sample(clock(), {"cpu_percent": cpu}))


@pytest.fixture
def live(services) -> LiveScaling:
    return services.extras[EXTRAS_KEY]


def test_status_before_any_decision(client, live):
    doc = client.get("/api/scaling/status").get_json()
    assert doc["policy"] == "hybrid" and doc["mode"] == "auto"
    assert doc["instances"]["ready"] == 1 and doc["last_decision"] is None
    assert set(doc["cost"]) >= {"total_usd", "today_usd", "daily_budget_usd"}


def test_high_cpu_drives_a_scale_up_with_a_reason(client, live, clock):
    feed(live, clock, 97.0, 16)
    doc = client.get("/api/scaling/status").get_json()
    last = doc["last_decision"]
    assert last["action"] == "scale_up" and last["target"] >= 2
    assert "reactive" in last["reason"] or "demand" in last["reason"]
    assert doc["instances"]["pending"] + doc["instances"].get("booting", 0) >= 1
    feed(live, clock, 97.0, 90)  # boot lag 60 s: ready now
    doc = client.get("/api/scaling/status").get_json()
    assert doc["instances"]["ready"] >= 2 and doc["cost"]["total_usd"] > 0
    history = client.get("/api/scaling/history?limit=5").get_json()
    assert 1 <= len(history["points"]) <= 5
    assert history["decisions"][0]["action"] == "scale_up"
    point = history["points"][-1]
    # Demand = host cores in use / the 1-core request: all-core percent x host cores.
    assert point["demand_units"] == pytest.approx(0.97 * live.host_cores, rel=0.01)


def test_idle_cpu_scales_back_down_after_stabilisation(client, live, clock):
    top = live.pool.max_instances
    assert top >= 3
    client.post("/api/scaling/execute", json={"instances": top, "hold_s": 0})
    feed(live, clock, 5.0, 500)
    assert client.get("/api/scaling/status").get_json()["desired"] == 1


def test_a_gap_in_cpu_never_scales_in(client, live, clock):
    client.post("/api/scaling/execute", json={"instances": 3, "hold_s": 0})
    for _ in range(400):
        live.stage(clock.advance(1.0), Sample(clock(), {}))  # no cpu_percent
    doc = client.get("/api/scaling/status").get_json()
    assert doc["desired"] == 3 and doc["last_decision"]["rule"].endswith("missing-data")


def test_forecaster_takes_over_once_there_is_history(live, clock):
    wave = [20.0 + 60.0 * (0.5 + 0.5 * math.sin(2 * math.pi * k / 600)) for k in range(600)]
    feed(live, clock, wave, 2400)  # 160 decisions
    assert live.last_forecast is not None
    assert live.quality() is not None
    status = live.status(clock())
    assert status["forecast_quality"] == live.quality()


def test_manual_override_is_bounded(client, live):
    ok = client.post("/api/scaling/execute", json={"instances": 3})
    assert ok.status_code == 200 and ok.get_json()["rule"] == "manual-override"
    assert client.get("/api/resources").get_json()["pool"]["desired"] == 3
    for body in (
        {"instances": 0},
        {"instances": 11},
        {"instances": "3"},
        {"instances": True},
        {},
        [3],
    ):
        response = client.post("/api/scaling/execute", json=body)
        assert response.status_code == 400 and "error" in response.get_json(), body
    bad_json = client.post("/api/scaling/execute", data="{nope", content_type="application/json")
    assert bad_json.status_code == 400


def test_mode_switches_and_dry_run_records_without_acting(client, live, clock):
    response = client.post("/api/scaling/mode", json={"mode": "dry-run"})
    assert response.status_code == 200 and response.get_json()["mode"] == "dry-run"
    feed(live, clock, 97.0, 16)
    doc = client.get("/api/scaling/status").get_json()
    assert doc["last_decision"]["action"] == "scale_up"
    assert doc["last_decision"]["mode"] == "dry-run" and doc["desired"] == 1
    client.post("/api/scaling/mode", json={"mode": "paused"})
    feed(live, clock, 97.0, 16)
    assert client.get("/api/scaling/status").get_json()["last_decision"]["rule"] == "paused"
    for body in ({"mode": "turbo"}, {"mode": 3}, {}):
        assert client.post("/api/scaling/mode", json=body).status_code == 400


def test_resources_lists_instances_and_events(client, live):
    client.post("/api/scaling/execute", json={"instances": 2})
    doc = client.get("/api/resources").get_json()
    assert [i["state"] for i in doc["instances"]] == ["ready", "pending"]
    assert doc["executor"] == "simulated" and doc["events"][-1]["kind"] == "launch"


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=999999"])
def test_history_rejects_bad_limits(client, query):
    assert client.get(f"/api/scaling/history?{query}").status_code == 400


def test_posts_need_the_token_when_one_is_configured(services):
    from dashboard import create_app

    client = create_app({"TESTING": True, "TOKEN": "t0ken"}, services=services).test_client()
    assert client.post("/api/scaling/execute", json={"instances": 2}).status_code == 401
    assert client.post("/api/scaling/mode", json={"mode": "paused"}).status_code == 401
    ok = client.post(
        "/api/scaling/execute", json={"instances": 2}, headers={"Authorization": "Bearer t0ken"}
    )
    assert ok.status_code == 200
    assert client.get("/api/scaling/status").status_code == 200


def test_503_when_scaling_is_not_installed(client, services):
    del services.extras[EXTRAS_KEY]
    response = client.get("/api/scaling/status")
    assert response.status_code == 503 and "not running" in response.get_json()["error"]


def test_scaling_paths_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in (
        "/api/scaling/status",
        "/api/scaling/history",
        "/api/scaling/execute",
        "/api/scaling/mode",
        "/api/resources",
    ):
        assert path in paths


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("SCALING_POLICY", "psychic", "SCALING_POLICY"),
        ("SCALING_MODE", "turbo", "SCALING_MODE"),
        ("SCALING_INTERVAL", "0", "SCALING_INTERVAL"),
    ],
)
def test_bad_environment_is_an_input_error(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(InputError, match=message):
        from_settings(from_environment(), 1_800_000_000.0)


def test_the_monitor_cycle_runs_the_stage(services, clock):
    from foresight.live.services import run_cycle

    live = services.extras[EXTRAS_KEY]
    for _ in range(20):
        run_cycle(services, clock.advance(1.0))
    assert len(live.points) >= 1 and services.stage_errors == 0


def test_one_busy_core_is_full_utilisation_on_any_host(clock):
    # 8-core host, one core busy: 12.5 % overall, but 100 % of a 1-core instance.
    live = LiveScaling(now=clock(), interval_s=15.0, host_cores=8, instance_cores=1.0)
    feed(live, clock, 12.5, 16)
    decision = live.engine.last_decision
    assert decision.action.value == "scale_up"
    assert decision.inputs["utilisation"] == pytest.approx(1.0, rel=0.01)


def test_storage_grows_once_ahead_of_a_full_disk(clock):
    live = LiveScaling(
        now=clock(), interval_s=15.0, disk_forecast=lambda: np.array([85.0, 88.0, 92.0])
    )
    feed(live, clock, 10.0, 16)
    assert live.pool.storage_gb == 120  # 100 GB x 92 / 80, rounded up to 10
    feed(live, clock, 10.0, 60)  # 92 % of 100 GB is 77 % of 120 GB
    assert live.pool.storage_gb == 120
    grows = [d for d in live.engine.history if d.action.value == "grow_storage"]
    assert len(grows) == 1 and "critical" in grows[0].reason


def test_executed_counts_are_mirrored_to_the_webhook(clock):
    received: list[dict] = []

    class Handler(QuietHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

    with loopback_server(Handler) as url:
        hook = WebhookExecutor(f"{url}/scale")
        live = LiveScaling(now=clock(), interval_s=15.0, webhook=hook, host_cores=2)
        feed(live, clock, 97.0, 16)  # scale-up decision
        deadline = time.monotonic() + 5
        while not live.webhook_results and time.monotonic() < deadline:
            time.sleep(0.02)
        assert live.webhook_results and live.webhook_results[0].ok
        assert received[0]["desired_instances"] == live.engine.last_decision.target
        assert live.resources(clock())["webhook"]["results"][0]["ok"] is True


def test_webhook_url_from_the_environment_is_checked(monkeypatch):
    monkeypatch.setenv("SCALING_WEBHOOK_URL", "ftp://nowhere")
    with pytest.raises(InputError, match="webhook URL"):
        from_settings(from_environment(), 1_800_000_000.0)


def test_a_manual_override_holds_then_auto_resumes(client, live, clock):
    decision = client.post("/api/scaling/execute", json={"instances": 3, "hold_s": 120})
    assert decision.status_code == 200 and decision.get_json()["inputs"]["hold_s"] == 120
    status = client.get("/api/scaling/status").get_json()
    assert status["override_until"] == pytest.approx(clock() + 120)
    feed(live, clock, 5.0, 100)  # idle, but the hold keeps the pool at 3
    status = client.get("/api/scaling/status").get_json()
    assert status["desired"] == 3 and status["last_decision"]["rule"] == "manual-hold"
    assert "resume" in status["last_decision"]["reason"]
    feed(live, clock, 5.0, 500)  # the hold has ended: back to automatic, and down
    status = client.get("/api/scaling/status").get_json()
    assert status["override_until"] is None and status["desired"] == 1
    for bad in ({"instances": 2, "hold_s": -1}, {"instances": 2, "hold_s": "10"}):
        assert client.post("/api/scaling/execute", json=bad).status_code == 400


def test_desired_answers_the_keda_metrics_api_contract(client, live, clock):
    doc = client.get("/api/scaling/desired").get_json()
    assert {"desired_instances", "ready_instances", "min_instances", "max_instances"} <= set(doc)
    assert doc["desired_instances"] == 1 and doc["ready_instances"] == 1
    feed(live, clock, 97.0, 16)
    doc = client.get("/api/scaling/desired").get_json()
    assert doc["desired_instances"] >= 2 and doc["ready_instances"] == 1  # booting still
    client.post("/api/scaling/mode", json={"mode": "dry-run"})
    client.post("/api/scaling/execute", json={"instances": 1, "hold_s": 0})
    feed(live, clock, 97.0, 16)
    doc = client.get("/api/scaling/desired").get_json()
    assert doc["mode"] == "dry-run" and doc["desired_instances"] >= 2  # its recommendation


def test_injected_fault_is_replaced_by_the_health_check(client, live, clock):
    first = client.get("/api/resources").get_json()["instances"][0]["id"]
    assert client.post(f"/api/resources/{first}/fail").status_code == 415  # JSON bodies only
    doc = client.post(f"/api/resources/{first}/fail", json={}).get_json()
    kinds = [e["kind"] for e in doc["events"]]
    assert "unhealthy" in kinds
    feed(live, clock, 20.0, 120)
    doc = client.get("/api/resources").get_json()
    assert first not in [i["id"] for i in doc["instances"] if i["state"] == "ready"]
    assert [i for i in doc["instances"] if i["state"] == "ready"]  # a replacement serves
    missing = client.post("/api/resources/9999/fail", json={})
    assert missing.status_code == 400 and "9999" in missing.get_json()["error"]


def test_max_is_clamped_to_what_this_host_can_need(services):
    from foresight.live.scaling import LiveScaling

    live = LiveScaling(now=1.0, max_instances=10, host_cores=2, instance_cores=1.0)
    assert live.pool.max_instances == 3  # 2 cores at 80 % need at most ceil(2 / 0.8)
    (limited,) = [c for c in live.conditions() if c["type"] == "ScalingLimited"]
    assert "clamped from 10 to 3" in limited["message"]
    roomy = LiveScaling(now=1.0, max_instances=10, host_cores=64, instance_cores=1.0)
    assert roomy.pool.max_instances == 10 and not roomy.conditions()


def test_a_clamp_set_by_memory_says_memory(services):
    # 2 cores need ceil(2 / 0.8) = 3 instances at most, 16 GB at 2 GB each ceil(8 / 0.8)
    # = 10: memory sets the clamp, and the condition must not put it on the cores.
    from foresight.live.scaling import LiveScaling

    live = LiveScaling(
        now=1.0,
        max_instances=20,
        host_cores=2,
        instance_cores=1.0,
        host_memory_gb=16.0,
        instance_memory_gb=2.0,
    )
    assert live.pool.max_instances == 10
    (limited,) = [c for c in live.conditions() if c["type"] == "ScalingLimited"]
    assert "clamped from 20 to 10" in limited["message"]
    assert "16.0 GB of memory at 2.0 GB per instance" in limited["message"]
    assert "cores" not in limited["message"]


def test_desired_instances_is_exported_and_the_keda_example_matches(client, live, clock):
    from pathlib import Path

    from prometheus_client.parser import text_string_to_metric_families

    feed(live, clock, 97.0, 16)
    desired = client.get("/api/scaling/desired").get_json()["desired_instances"]
    families = {
        f.name: f for f in text_string_to_metric_families(client.get("/metrics").get_data(True))
    }
    assert families["foresight_desired_instances"].samples[0].value == desired
    example = (Path(__file__).resolve().parents[2] / "deploy/keda/scaledobject.yaml").read_text()
    assert "/api/scaling/desired" in example and 'valueLocation: "desired_instances"' in example


@pytest.mark.parametrize("stored", [True, False], ids=["store", "memory"])
def test_paging_history_by_cursor_loses_nothing(services, client, live, clock, stored):
    # Decisions are sparser than capacity points: a page that cuts the points at its
    # limit must not carry a cursor past points (or decisions) it did not return.
    if not stored:
        live.decision_log = None
    start = clock()
    feed(live, clock, 97.0, 16)  # a scale-up
    for instances in (3, 1, 2):  # and manual overrides, a minute of points apart
        feed(live, clock, 20.0, 60)
        client.post("/api/scaling/execute", json={"instances": instances, "hold_s": 0})
    feed(live, clock, 20.0, 60)
    full = client.get(f"/api/scaling/history?since={start}&limit=1000").get_json()
    assert len(full["points"]) > len(full["decisions"]) >= 2
    points, decisions, cursor = [], [], start
    for _ in range(200):
        page = client.get(f"/api/scaling/history?since={cursor}&limit=2").get_json()
        if not page["points"] and not page["decisions"]:
            break
        points += page["points"]
        decisions += page["decisions"]
        cursor = page["cursor"]
    assert [p["timestamp"] for p in points] == [p["timestamp"] for p in full["points"]]
    assert [d["timestamp"] for d in decisions] == [d["timestamp"] for d in full["decisions"]]


def test_decisions_survive_a_restart_and_page_by_time(services, client, live, clock, tmp_path):
    from foresight.live.scaling import from_settings

    feed(live, clock, 97.0, 16)
    client.post("/api/scaling/execute", json={"instances": 1, "hold_s": 0})
    first = client.get("/api/scaling/history?limit=100").get_json()
    assert [d["rule"] for d in first["decisions"]][-1] == "manual-override"
    assert first["cursor"] >= first["decisions"][-1]["timestamp"]
    nothing_new = client.get(f"/api/scaling/history?since={first['cursor']}").get_json()
    assert nothing_new["points"] == [] and nothing_new["decisions"] == []
    feed(live, clock, 97.0, 16)
    newer = client.get(f"/api/scaling/history?since={first['cursor']}").get_json()
    assert newer["decisions"] and all(d["timestamp"] > first["cursor"] for d in newer["decisions"])
    # A new engine on the same store (a restart) still shows every decision.
    again = from_settings(services.settings, clock(), store=services.store)
    kept = again.history(100)["decisions"]
    assert [d["timestamp"] for d in kept] == [
        d["timestamp"] for d in first["decisions"] + newer["decisions"]
    ]
