"""The OpenAPI 3.1 document for the JSON API, as data, and the /api/docs page.

Blueprint modules listed in ``dashboard.BLUEPRINT_MODULES`` may expose
``OPENAPI_PATHS: dict`` (OpenAPI path items) which ``build_document`` merges in, so every
route under /api is described (a test checks this).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foresight.live.stress import DEFAULT_SECONDS, MAX_SECONDS
from foresight.web.monitor_api import DEFAULT_LIMIT, MAX_LIMIT


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


BAD_REQUEST = _error("Bad parameter or body; the message says what is allowed")
NOT_ALLOWED = _error("Method not allowed")
UNAUTHORIZED = _error("A token is configured and the request lacks 'Authorization: Bearer <token>'")

POINT = {
    "type": "array",
    "prefixItems": [{"type": "number"}, {"type": "number"}],
    "minItems": 2,
    "maxItems": 2,
    "description": "[epoch seconds, value]",
}

PATHS: dict[str, Any] = {
    "/api/metrics": {
        "get": {
            "summary": "Current values and downsampled history of metrics",
            "description": "At most `limit` points per metric for any range; values are bucket "
            "means over `step_s` seconds (null step_s: raw samples).",
            "parameters": [
                _param(
                    "metric",
                    "Comma-separated metric names (default: all). An unknown name "
                    "is a 400 listing the known ones.",
                    {"type": "string"},
                ),
                _param(
                    "since",
                    "Range start, epoch seconds; negative means seconds before now "
                    "(default: until - 300)",
                    {"type": "number"},
                ),
                _param(
                    "until",
                    "Range end, epoch seconds; negative means seconds before now (default: now)",
                    {"type": "number"},
                ),
                _param(
                    "limit",
                    "Most points per metric",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT,
                    },
                ),
                _param(
                    "step",
                    "Bucket width in seconds (widened to fit `limit`)",
                    {"type": "number", "minimum": 0.001},
                ),
            ],
            "responses": {
                "200": _ok("History", {"$ref": "#/components/schemas/MetricsHistory"}),
                "400": BAD_REQUEST,
                "405": NOT_ALLOWED,
            },
        }
    },
    "/api/metrics/realtime": {
        "get": {
            "summary": "Live feed: samples newer than a cursor, plus current values",
            "parameters": [
                _param(
                    "since",
                    "Cursor: return samples with timestamp > since "
                    "(default: the last 300 s; negative: seconds before now)",
                    {"type": "number"},
                )
            ],
            "responses": {
                "200": _ok(
                    "Samples after the cursor",
                    {
                        "type": "object",
                        "required": ["cursor", "server_time", "interval_s", "samples", "current"],
                        "properties": {
                            "cursor": {"type": ["number", "null"]},
                            "server_time": {"type": "number"},
                            "interval_s": {"type": "number"},
                            "samples": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Sample"},
                            },
                            "current": {"type": "object"},
                        },
                    },
                ),
                "400": BAD_REQUEST,
                "405": NOT_ALLOWED,
            },
        }
    },
    "/api/system/health": {
        "get": {
            "summary": "Sampler status, last sample age, jitter, missed ticks, store, uptime",
            "responses": {
                "200": _ok(
                    "Health",
                    {
                        "type": "object",
                        "properties": {
                            "status": {"enum": ["ok", "degraded", "stopped"]},
                            "reasons": {"type": "array", "items": {"type": "string"}},
                            "uptime_s": {"type": "number"},
                            "interval_s": {"type": "number"},
                            "last_sample_age_s": {"type": ["number", "null"]},
                            "ticks": {"type": "integer"},
                            "missed_ticks": {"type": "integer"},
                            "jitter_ms": {"type": "object"},
                            "stage_errors": {"type": "integer"},
                            "store": {"type": "object"},
                            "host": {"type": "object"},
                        },
                    },
                ),
                "405": NOT_ALLOWED,
            },
        }
    },
    "/api/verification": {
        "get": {
            "summary": "Evidence the data is real: psutil version, pid, host, sample counts, "
            "a fresh psutil reading next to the newest stored one",
            "responses": {"200": _ok("Verification"), "405": NOT_ALLOWED},
        }
    },
    "/api/stress-test": {
        "get": {
            "summary": "Status of the stress test",
            "responses": {"200": _ok("Status", {"$ref": "#/components/schemas/Stress"})},
        },
        "post": {
            "summary": "Start a bounded CPU burn in worker processes",
            "security": [{"bearer": []}, {}],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "seconds": {
                                    "type": "number",
                                    "exclusiveMinimum": 0,
                                    "maximum": MAX_SECONDS,
                                    "default": DEFAULT_SECONDS,
                                },
                                "cores": {
                                    "type": "integer",
                                    "minimum": 1,
                                    "default": 1,
                                    "description": "At most the host's CPU count",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "202": _ok("Started", {"$ref": "#/components/schemas/Stress"}),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "409": _error("A stress test is already running"),
            },
        },
        "delete": {
            "summary": "Cancel the running stress test",
            "security": [{"bearer": []}, {}],
            "responses": {
                "200": _ok("Status after cancelling", {"$ref": "#/components/schemas/Stress"}),
                "401": UNAUTHORIZED,
            },
        },
    },
    "/api/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": _ok("OpenAPI 3.1 document")}}
    },
    "/api/docs": {
        "get": {
            "summary": "Interactive API documentation (Swagger UI)",
            "responses": {"200": {"description": "HTML page"}},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus exposition (text format, base units)",
            "responses": {
                "200": {"description": "Prometheus text format", "content": {"text/plain": {}}}
            },
        }
    },
}

COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "Sample": {
            "type": "object",
            "required": ["timestamp", "values"],
            "properties": {
                "timestamp": {"type": "number"},
                "values": {"type": "object", "additionalProperties": {"type": "number"}},
                "stored": {"type": "boolean", "description": "false: not stored (store fault)"},
            },
        },
        "MetricsHistory": {
            "type": "object",
            "required": ["since", "until", "limit", "step_s", "metrics"],
            "properties": {
                "since": {"type": "number"},
                "until": {"type": "number"},
                "limit": {"type": "integer"},
                "step_s": {"type": ["number", "null"]},
                "metrics": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "unit": {"type": "string"},
                            "description": {"type": "string"},
                            "warning": {"type": ["number", "null"]},
                            "critical": {"type": ["number", "null"]},
                            "current": {
                                "type": "object",
                                "properties": {
                                    "timestamp": {"type": ["number", "null"]},
                                    "value": {"type": ["number", "null"]},
                                    "level": {"enum": ["ok", "warning", "critical", "unknown"]},
                                },
                            },
                            "points": {"type": "array", "items": POINT},
                        },
                    },
                },
            },
        },
        "Stress": {
            "type": "object",
            "properties": {
                "running": {"type": "boolean"},
                "seconds": {"type": ["number", "null"]},
                "cores": {"type": ["integer", "null"]},
                "started_at": {"type": ["number", "null"]},
                "remaining_s": {"type": "number"},
                "max_seconds": {"type": "number"},
                "max_cores": {"type": "integer"},
            },
        },
    },
    "securitySchemes": {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "FORESIGHT_TOKEN; required for state-changing requests when set",
        }
    },
}


def build_document(extra_paths: Mapping[str, Any], version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document: our paths plus those other blueprints contribute."""
    paths = dict(PATHS)
    for path, item in extra_paths.items():
        paths[path] = {**paths.get(path, {}), **item}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Foresight API",
            "version": version,
            "description": "Live host metrics, history, forecasts and scaling. Errors "
            'are JSON `{"error": "..."}`.',
        },
        "paths": paths,
        "components": COMPONENTS,
    }


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Foresight API</title>
<link rel="stylesheet" href="{{ url_for('static', filename='vendor/swagger-ui.css') }}">
</head><body><div id="swagger-ui"></div>
<script src="{{ url_for('static', filename='vendor/swagger-ui-bundle.js') }}"></script>
<script>
window.ui = SwaggerUIBundle({url: "{{ url_for('openapi_json') }}", dom_id: "#swagger-ui"});
</script></body></html>
"""
