"""Predictions API: forecasts with intervals, each model's accuracy, recent anomalies.

Reads what ``foresight.live.models`` computed on its schedule; never fits a model on the
request path.
"""

from __future__ import annotations

import logging
import math

from flask import Response, jsonify

from foresight.live.models import EXTRAS_KEY, tier_for_seconds
from foresight.models.anomaly import AnomalyDetector
from foresight.web import responses as out
from foresight.web import schemas
from foresight.web.api import Blueprint
from foresight.web.params import check_metric, extension, horizon, relative

logger = logging.getLogger(__name__)

blueprint = Blueprint(
    "predictions", __name__, url_prefix="/api", description="Forecasts and anomalies"
)
OFF = "Forecasting is switched off in this monitor"


@blueprint.route("/predictions", methods=["GET"])
@blueprint.arguments(schemas.HorizonQuery, location="query", as_kwargs=True)
@blueprint.response(200, out.PredictionsSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_predictions(hours: int | None = None, minutes: int | None = None) -> Response:
    """Forecasts with 80/95 % intervals for every metric, each model's accuracy, and the
    last day's anomalies."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    hours, minutes, horizon_s = horizon(hours, minutes)
    tier = tier_for_seconds(horizon_s)
    now = services.clock()
    forecasts = {m: live.state(m, tier).to_dict(horizon_s) for m in services.known_metrics()}
    return jsonify(
        {
            "generated_at": now,
            "hours": hours,
            "minutes": minutes,
            "tier": tier.name,
            "step_s": tier.step_s,
            "horizon_steps": min(
                tier.horizon_steps, max(1, math.ceil(horizon_s / tier.step_s - 1e-9))
            ),
            "refit_every_s": live.refit_every_s,
            "forecasts": forecasts,
            "anomalies": live.anomalies(since=now - 86_400.0, limit=50),
        }
    )


@blueprint.route("/metrics/<name>/forecast", methods=["GET"])
@blueprint.arguments(schemas.HorizonQuery, location="query", as_kwargs=True)
@blueprint.response(200, out.ModelStateSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_metric_forecast(
    name: str, hours: int | None = None, minutes: int | None = None
) -> Response:
    """One metric's forecast with intervals and accuracy."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    check_metric(name, services.known_metrics())
    _, _, horizon_s = horizon(hours, minutes)
    return jsonify(live.state(name, tier_for_seconds(horizon_s)).to_dict(horizon_s))


@blueprint.route("/anomalies", methods=["GET"])
@blueprint.arguments(schemas.AnomaliesQuery, location="query", as_kwargs=True)
@blueprint.response(200, out.AnomaliesSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_anomalies(limit: int, metric: str | None = None, since: float | None = None) -> Response:
    """Recent anomalies (newest first) and every metric's latest score."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    metric = metric or None
    if metric is not None:
        check_metric(metric, services.known_metrics())
    now = services.clock()
    since = relative(since, now)
    return jsonify(
        {
            "threshold": AnomalyDetector().threshold,
            "anomalies": live.anomalies(since=since, metric=metric, limit=limit),
            "scores": live.scores(),
            "episodes": live.episodes.recent(since=since, metric=metric, limit=limit),
        }
    )
