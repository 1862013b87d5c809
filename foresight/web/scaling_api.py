"""Scaling API: status, history, manual override, mode, and the pool's resources.

Registered through ``dashboard.BLUEPRINT_MODULES``; the dashboard's before_request hook
applies the token rule to the POST routes, and errors use ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from foresight.core.errors import InputError
from foresight.live.scaling import EXTRAS_KEY, HISTORY_POINTS
from foresight.web.params import extension, query_int
from scaling_engine import EngineMode

logger = logging.getLogger(__name__)

blueprint = Blueprint("scaling", __name__, url_prefix="/api")


def _json_object() -> dict:
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise InputError(f"the body must be JSON (got a parse error: {exc})") from None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object")
    return body


@blueprint.get("/scaling/status")
def scaling_status() -> Response:
    """Policy, mode, instances by state, cost vs budget, last decision with reason."""
    live, services = extension(EXTRAS_KEY, "scaling")
    return jsonify(live.status(services.clock()))


@blueprint.get("/scaling/history")
def scaling_history() -> Response:
    """Capacity points (demand, ready, booting, forecast used) and recent decisions."""
    live, _ = extension(EXTRAS_KEY, "scaling")
    limit = query_int(request.args, "limit", 480, minimum=1, maximum=HISTORY_POINTS)
    return jsonify(live.history(limit))


@blueprint.post("/scaling/execute")
def scaling_execute() -> Response:
    """Manual override: set the instance count (bounded by min/max)."""
    live, services = extension(EXTRAS_KEY, "scaling")
    body = _json_object()
    instances = body.get("instances")
    if isinstance(instances, float) and instances.is_integer():
        instances = int(instances)  # 2.0 is a whole number in JSON
    if isinstance(instances, bool) or not isinstance(instances, int):
        raise InputError(f"instances must be a whole number (got {instances!r})")
    decision = live.override(instances, services.clock())
    logger.info("manual override to %d instances", instances)
    return jsonify(decision.to_dict())


@blueprint.post("/scaling/mode")
def scaling_mode() -> Response:
    """Switch between auto, dry-run (record only) and paused."""
    live, services = extension(EXTRAS_KEY, "scaling")
    mode = _json_object().get("mode")
    if not isinstance(mode, str):
        raise InputError(f"mode must be one of auto, dry-run, paused (got {mode!r})")
    live.set_mode(mode)
    return jsonify(live.status(services.clock()))


@blueprint.get("/resources")
def resources() -> Response:
    """The simulated pool: instances with their states, storage, size, recent events."""
    live, services = extension(EXTRAS_KEY, "scaling")
    return jsonify(live.resources(services.clock()))


# ---- OpenAPI -----------------------------------------------------------------------------
def _ok(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = {"$ref": "#/components/schemas/Error"}
_BAD = _ok("Bad body; the message says what is allowed", _ERROR)
_UNAUTH = _ok("A token is configured and the request lacks 'Authorization: Bearer <token>'", _ERROR)
_OFF = _ok("Scaling is not installed in this monitor", _ERROR)
_DECISION = {
    "type": "object",
    "required": [
        "timestamp",
        "policy",
        "action",
        "current",
        "target",
        "reason",
        "rule",
        "confidence",
    ],
    "properties": {
        "timestamp": {"type": "number"},
        "policy": {"type": "string"},
        "action": {"enum": ["scale_up", "scale_down", "hold", "grow_storage", "resize_up"]},
        "current": {"type": "integer"},
        "target": {"type": "integer"},
        "reason": {"type": "string"},
        "rule": {"type": "string"},
        "confidence": {"type": "number"},
        "inputs": {"type": "object"},
        "mode": {"enum": [m.value for m in EngineMode]},
        "execution": {"type": ["object", "null"]},
    },
}
_STATUS = {
    "type": "object",
    "required": ["policy", "mode", "instances", "cost", "last_decision"],
    "properties": {
        "policy": {"type": "string"},
        "mode": {"enum": [m.value for m in EngineMode]},
        "interval_s": {"type": "number"},
        "boot_s": {"type": "number"},
        "instances": {
            "type": "object",
            "description": "count by state",
            "additionalProperties": {"type": "integer"},
        },
        "desired": {"type": "integer"},
        "min_instances": {"type": "integer"},
        "max_instances": {"type": "integer"},
        "demand_units": {"type": ["number", "null"]},
        "cost": {"type": "object"},
        "forecast_quality": {
            "type": ["number", "null"],
            "description": "forecast error / 'no change' error",
        },
        "last_decision": {"oneOf": [_DECISION, {"type": "null"}]},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/scaling/status": {
        "get": {
            "summary": "Scaling policy, mode, instances by state, cost vs budget, last decision",
            "responses": {"200": _ok("Status", _STATUS), "503": _OFF},
        }
    },
    "/api/scaling/history": {
        "get": {
            "summary": "Capacity over time (demand, ready, booting, forecast used) and decisions",
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "Most recent capacity points",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": HISTORY_POINTS,
                        "default": 480,
                    },
                }
            ],
            "responses": {
                "200": _ok(
                    "History",
                    {
                        "type": "object",
                        "properties": {
                            "points": {"type": "array", "items": {"type": "object"}},
                            "decisions": {"type": "array", "items": _DECISION},
                        },
                    },
                ),
                "400": _BAD,
                "503": _OFF,
            },
        }
    },
    "/api/scaling/execute": {
        "post": {
            "summary": "Manual override: set the instance count (min..max)",
            "security": [{"bearer": []}, {}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["instances"],
                            "properties": {
                                "instances": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "maximum": 10_000,
                                    "description": "From MIN_INSTANCES to MAX_INSTANCES "
                                    "(default 1 to 10); outside them a 400",
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _ok("The override, as a decision", _DECISION),
                "400": _BAD,
                "401": _UNAUTH,
                "503": _OFF,
            },
        }
    },
    "/api/scaling/mode": {
        "post": {
            "summary": "Set the engine mode: auto, dry-run (record only) or paused",
            "security": [{"bearer": []}, {}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["mode"],
                            "properties": {"mode": {"enum": [m.value for m in EngineMode]}},
                        }
                    }
                },
            },
            "responses": {
                "200": _ok("Status after the change", _STATUS),
                "400": _BAD,
                "401": _UNAUTH,
                "503": _OFF,
            },
        }
    },
    "/api/resources": {
        "get": {
            "summary": "The simulated resource pool: instances, size, storage, recent events",
            "responses": {
                "200": _ok(
                    "Resources",
                    {
                        "type": "object",
                        "properties": {
                            "pool": {"type": "object"},
                            "executor": {"type": "string"},
                            "instances": {"type": "array", "items": {"type": "object"}},
                            "events": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                ),
                "503": _OFF,
            },
        }
    },
}
