"""Models API: what each metric's forecaster is, and a way to refit now.

    GET  /api/models  per metric and tier: the served model, every candidate's
                      validation MASE beside the baselines, fitted-at, history used
    POST /api/train   mark every model (or ``{"metric": name}``'s) due and wake the
                      model job; fitting happens there, never on the request

Thin handlers over ``foresight.live.models.LiveModels``. POST follows the token rule
(``dashboard`` checks the bearer token) and takes only a JSON body (``Content-Type:
application/json``, which a cross-site form cannot send without a preflight) from the
same origin when the browser says where it comes from.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, request

from foresight.core.errors import InputError
from foresight.live.models import EXTRAS_KEY
from foresight.web.params import extension

logger = logging.getLogger(__name__)

blueprint = Blueprint("models", __name__, url_prefix="/api")


def _json_body() -> dict:
    """The request's JSON object body ({} when empty); 400 for anything else."""
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        raise InputError(f"cross-origin request from {origin!r} refused")
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not request.is_json:
        raise InputError(
            f"the body must be JSON with Content-Type: application/json "
            f"(got {request.content_type!r})"
        )
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"the body must be JSON (got a parse error: {exc})") from None
    if not isinstance(body, dict):
        raise InputError(f"the body must be a JSON object (got {type(body).__name__})")
    return body


@blueprint.get("/models")
def models() -> Response:
    """Every metric's served model per tier, its candidates' scores and its history."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    return jsonify({"generated_at": services.clock(), "models": live.overview()})


@blueprint.post("/train")
def train() -> tuple[Response, int]:
    """Refit now: every model, or one metric's (``{"metric": "cpu_percent"}``)."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    metric = _json_body().get("metric")
    if metric is not None and metric not in services.known_metrics():
        raise InputError(
            f"unknown metric {metric!r}; known metrics: {', '.join(services.known_metrics())}"
        )
    queued = live.request_refit(services.clock(), metric)
    logger.info("refit requested for %s (%d models)", metric or "every metric", queued)
    return jsonify({"queued": queued, "metric": metric}), 202


_ERROR = {"$ref": "#/components/schemas/Error"}


def _ok(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS: dict[str, Any] = {
    "/api/models": {
        "get": {
            "summary": "Per metric and tier: the served model, each candidate's validation "
            "MASE beside the last value and seasonal naive, when it was fitted and the "
            "history it used",
            "responses": {
                "200": _ok(
                    "Models",
                    {
                        "type": "object",
                        "properties": {
                            "generated_at": {"type": "number"},
                            "models": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                ),
                "503": _ok("Forecasting is not installed in this monitor", _ERROR),
            },
        }
    },
    "/api/train": {
        "post": {
            "summary": "Refit now (every model, or one metric's); the model job does the work",
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"metric": {"type": "string"}}}
                    }
                },
            },
            "responses": {
                "202": _ok(
                    "Queued",
                    {
                        "type": "object",
                        "properties": {
                            "queued": {"type": "integer"},
                            "metric": {"type": ["string", "null"]},
                        },
                    },
                ),
                "400": _ok("Bad body or unknown metric", _ERROR),
                "401": _ok("A token is configured and the request lacks it", _ERROR),
                "503": _ok("Forecasting is not installed in this monitor", _ERROR),
            },
        }
    },
}
