"""Scaling API: status, history, manual override, mode, and the pool's resources.

The dashboard's before_request hook applies the token rule to the POST routes, and
errors use ``{"error": "..."}``.
"""

from __future__ import annotations

import logging

from flask import Response, jsonify

from foresight.live.scaling import EXTRAS_KEY
from foresight.web import responses as out
from foresight.web import scaling_responses as scaling_out
from foresight.web import schemas
from foresight.web.api import Blueprint
from foresight.web.params import extension, relative

logger = logging.getLogger(__name__)

blueprint = Blueprint(
    "scaling", __name__, url_prefix="/api", description="The scaling engine and its pool"
)
OFF = "Scaling is switched off in this monitor"


@blueprint.route("/scaling/status", methods=["GET"])
@blueprint.response(200, scaling_out.ScalingStatusSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_scaling_status() -> Response:
    """Policy, mode, instances by state, cost vs budget, last decision with reason."""
    live, services = extension(EXTRAS_KEY, "scaling")
    return jsonify(live.status(services.clock()))


@blueprint.route("/scaling/history", methods=["GET"])
@blueprint.arguments(schemas.HistoryQuery, location="query", as_kwargs=True)
@blueprint.response(200, scaling_out.ScalingHistorySchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_scaling_history(limit: int, since: float | None = None) -> Response:
    """Capacity points (demand, ready, booting, forecast used) and decisions, paged by
    time: decisions come from the store, so they survive a restart."""
    live, services = extension(EXTRAS_KEY, "scaling")
    return jsonify(live.history(limit, relative(since, services.clock())))


@blueprint.route("/scaling/execute", methods=["POST"])
@blueprint.arguments(schemas.ExecuteBody, as_kwargs=True)
@blueprint.response(200, scaling_out.DecisionSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def execute_scaling(instances: int, hold_s: float) -> Response:
    """Manual override: set the instance count (bounded by the pool's min/max), held for
    `hold_s` seconds (default 600) before automatic decisions resume."""
    live, services = extension(EXTRAS_KEY, "scaling")
    decision = live.override(instances, services.clock(), hold_s=hold_s)
    logger.info("manual override to %d instances", instances)
    return jsonify(decision.to_dict())


@blueprint.route("/scaling/mode", methods=["POST"])
@blueprint.arguments(schemas.ModeBody, as_kwargs=True)
@blueprint.response(200, scaling_out.ScalingStatusSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def set_scaling_mode(mode: str) -> Response:
    """Set the engine mode: auto, dry-run (record only) or paused. It is saved: it wins
    over SCALING_MODE, across restarts, until it is set here again."""
    live, services = extension(EXTRAS_KEY, "scaling")
    live.set_mode(mode, services.clock())
    return jsonify(live.status(services.clock()))


@blueprint.route("/resources", methods=["GET"])
@blueprint.response(200, scaling_out.ResourcesSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_resources() -> Response:
    """The simulated pool: instances with their states, storage, size, recent events."""
    live, services = extension(EXTRAS_KEY, "scaling")
    return jsonify(live.resources(services.clock()))


@blueprint.route("/scaling/desired", methods=["GET"])
@blueprint.response(200, scaling_out.DesiredSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_desired() -> Response:
    """The instance count to run now, for KEDA's metrics-api scaler.

    Point a ScaledObject's `metrics-api` trigger at this URL with
    `valueLocation: desired_instances` (see deploy/keda/scaledobject.yaml).
    """
    live, services = extension(EXTRAS_KEY, "scaling")
    return jsonify(live.desired(services.clock()))


@blueprint.route("/resources/<int:instance_id>/fail", methods=["POST"])
@blueprint.arguments(schemas.EmptyBody)
@blueprint.response(200, scaling_out.ResourcesSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def fail_instance(_body: dict, instance_id: int) -> Response:
    """Inject a fault: the instance fails its next health check and the pool replaces it
    (see the event log). A 400 names the live instances when the id is not one."""
    live, services = extension(EXTRAS_KEY, "scaling")
    return jsonify(live.fail_instance(instance_id, services.clock()))
