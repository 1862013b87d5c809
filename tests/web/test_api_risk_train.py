"""POST /api/risk/train: train on the stored history with a label metric or the alert
history, in the background; the model is saved under the data dir, served at once by
/api/risk/predict and the live stage, loaded again after a restart; clear 400s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dashboard import create_app
from foresight.core.settings import Settings
from foresight.live import risk_training
from foresight.live.risk import EXTRAS_KEY
from foresight.live.services import build_services, stop
from foresight.risk.alarms import runs
from foresight.risk.synth import COLUMNS, synth
from foresight.store.alert_log import AlertLog, AlertRecord

DAYS = 4
START = 1_800_000_000.0
END = START + DAYS * 86_400.0


def _fill(store, label: str | None = "incident", incidents: bool = True) -> np.ndarray:
    """Write DAYS of synthetic LMS metrics (and the label metric) into the store."""
    frame = synth(DAYS, START, seed=5)  # incidents on days 0, 2 and 3
    incident = frame.incident if incidents else np.zeros(len(frame.incident), dtype=bool)
    rows = []
    for t, values, inc in zip(frame.timestamps, frame.values, incident, strict=True):
        row = {name: float(v) for name, v in zip(COLUMNS, values, strict=True)}
        if label is not None:
            row[label] = float(inc)
        rows.append((float(t), row))
    store.append_many(rows)
    return incident


@pytest.fixture
def monitor(tmp_path: Path, clock):
    clock.now = END + 60.0
    svc = build_services(Settings(data_dir=tmp_path / "data"), now=clock())
    svc.clock = clock
    yield svc, create_app({"TESTING": True}, services=svc).test_client()
    stop(svc)


def _wait_done(svc, client) -> dict:
    svc.extras[EXTRAS_KEY].trainer.join(timeout_s=300)
    status = client.get("/api/risk/status").get_json()
    return status


def test_trains_on_a_label_metric_then_serves_and_survives_a_restart(
    monitor, tmp_path: Path, clock
) -> None:
    svc, client = monitor
    _fill(svc.store)
    assert client.get("/api/risk/status").get_json()["training"]["state"] == "idle"
    r = client.post("/api/risk/train", json={"label_metric": "incident", "days": DAYS + 1})
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["state"] == "running"
    assert r.get_json()["request"]["label_source"] == "metric incident"
    status = _wait_done(svc, client)
    assert status["training"]["state"] == "done", status["training"]
    assert status["model"]["pr_auc"] == status["training"]["validation_pr_auc"]
    assert "alerts at onset" in status["model"]["summary"]
    saved = tmp_path / "data" / risk_training.MODEL_DIR
    assert (saved / "model_card.json").is_file() and (saved / "model.skops").is_file()
    # served at once: the model's metrics are the store's, without the label metric
    live = svc.extras[EXTRAS_KEY]
    assert "incident" not in live.model.metrics_ and set(live.model.metrics_) == set(COLUMNS)
    body = {m: 1.0 for m in live.model.metrics_}
    answer = client.post("/api/risk/predict", json=body)
    assert answer.status_code == 200 and 0 <= answer.get_json()["failure_probability"] <= 1
    # a restart loads the trained model from the data dir
    again = build_services(Settings(data_dir=tmp_path / "data"), now=clock())
    try:
        assert again.extras[EXTRAS_KEY].model.metrics_ == live.model.metrics_
    finally:
        stop(again)


def test_trains_on_the_alert_history(monitor) -> None:
    svc, client = monitor
    incident = _fill(svc.store, label=None)
    stamps = START + 60.0 * np.arange(len(incident))
    records = [
        AlertRecord(
            rule="ApiSlow",
            metric="api_response_ms",
            severity="critical",
            state="resolved",
            value=300.0,
            threshold=250.0,
            since=stamps[a],
            updated_at=stamps[b - 1],
            fired_at=stamps[a],
            resolved_at=stamps[b - 1],
        )
        for a, b in runs(incident)
    ]
    AlertLog(svc.store).save(records)
    r = client.post("/api/risk/train", json={"alerts": True, "alert_rule": "ApiSlow"})
    assert r.status_code == 202, r.get_json()
    status = _wait_done(svc, client)
    assert status["training"]["state"] == "done", status["training"]
    assert status["training"]["request"]["label_source"] == "alert history of rule ApiSlow"
    assert status["model"] is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "give one label source"),
        ({"label_metric": "incident", "alerts": True}, "give one label source"),
        ({"label_metric": "incident", "alert_rule": "X"}, "alert_rule needs alerts: true"),
        ({"label_metric": "nope"}, "unknown label metric 'nope'"),
        ({"alerts": True, "alert_rule": "Nope"}, "no alert of rule 'Nope'"),
        ({"alerts": True}, "no incident minutes in the alert history"),
        ({"label_metric": "incident", "days": 0.1}, "too little history to train"),
        ({"label_metric": "incident", "models": "lr,lstm"}, "--models must be"),
        ({"label_metric": "incident", "step_s": 0}, "step_s"),
    ],
)
def test_bad_requests_are_400_and_start_nothing(monitor, body: dict, message: str) -> None:
    svc, client = monitor
    _fill(svc.store)
    r = client.post("/api/risk/train", json=body)
    assert r.status_code == 400 and message in r.get_json()["error"], r.get_json()
    assert client.get("/api/risk/status").get_json()["training"]["state"] == "idle"


def test_a_label_metric_without_incidents_is_400(monitor) -> None:
    svc, client = monitor
    _fill(svc.store, incidents=False)
    r = client.post("/api/risk/train", json={"label_metric": "incident"})
    assert r.status_code == 400
    assert "no incident minutes in the metric incident" in r.get_json()["error"]


def test_an_empty_store_is_too_little_history(monitor) -> None:
    _, client = monitor
    r = client.post("/api/risk/train", json={"alerts": True})
    assert r.status_code == 400 and "too little history" in r.get_json()["error"]


def test_train_needs_the_token_when_set(tmp_path: Path, clock) -> None:
    svc = build_services(Settings(data_dir=tmp_path / "d", token="s3cret"), now=clock())
    try:
        c = create_app({"TESTING": True}, services=svc).test_client()
        assert c.post("/api/risk/train", json={"alerts": True}).status_code == 401
        ok = c.post(
            "/api/risk/train", json={"alerts": True}, headers={"Authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 400  # past the token: an empty store has no history
    finally:
        stop(svc)
