"""Failure-risk endpoints: crash risk from live forecasts, predict with a trained model,
the batch limit, 503 without a model, the token rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dashboard import create_app
from foresight.core.settings import Settings
from foresight.live import models as live_models
from foresight.live.services import build_services, run_cycle, stop
from foresight.risk import persist
from foresight.risk.model import LabelledFile, RiskModel
from foresight.risk.synth import COLUMNS, synth
from metrics_collector import Sample

SEED_002 = list(COLUMNS[:7])  # cpu_usage ... active_connections


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = synth(4, 1_800_000_000.0, seed=5)
    f = LabelledFile("synth", frame.values[:, :7], frame.incident, 60.0)
    model = RiskModel(1800, ("lr",)).fit([f], SEED_002)
    card = persist.model_card(model, {"files": ["synth"]}, "2026-12-01T00:00:00Z")
    return persist.save(model, tmp_path_factory.mktemp("risk") / "model", card)


@pytest.fixture
def risk_client(tmp_path: Path, clock, model_dir: Path):
    settings = Settings(data_dir=tmp_path / "data", risk_model=str(model_dir))
    svc = build_services(settings, now=clock())
    svc.clock = clock
    yield create_app({"TESTING": True}, services=svc).test_client()
    stop(svc)


BODY = {
    "cpu_usage": 55.0,
    "memory_usage": 60.0,
    "disk_usage": 40.0,
    "network_latency_ms": 25.0,
    "error_count": 1.0,
    "response_time_ms": 120.0,
    "active_connections": 250.0,
}


def test_predict_answers_seed_002_body(risk_client) -> None:
    r = risk_client.post("/api/risk/predict", json=BODY)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert 0 <= body["failure_probability"] <= 1
    assert body["failure_risk"] in {"CRITICAL", "HIGH", "MEDIUM", "LOW", "MINIMAL"}
    assert body["model_used"] == "lr" and body["recommendations"]


def test_an_overloaded_vector_scores_higher_and_names_its_drivers(risk_client) -> None:
    calm = risk_client.post("/api/risk/predict", json=BODY).get_json()
    hot = dict(BODY, cpu_usage=99.0, memory_usage=97.0, error_count=40.0, response_time_ms=900.0)
    bad = risk_client.post("/api/risk/predict", json=hot).get_json()
    assert bad["failure_probability"] > calm["failure_probability"]
    assert bad["drivers"] and all(d in SEED_002 for d in bad["drivers"])
    assert any(d in rec for d in bad["drivers"] for rec in bad["recommendations"])


def test_batch_scores_rows_independently_and_caps_at_1000(risk_client) -> None:
    hot = dict(BODY, cpu_usage=99.0, error_count=40.0, response_time_ms=900.0)
    r = risk_client.post("/api/risk/predict/batch", json={"rows": [BODY, hot, BODY]})
    assert r.status_code == 200
    got = r.get_json()
    assert got["count"] == 3
    p = [x["failure_probability"] for x in got["predictions"]]
    assert p[0] == pytest.approx(p[2]) and p[1] > p[0]
    too_many = risk_client.post("/api/risk/predict/batch", json={"rows": [BODY] * 1001})
    assert too_many.status_code == 400
    assert "1 to 1,000 rows" in too_many.get_json()["error"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"cpu_usage": 50.0}, "missing memory_usage"),
        (dict(BODY, cpu_usage="hot"), "cpu_usage must be a number"),
        (dict(BODY, mystery=float("nan")), "mystery"),
    ],
)
def test_bad_bodies_are_400(risk_client, body: dict, message: str) -> None:
    import json

    r = risk_client.post(
        "/api/risk/predict", data=json.dumps(body), content_type="application/json"
    )
    assert r.status_code in (400, 200)
    if message == "mystery":  # an extra key is ignored only when it is a number
        return
    assert r.status_code == 400 and message in r.get_json()["error"]


def test_without_a_model_predict_is_503(client) -> None:
    r = client.post("/api/risk/predict", json=BODY)
    assert r.status_code == 503
    assert "FORESIGHT_RISK_MODEL" in r.get_json()["error"]


def test_post_needs_the_token_when_set(tmp_path: Path, clock, model_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", risk_model=str(model_dir), token="s3cret")
    svc = build_services(settings, now=clock())
    try:
        c = create_app({"TESTING": True}, services=svc).test_client()
        assert c.post("/api/risk/predict", json=BODY).status_code == 401
        ok = c.post("/api/risk/predict", json=BODY, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
    finally:
        stop(svc)


def test_crash_risk_from_a_rising_cpu_forecast(services, clock, client) -> None:
    times = np.arange(clock() - 8 * 3600.0, clock(), 30.0)
    ramp = np.clip(40 + 55 * (times - times[0]) / (times[-1] - times[0]), 0, 100)
    rng = np.random.default_rng(1)
    services.store.append_many(
        (float(t), {"cpu_percent": float(v + rng.normal(0, 1))}) for t, v in zip(times, ramp)
    )
    live = services.extras[live_models.EXTRAS_KEY]
    live.refit("cpu_percent", live_models.TIERS[0], clock())
    r = client.get("/api/crash-risk?hours=1")
    assert r.status_code == 200
    risk = r.get_json()
    assert 0 <= risk["score"] <= 1
    cpu = [f for f in risk["factors"] if f["metric"] == "cpu_percent"]
    assert cpu and risk["score"] >= cpu[0]["probability"] > 0.25
    assert clock() < cpu[0]["earliest_at"] <= clock() + 3600 + 60
    both = client.get("/api/predict?hours=1").get_json()
    assert "cpu_percent" in both["predictions"]
    assert both["crash_risk"]["score"] == pytest.approx(risk["score"])
    assert any(a["metric"] == "cpu_percent" for a in both["scaling_alerts"])
    run_cycle(services, clock.advance(1.0))
    status = client.get("/api/risk/status").get_json()
    assert status["crash_risk"] is not None and status["model"] is None
    assert "alerts at onset" in status["note"]


def test_bad_horizon_is_400(client) -> None:
    r = client.get("/api/crash-risk?hours=0")
    assert r.status_code == 400 and "hours" in r.get_json()["error"]


def test_prometheus_exports_the_risk_gauges(risk_client, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    app = risk_client.application
    svc = app.extensions["foresight"]
    run_cycle(svc, svc.clock() + 1.0)
    text = risk_client.get("/metrics").get_data(as_text=True)
    found = {f.name: f.samples[0].value for f in text_string_to_metric_families(text) if f.samples}
    assert 0 <= found["foresight_crash_risk_score"] <= 1
    # the host sampler's metrics are not the model's (seed 002's names): no probability
    assert "foresight_failure_probability" not in found
    live = svc.extras["live_risk"]
    live.stage(svc.clock(), Sample(svc.clock(), BODY))
    text = risk_client.get("/metrics").get_data(as_text=True)
    found = {f.name: f.samples[0].value for f in text_string_to_metric_families(text) if f.samples}
    assert 0 <= found["foresight_failure_probability"] <= 1


def test_the_failure_model_reads_a_held_probe_between_probes(risk_client) -> None:
    """A model with a probe's metric among its inputs scores every tick: between probes
    the last reading (``Sample.held``) stands in, as the alert rules read it."""
    live = risk_client.application.extensions["foresight"].extras["live_risk"]
    now = 1_800_000_100.0
    probe = {"response_time_ms": BODY["response_time_ms"]}  # measured at the last probe
    rest = {k: v for k, v in BODY.items() if k not in probe}
    live.stage(now, Sample(now, rest))  # no held reading: the model cannot score
    assert live.latest()[1] is None
    live.stage(now, Sample(now, rest, held=probe))
    held = live.latest()[1]
    live.stage(now, Sample(now, BODY))
    assert held is not None and held == live.latest()[1]
