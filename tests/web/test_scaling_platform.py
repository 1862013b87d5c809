"""Issue 15: what the platform behind the webhook runs (read-back, drift, its alert),
memory as a second demand signal and the instance size, live, through the API.

The platform is a real HTTP server the test starts on a free loopback port
(``tests/scaling/platform_support.py``); the monitor is the real one, on a fake clock.
"""

from __future__ import annotations

import pytest

from foresight.core.settings import Settings
from foresight.live.scaling import EXTRAS_KEY, LiveScaling
from foresight.live.services import build_services, stop
from foresight.scaling.webhook import WebhookExecutor
from metrics_collector import Sample
from tests.scaling.platform_support import run_platform


def feed(live: LiveScaling, clock, values: dict[str, float], seconds: int) -> None:
    for _ in range(seconds):
        live.stage(clock.advance(1.0), Sample(clock(), dict(values)))


@pytest.fixture
def platform_monitor(tmp_path, clock, request):
    """A monitor whose webhook is a platform with a quota of 2 instances."""
    from dashboard import create_app

    quota, answer, status = request.param
    with run_platform(quota=quota, answer=answer) as platform:
        settings = Settings(
            data_dir=tmp_path / "data",
            scaling_webhook_url=platform.scale_url,
            scaling_status_url=platform.status_url if status else None,
        )
        svc = build_services(settings, now=clock())
        svc.clock = clock
        try:
            yield platform, svc, create_app({"TESTING": True}, services=svc).test_client()
        finally:
            stop(svc)


@pytest.mark.parametrize(
    "platform_monitor, source",
    [((2, "replicas", False), "response"), ((2, "empty", True), "status_url")],
    indirect=["platform_monitor"],
    ids=["count-in-the-answer", "status-url"],
)
def test_drift_is_read_back_shown_exported_and_alerted(platform_monitor, source, clock):
    platform, svc, client = platform_monitor
    live = svc.extras[EXTRAS_KEY]
    alerts = svc.extras["alerts"]
    assert client.get("/api/scaling/status").get_json()["platform"]["actual_instances"] is None
    # Every core busy: the engine asks for more than the platform's quota of 2.
    feed(live, clock, {"cpu_percent": 99.0}, 16)
    assert live.platform.wait_idle(10.0)
    asked = live.engine.last_decision.target
    assert asked > 2 and platform.posts[-1]["desired_instances"] == asked
    doc = client.get("/api/scaling/status").get_json()["platform"]
    assert doc["source"] == source and doc["actual_instances"] == 2 == platform.replicas
    assert doc["desired_instances"] == asked and doc["drift_instances"] == asked - 2
    if source == "status_url":
        assert platform.status_reads >= 1
    conditions = client.get("/api/scaling/status").get_json()["conditions"]
    assert any(c["type"] == "PlatformInSync" and c["status"] is False for c in conditions)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f"foresight_scaling_drift_instances {float(asked - 2)}" in metrics
    assert "foresight_actual_instances 2.0" in metrics
    # The ScalingDrift rule (for: 2m) fires once the drift has lasted.
    alerts.stage(clock(), Sample(clock(), {}))
    states = {a["name"]: a["state"] for a in alerts.engine.alerts(clock())}
    assert states.get("ScalingDrift") == "pending"
    alerts.stage(clock.advance(130.0), Sample(clock(), {}))
    firing = [a for a in alerts.engine.alerts(clock()) if a["name"] == "ScalingDrift"]
    assert firing and firing[0]["state"] == "firing"
    assert firing[0]["value"] == asked - 2
    # The quota is lifted: the next reading is in sync and the alert resolves.
    platform.quota = 1000
    live.override(asked, clock(), hold_s=0)
    assert live.platform.wait_idle(10.0)
    if source == "status_url":
        feed(live, clock, {"cpu_percent": 99.0}, 15)  # a decision polls the status URL
        assert live.platform.wait_idle(10.0)
    doc = client.get("/api/scaling/status").get_json()["platform"]
    assert doc["drift_instances"] == 0 and doc["drift_since"] is None
    alerts.stage(clock.advance(1.0), Sample(clock(), {}))
    states = {a["name"]: a["state"] for a in alerts.engine.alerts(clock())}
    assert states["ScalingDrift"] == "resolved"


def test_a_platform_in_step_has_no_drift_and_no_alert(clock):
    with run_platform(answer="actual") as platform:
        live = LiveScaling(now=clock(), webhook=WebhookExecutor(platform.scale_url), host_cores=2)
        feed(live, clock, {"cpu_percent": 99.0}, 16)
        assert live.platform.wait_idle(10.0)
        drift = live.status(clock())["platform"]
        assert drift["actual_instances"] == live.engine.last_decision.target
        assert drift["drift_instances"] == 0
        assert live.alert_values(clock()) == {"scaling_drift_instances": 0.0}


def test_a_bad_count_from_the_platform_is_no_reading(clock):
    with run_platform(answer="bad") as platform:
        hook = WebhookExecutor(platform.scale_url)
        result = hook.apply(3, clock(), "test")
        assert result.ok and result.actual is None  # sent, but no count to believe
        assert result.to_dict()["actual"] is None


def test_an_unreachable_status_url_is_an_error_not_a_count(clock):
    with run_platform(answer="empty") as platform:
        hook = WebhookExecutor(platform.scale_url, status_url="http://127.0.0.1:9/status")
        live = LiveScaling(now=clock(), webhook=hook, host_cores=2)
        feed(live, clock, {"cpu_percent": 99.0}, 16)
        assert live.platform.wait_idle(20.0)
        drift = live.status(clock())["platform"]
        assert drift["actual_instances"] is None and "status URL" in drift["error"]
        assert live.alert_values(clock()) == {}


def test_status_url_needs_the_webhook(tmp_path):
    from foresight.core.errors import InputError
    from foresight.live.scaling import from_settings

    settings = Settings(data_dir=tmp_path, scaling_status_url="http://127.0.0.1:9/status")
    with pytest.raises(InputError, match="SCALING_STATUS_URL needs SCALING_WEBHOOK_URL"):
        from_settings(settings, 0.0)


# ---- memory as a second signal -----------------------------------------------------------
def test_memory_drives_when_it_is_the_higher_signal(client, services, clock):
    live = services.extras[EXTRAS_KEY]
    cores = live.host_cores
    # CPU nearly idle, memory 90 % full: memory asks for the instances.
    feed(live, clock, {"cpu_percent": 5.0, "memory_percent": 90.0}, 16)
    last = live.engine.last_decision
    memory_units = 0.9 * live.host_memory_gb / live.instance_memory_gb
    assert last.action.value == "scale_up"
    assert "driven by memory" in last.reason
    assert last.inputs["signal"] == "memory"
    assert last.inputs["signals"]["memory"] == pytest.approx(memory_units, rel=1e-3)
    assert last.inputs["signals"]["cpu"] == pytest.approx(0.05 * cores, rel=1e-3)
    doc = client.get("/api/scaling/status").get_json()
    assert doc["demand_signal"] == "memory"
    assert doc["demand_units"] == pytest.approx(memory_units, rel=1e-3)
    point = client.get("/api/scaling/history?limit=1").get_json()["points"][-1]
    assert point["memory_units"] == pytest.approx(memory_units, rel=1e-3)


def test_cpu_drives_when_memory_is_low_or_missing(services, clock):
    live = services.extras[EXTRAS_KEY]
    feed(live, clock, {"cpu_percent": 99.0, "memory_percent": 1.0}, 16)
    assert live.engine.last_decision.inputs["signal"] == "cpu"
    assert "driven by cpu" in live.engine.last_decision.reason
    feed(live, clock, {"cpu_percent": 99.0}, 30)  # no memory reading: CPU alone
    last = live.engine.last_decision
    assert last.inputs["signal"] == "cpu" and last.inputs["signals"]["memory"] is None


def test_signals_can_be_limited_to_cpu(clock):
    live = LiveScaling(now=clock(), host_cores=2, signals=("cpu",))
    feed(live, clock, {"cpu_percent": 5.0, "memory_percent": 99.0}, 16)
    assert live.engine.last_decision.inputs["signals"] == {"cpu": pytest.approx(0.1)}
    assert live.status(clock())["demand_signals"] == {"cpu": pytest.approx(0.1)}


# ---- instance size -------------------------------------------------------------------------
def test_a_capped_count_recommends_and_applies_a_bigger_size(client, clock):
    live = LiveScaling(
        now=clock(), host_cores=4, max_instances=1, instance_memory_gb=2.0, host_memory_gb=16.0
    )
    status = live.status(clock())["size_recommendation"]
    assert status["size"] == "standard" and status["cpu_cores"] == 1.0
    feed(live, clock, {"cpu_percent": 99.0}, 16)  # wants 5 standard instances, max 1
    resized = [d for d in live.engine.history if d.action.value == "resize_up"]
    assert len(resized) == 1 and resized[0].rule == "count-capped"
    assert resized[0].inputs["recommended"] == {"size": "large", "cpu_cores": 2.0, "memory_gb": 4.0}
    assert live.pool.size.name == "large"
    rec = live.status(clock())["size_recommendation"]
    assert rec["current"]["size"] == "large"
    feed(live, clock, {"cpu_percent": 99.0}, 15)  # still capped: one step more
    assert live.pool.size.name == "xlarge"
    feed(live, clock, {"cpu_percent": 99.0}, 30)
    assert live.status(clock())["size_recommendation"]["rule"] in ("size-ok", "size-largest")


def test_dry_run_recommends_a_size_once_without_resizing(clock):
    live = LiveScaling(now=clock(), host_cores=4, max_instances=1)
    live.set_mode("dry-run")
    feed(live, clock, {"cpu_percent": 99.0}, 60)  # four decisions, all capped
    resized = [d for d in live.engine.history if d.action.value == "resize_up"]
    assert len(resized) == 1 and resized[0].mode.value == "dry-run"
    assert live.pool.size.name == "standard"
    assert live.status(clock())["size_recommendation"]["size"] == "large"
