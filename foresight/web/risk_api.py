"""Failure-risk API: crash risk from the forecasts (seed 000) and a trained model's
failure probability (seed 002). Logic lives in ``foresight.risk`` and ``foresight.live.risk``;
the handlers parse, call and answer."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, abort, jsonify

from foresight.core.errors import InputError
from foresight.live import risk_training
from foresight.live.models import EXTRAS_KEY as MODELS_KEY
from foresight.live.models import tier_for_seconds
from foresight.live.risk import EXTRAS_KEY, crash_risk_now
from foresight.risk import advice
from foresight.risk.crash import scaling_alerts
from foresight.web import responses as out
from foresight.web import risk_schemas as rs
from foresight.web import schemas
from foresight.web.api import Blueprint
from foresight.web.params import extension, horizon

logger = logging.getLogger(__name__)

blueprint = Blueprint("risk", __name__, url_prefix="/api", description="Failure risk")
OFF = "Forecasting is switched off in this monitor"
NO_MODEL = (
    "no failure-risk model is configured: train one with `main.py risk-train` and start "
    "the monitor with FORESIGHT_RISK_MODEL=DIR, or POST /api/risk/train"
)
ONSET = "alerts at onset: the risk rises as incidents start; no lead time is promised"


@blueprint.route("/crash-risk", methods=["GET"])
@blueprint.arguments(schemas.HorizonQuery, location="query", as_kwargs=True)
@blueprint.response(200, rs.CrashRiskSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_crash_risk(hours: int | None = None, minutes: int | None = None) -> Response:
    """Crash risk in [0, 1] from the forecast bands crossing the crash levels (CPU 90 %,
    DB 400 ms, API 250 ms, disk critical), with its level and factors."""
    _, services = extension(MODELS_KEY, "forecasting")
    _, _, horizon_s = horizon(hours, minutes)
    return jsonify(crash_risk_now(services, horizon_s, services.clock()).to_dict())


@blueprint.route("/predict", methods=["GET"])
@blueprint.arguments(schemas.HorizonQuery, location="query", as_kwargs=True)
@blueprint.response(200, rs.PredictAllSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_predict(hours: int | None = None, minutes: int | None = None) -> Response:
    """Seed 000's combined answer: per-metric predictions, scaling alerts, crash risk."""
    live, services = extension(MODELS_KEY, "forecasting")
    hours, minutes, horizon_s = horizon(hours, minutes)
    tier = tier_for_seconds(horizon_s)
    now = services.clock()
    risk = crash_risk_now(services, horizon_s, now)
    predictions = {m: live.state(m, tier).to_dict(horizon_s) for m in services.known_metrics()}
    return jsonify(
        {
            "generated_at": now,
            "hours": hours,
            "minutes": minutes,
            "predictions": predictions,
            "scaling_alerts": scaling_alerts(risk),
            "crash_risk": risk.to_dict(),
        }
    )


@blueprint.route("/risk/status", methods=["GET"])
@blueprint.response(200, rs.RiskStatusSchema)
def get_risk_status() -> Response:
    """The latest cycle's crash risk and failure probability, and the model in words."""
    live, _ = extension(EXTRAS_KEY, "failure risk")
    crash, failure = live.latest()
    return jsonify(
        {
            "crash_risk": None if crash is None else crash.to_dict(),
            "failure": failure,
            "model": live.model_summary(),
            "note": ONSET,
            "training": live.trainer.state().to_dict() if live.trainer else None,
        }
    )


@blueprint.route("/risk/train", methods=["POST"])
@blueprint.arguments(rs.RiskTrainBody)
@blueprint.response(202, rs.RiskTrainingSchema)
@blueprint.alt_response(409, schema=out.ErrorSchema, description="A job is already running")
def post_risk_train(body: dict) -> tuple[Response, int]:
    """Train the failure-risk model on the stored history in the background, labelled by
    a stored metric (``label_metric``) or the alert history (``alerts: true``). Its
    state shows in ``/api/risk/status``; the model is saved under the data dir and served
    by ``/api/risk/predict`` and the live risk stage when it is done."""
    live, services = extension(EXTRAS_KEY, "failure risk")
    label_metric, alerts = body.get("label_metric"), bool(body.get("alerts", False))
    if (label_metric is None) == (not alerts):
        raise InputError("give one label source: label_metric, or alerts: true")
    if body.get("alert_rule") is not None and not alerts:
        raise InputError("alert_rule needs alerts: true")
    now = services.clock()
    request = risk_training.TrainRequest(
        label_metric=label_metric,
        alert_rule=body.get("alert_rule"),
        use_alerts=alerts,
        since=now - body.get("days", 30.0) * 86_400.0,
        until=now,
        step_s=body.get("step_s", 60.0),
        horizon_s=body.get("horizon_s", 1800.0),
        models=tuple(m.strip() for m in body.get("models", "lr").split(",")),
    )
    try:
        state = live.trainer.start(request)
    except RuntimeError as exc:
        return jsonify({"error": str(exc)}), 409
    return jsonify(state.to_dict()), 202


def _model() -> tuple[Any, Any]:
    live, services = extension(EXTRAS_KEY, "failure risk")
    if live.model is None:
        abort(503, description=NO_MODEL)
    return live, services


def _answer(records: list[dict]) -> tuple[list[dict], str, float]:
    live, services = _model()
    try:
        rows = advice.rows_from_records(records, live.model.metrics_)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    found = [p.to_dict() for p in advice.predict(live.model, rows)]
    return found, live.model.model_name_, services.clock()


@blueprint.route("/risk/predict", methods=["POST"])
@blueprint.arguments(rs.PredictBody)
@blueprint.response(200, rs.PredictionSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=NO_MODEL)
def post_risk_predict(body: dict) -> Response:
    """Failure probability of one metric vector, its level, confidence and the
    recommendations of the metrics that drive it."""
    found, model, now = _answer([body])
    return jsonify({**found[0], "model_used": model, "timestamp": now})


@blueprint.route("/risk/predict/batch", methods=["POST"])
@blueprint.arguments(rs.BatchBody, as_kwargs=True)
@blueprint.response(200, rs.BatchPredictionSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=NO_MODEL)
def post_risk_predict_batch(rows: list[dict]) -> Response:
    """Up to 1,000 independent metric vectors; more is a 400."""
    found, model, now = _answer(rows)
    stamped = [{**p, "model_used": model, "timestamp": now} for p in found]
    return jsonify(
        {"predictions": stamped, "count": len(stamped), "model_used": model, "timestamp": now}
    )
