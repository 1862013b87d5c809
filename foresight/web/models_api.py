"""Models API: what each metric's forecaster is, and a way to refit now.

Thin handlers over ``foresight.live.models.LiveModels``. ``POST /api/train`` marks the
models due and wakes the model job; fitting happens there, never on the request. It
follows the token rule and the same-origin JSON-only rule like every POST.
"""

from __future__ import annotations

import logging

from flask import Response, jsonify
from marshmallow import Schema, fields

from foresight.live.models import EXTRAS_KEY
from foresight.web import prediction_responses as prediction_out
from foresight.web import responses as out
from foresight.web.api import Blueprint
from foresight.web.params import check_metric, extension

logger = logging.getLogger(__name__)

blueprint = Blueprint("models", __name__, url_prefix="/api", description="The forecasters")
OFF = "Forecasting is switched off in this monitor"


class TrainBody(Schema):
    metric = fields.String(metadata={"description": "Only this metric's models (default: all)"})


class TrainedSchema(Schema):
    queued = fields.Integer(metadata={"description": "Models marked due for the model job"})
    metric = fields.String(allow_none=True)


class ModelRowSchema(prediction_out.ModelScoresSchema):
    metric = fields.String()
    tier = fields.String()
    status = fields.String()
    message = fields.String(allow_none=True)
    model = fields.String(allow_none=True, metadata={"description": "The served candidate"})
    model_words = fields.String(allow_none=True, metadata={"description": "It, in plain words"})
    summary = fields.String(allow_none=True)
    mase = fields.Float(allow_none=True)
    naive_mase = fields.Float(allow_none=True, metadata={"description": "The last value's"})
    seasonal_naive_mase = fields.Float(allow_none=True)
    coverage_80 = fields.Float(allow_none=True)
    interval_method = fields.String(
        allow_none=True, metadata={"description": "How the bands are made and kept calibrated"}
    )
    fitted_at = fields.Float(allow_none=True)
    selected_at = fields.Float(allow_none=True)
    history_steps = fields.Integer(allow_none=True)
    history_s = fields.Float(allow_none=True)
    step_s = fields.Float()


class ModelsSchema(Schema):
    generated_at = fields.Float()
    models = fields.List(fields.Nested(ModelRowSchema))


@blueprint.route("/models", methods=["GET"])
@blueprint.response(200, ModelsSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_models() -> Response:
    """Per metric and tier: the served model, each candidate's validation MASE beside the
    last value and seasonal naive, when it was fitted and the history it used."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    return jsonify({"generated_at": services.clock(), "models": live.overview()})


@blueprint.route("/train", methods=["POST"])
@blueprint.arguments(TrainBody, as_kwargs=True)
@blueprint.response(202, TrainedSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def train(metric: str | None = None) -> tuple[Response, int]:
    """Refit now (every model, or one metric's); the model job does the work."""
    live, services = extension(EXTRAS_KEY, "forecasting")
    if metric is not None:
        check_metric(metric, services.known_metrics())
    queued = live.request_refit(services.clock(), metric)
    logger.info("refit requested for %s (%d models)", metric or "every metric", queued)
    return jsonify({"queued": queued, "metric": metric}), 202
