"""Predictions API: forecasts with intervals, each model's accuracy, recent anomalies.

Registered through ``dashboard.BLUEPRINT_MODULES``. Reads what ``live_models`` computed
on its schedule; never fits a model on the request path.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, Response, jsonify, request

from foresight.core.errors import InputError
from foresight.live.episodes import EPISODE_SCHEMA
from foresight.live.models import ALL_TIERS, EXTRAS_KEY, tier_for_seconds
from foresight.models.anomaly import AnomalyDetector
from foresight.web.params import extension, query_float, query_int

logger = logging.getLogger(__name__)

blueprint = Blueprint("predictions", __name__, url_prefix="/api")

MAX_HOURS = 168


def _horizon() -> tuple[int | None, int | None, float]:
    """Parse ``hours`` (1-168, default 1) or, instead, ``minutes`` (1-59): the horizon.

    Returns (hours, minutes, horizon in seconds); the unused one is None.
    """
    hours = query_int(request.args, "hours", 0, minimum=1, maximum=MAX_HOURS) or None
    minutes = query_int(request.args, "minutes", 0, minimum=1, maximum=59) or None
    if hours is not None and minutes is not None:
        raise InputError("give hours or minutes, not both")
    if minutes is not None:
        return None, minutes, minutes * 60.0
    hours = hours or 1
    return hours, None, hours * 3600.0


def _check_metric(name: str, services: Any) -> None:
    known = services.known_metrics()
    if name not in known:
        raise InputError(f"unknown metric {name!r}; known metrics: {', '.join(known)}")


@blueprint.get("/predictions")
def predictions() -> Response:
    """Every metric's forecast for the next ``hours`` with intervals and accuracy."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    hours, minutes, horizon_s = _horizon()
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


@blueprint.get("/metrics/<name>/forecast")
def metric_forecast(name: str) -> Response:
    """One metric's forecast for the next ``hours``, its interval bands and accuracy."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    _check_metric(name, services)
    _, _, horizon_s = _horizon()
    return jsonify(live.state(name, tier_for_seconds(horizon_s)).to_dict(horizon_s))


@blueprint.get("/anomalies")
def anomalies() -> Response:
    """Recent anomalies (newest first) and the latest score of every metric."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    metric = request.args.get("metric") or None
    if metric is not None:
        _check_metric(metric, services)
    now = services.clock()
    since = query_float(request.args, "since", None)
    if since is not None and since < 0:
        since = now + since
    limit = query_int(request.args, "limit", 100, minimum=1, maximum=1000)
    return jsonify(
        {
            "threshold": AnomalyDetector().threshold,
            "anomalies": live.anomalies(since=since, metric=metric, limit=limit),
            "scores": live.scores(),
            "episodes": live.episodes.recent(since=since, metric=metric, limit=limit),
        }
    )


# ---- OpenAPI -----------------------------------------------------------------------------
def _ok(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = {"$ref": "#/components/schemas/Error"}
_BAD = _ok("Bad parameter or unknown metric; the message says what is allowed", _ERROR)
_OFF = _ok("Forecasting is not installed in this monitor", _ERROR)
_HOURS = {
    "name": "hours",
    "in": "query",
    "required": False,
    "description": "Hours ahead, 1-168. Up to 1 h uses 1-minute steps, up to 24 h "
    "15-minute steps, beyond that hourly steps.",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HOURS, "default": 1},
}
_MINUTES = {
    "name": "minutes",
    "in": "query",
    "required": False,
    "description": "Instead of hours: minutes ahead, 1-59. Up to 5 min uses "
    "10-second steps (ready about 25 min after start), beyond that "
    "1-minute steps.",
    "schema": {"type": "integer", "minimum": 1, "maximum": 59},
}
_NUMBERS = {"type": "array", "items": {"type": "number"}}
_FORECAST = {
    "type": ["object", "null"],
    "description": "null until the model is fitted",
    "properties": {
        "timestamps": _NUMBERS,
        "step_s": {"type": "number"},
        "mean": _NUMBERS,
        "lower_80": _NUMBERS,
        "upper_80": _NUMBERS,
        "lower_95": _NUMBERS,
        "upper_95": _NUMBERS,
    },
}
_ACCURACY = {
    "type": ["object", "null"],
    "description": "Latest rolling-origin backtest (MASE on the seasonal-naive "
    "scale) and a plain-words summary",
    "properties": {
        "mase": {"type": "number"},
        "seasonal_naive_mase": {"type": "number"},
        "linear_lags_mase": {"type": "number"},
        "coverage_80": {"type": "number"},
        "coverage_95": {"type": "number"},
        "n_origins": {"type": "integer"},
        "season_length": {"type": ["integer", "null"]},
        "summary": {"type": "string"},
    },
}
_MODEL = {
    "type": "object",
    "required": ["metric", "status", "forecast", "accuracy"],
    "properties": {
        "metric": {"type": "string"},
        "status": {"enum": ["ok", "warming_up"]},
        "message": {"type": ["string", "null"], "description": "why there is no forecast yet"},
        "tier": {"enum": [t.name for t in ALL_TIERS]},
        "step_s": {"type": "number"},
        "horizon_steps": {"type": "integer"},
        "observed_steps": {"type": "integer"},
        "checked_at": {"type": ["number", "null"]},
        "fitted_at": {"type": ["number", "null"]},
        "forecast_made_at": {"type": ["number", "null"]},
        "accuracy": _ACCURACY,
        "forecast": _FORECAST,
    },
}
_ANOMALY = {
    "type": "object",
    "properties": {
        "timestamp": {"type": "number"},
        "metric": {"type": "string"},
        "value": {"type": "number"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/predictions": {
        "get": {
            "summary": "Forecasts with 80/95 % intervals for every metric, each model's "
            "accuracy, and the last day's anomalies",
            "parameters": [_HOURS, _MINUTES],
            "responses": {
                "200": _ok(
                    "Predictions",
                    {
                        "type": "object",
                        "properties": {
                            "generated_at": {"type": "number"},
                            "hours": {"type": ["integer", "null"]},
                            "minutes": {"type": ["integer", "null"]},
                            "tier": {"type": "string"},
                            "step_s": {"type": "number"},
                            "horizon_steps": {"type": "integer"},
                            "refit_every_s": {"type": "number"},
                            "forecasts": {"type": "object", "additionalProperties": _MODEL},
                            "anomalies": {"type": "array", "items": _ANOMALY},
                        },
                    },
                ),
                "400": _BAD,
                "503": _OFF,
            },
        }
    },
    "/api/metrics/{name}/forecast": {
        "get": {
            "summary": "One metric's forecast with intervals and accuracy",
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                _HOURS,
                _MINUTES,
            ],
            "responses": {"200": _ok("Forecast", _MODEL), "400": _BAD, "503": _OFF},
        }
    },
    "/api/anomalies": {
        "get": {
            "summary": "Recent anomalies (newest first) and every metric's latest score",
            "parameters": [
                {
                    "name": "metric",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Only this metric",
                },
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "number"},
                    "description": "Epoch seconds; negative means seconds before now",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                },
            ],
            "responses": {
                "200": _ok(
                    "Anomalies",
                    {
                        "type": "object",
                        "properties": {
                            "threshold": {"type": "number"},
                            "anomalies": {"type": "array", "items": _ANOMALY},
                            "scores": {"type": "object"},
                            "episodes": {"type": "array", "items": EPISODE_SCHEMA},
                        },
                    },
                ),
                "400": _BAD,
                "503": _OFF,
            },
        }
    },
}
