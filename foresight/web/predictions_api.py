"""Predictions API: forecasts with intervals, each model's accuracy, recent anomalies.

Reads what ``foresight.live.models`` computed on its schedule; never fits a model on the
request path.
"""

from __future__ import annotations

import logging
import math

from flask import Response, jsonify

from foresight.live.anomaly_stage import MAX_ANOMALIES
from foresight.live.models import EXTRAS_KEY, tier_for_seconds
from foresight.models.anomaly import AnomalyDetector
from foresight.web import prediction_responses as prediction_out
from foresight.web import responses as out
from foresight.web import schemas
from foresight.web.api import Blueprint
from foresight.web.params import (
    check_metric,
    extension,
    horizon,
    of_series,
    relative,
    target_series,
)

logger = logging.getLogger(__name__)

blueprint = Blueprint(
    "predictions", __name__, url_prefix="/api", description="Forecasts and anomalies"
)
OFF = "Forecasting is switched off in this monitor"


@blueprint.route("/predictions", methods=["GET"])
@blueprint.arguments(schemas.TargetHorizonQuery, location="query", as_kwargs=True)
@blueprint.response(200, prediction_out.PredictionsSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_predictions(
    hours: int | None = None, minutes: int | None = None, target: str | None = None
) -> Response:
    """Forecasts with 80/95 % intervals for every metric of a target (default: this host),
    each model's accuracy, and the last day's anomalies."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    hours, minutes, horizon_s = horizon(hours, minutes)
    tier = tier_for_seconds(horizon_s)
    now = services.clock()
    series = target_series(services, target)
    forecasts = {
        m: {**live.state(key, tier).to_dict(horizon_s), "metric": m} for m, key in series.items()
    }
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
            "anomalies": of_series(live.anomalies(since=now - 86_400.0, limit=1000), series)[:50],
        }
    )


@blueprint.route("/metrics/<path:name>/forecast", methods=["GET"])
@blueprint.arguments(schemas.TargetHorizonQuery, location="query", as_kwargs=True)
@blueprint.response(200, prediction_out.ModelStateSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_metric_forecast(
    name: str, hours: int | None = None, minutes: int | None = None, target: str | None = None
) -> Response:
    """One metric's forecast with intervals and accuracy (of `target`: default this host)."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    series = target_series(services, target)
    check_metric(name, sorted(series))
    _, _, horizon_s = horizon(hours, minutes)
    state = live.state(series[name], tier_for_seconds(horizon_s)).to_dict(horizon_s)
    return jsonify({**state, "metric": name})


@blueprint.route("/anomalies", methods=["GET"])
@blueprint.arguments(schemas.AnomaliesQuery, location="query", as_kwargs=True)
@blueprint.response(200, prediction_out.AnomaliesSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_anomalies(
    limit: int, metric: str | None = None, since: float | None = None, target: str | None = None
) -> Response:
    """Recent anomalies (newest first) and every metric's latest score, of one target
    (default: this host; episodes span metrics and are this host's)."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    metric = metric or None
    series = target_series(services, target)
    if metric is not None:
        check_metric(metric, sorted(series))
    key = None if metric is None else series[metric]
    now = services.clock()
    since = relative(since, now)
    anomalies = live.anomalies(since=since, metric=key, limit=MAX_ANOMALIES)
    names = {k: m for m, k in series.items()}
    return jsonify(
        {
            "threshold": AnomalyDetector().threshold,
            "anomalies": of_series(anomalies, series)[:limit],
            "scores": {names[k]: v for k, v in live.scores().items() if k in names},
            "episodes": live.episodes.recent(since=since, metric=metric, limit=limit)
            if not target
            else [],
        }
    )
