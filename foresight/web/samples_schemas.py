"""Schemas of ``POST /api/samples`` (pushed metrics) and of the source's health block."""

from __future__ import annotations

import math
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from foresight.core.errors import InputError
from foresight.core.series import MAX_TARGET_CHARS, METRIC_NAME

MAX_SAMPLES = 10_000
SEED_FIELDS = ("cpu_usage", "memory_usage", "network_latency", "error_rate")
MAX_TIME_S = 1e10


def _finite(what: str, *, required: bool = False) -> fields.Float:
    return fields.Float(
        required=required,
        allow_nan=False,
        metadata={"description": what},
        validate=validate.Range(-1e300, 1e300),
    )


class PushedSampleSchema(Schema):
    timestamp = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(0, MAX_TIME_S),
        metadata={"description": "Epoch seconds (UTC)"},
    )
    target = fields.String(
        load_default="",
        validate=[validate.Length(max=MAX_TARGET_CHARS)],
        metadata={"description": 'Whose value (e.g. "web-1"); "" or absent: this host'},
    )
    metric = fields.String(
        required=True,
        validate=validate.Regexp(
            METRIC_NAME, error="metric must be a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        ),
        metadata={"description": "Metric name; a unit suffix (_percent, _ms, ...) is its unit"},
    )
    value = _finite("The value, in the metric's unit", required=True)

    @validates_schema
    def _target_printable(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("target", "").isprintable():
            raise ValidationError("target must be printable", "target")


class SamplesBody(Schema):
    """``{"samples": [...]}``, or seed 003's single reading (this host, now)."""

    samples = fields.List(
        fields.Nested(PushedSampleSchema),
        metadata={
            "description": f"At most {MAX_SAMPLES} samples, stored in one transaction; one bad "
            "sample rejects the batch (the 400 names its index and field)",
            "maxItems": MAX_SAMPLES,
        },
    )
    cpu_usage = _finite("Seed 003: CPU usage, %")
    memory_usage = _finite("Seed 003: memory usage, %")
    network_latency = _finite("Seed 003: network latency, ms")
    error_rate = _finite("Seed 003: error rate, %")
    timestamp = fields.Float(
        allow_nan=False,
        validate=validate.Range(0, MAX_TIME_S),
        metadata={"description": "Seed 003 form only: when (epoch s; default now)"},
    )

    def load(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        """Validate ``samples`` in one plain loop (marshmallow's nested load takes ~0.8 s
        for 10,000), the same rules as ``PushedSampleSchema``; the rest by marshmallow."""
        if not isinstance(data, dict) or "samples" not in data:
            return super().load(data, *args, **kwargs)
        items = data["samples"]
        if not isinstance(items, list):
            raise InputError(f"samples must be a list (got {type(items).__name__})")
        if len(items) > MAX_SAMPLES:
            raise InputError(
                f"at most {MAX_SAMPLES} samples per request (got {len(items)}); split the batch"
            )
        others = sorted(set(data) - {"samples"})
        if set(others) & {*SEED_FIELDS, "timestamp"}:
            raise InputError("give either samples or seed 003's reading (cpu_usage, ...), not both")
        if others:
            raise InputError(f"unknown field(s) {', '.join(others)}")
        return {"samples": [_sample(index, item) for index, item in enumerate(items)]}

    @validates_schema
    def _one_form(self, data: dict[str, Any], **kwargs: Any) -> None:
        seed = [f for f in SEED_FIELDS if f in data]
        if "samples" not in data and not seed:
            raise InputError(f"give samples, or at least one of {', '.join(SEED_FIELDS)}")


_KEYS = frozenset({"timestamp", "target", "metric", "value"})


def _bad(index: int, field: str, text: str, got: Any) -> InputError:
    return InputError(f"sample {index}: {field}: {text} (got {got!r:.80}); nothing was stored")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _sample(index: int, item: Any) -> dict[str, Any]:
    """One pushed sample checked by hand (the rules of ``PushedSampleSchema``)."""
    if not isinstance(item, dict):
        raise _bad(index, "sample", "must be an object", item)
    if not _KEYS.issuperset(item):
        extra = sorted(set(item) - _KEYS)
        raise _bad(index, extra[0], "unknown field", item[extra[0]])
    for name in ("timestamp", "metric", "value"):
        if name not in item:
            raise _bad(index, name, "is required", None)
    ts, metric, value = item["timestamp"], item["metric"], item["value"]
    target = item.get("target", "")
    if not _number(ts) or not 0 <= ts <= MAX_TIME_S:
        raise _bad(index, "timestamp", f"must be epoch seconds from 0 to {MAX_TIME_S:g}", ts)
    if not isinstance(metric, str) or not METRIC_NAME.match(metric):
        raise _bad(index, "metric", "must be a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", metric)
    if not _number(value) or abs(value) > 1e300:
        raise _bad(index, "value", "must be a finite number", value)
    if not isinstance(target, str) or len(target) > MAX_TARGET_CHARS:
        raise _bad(index, "target", f"must be a string of at most {MAX_TARGET_CHARS}", target)
    if not target.isprintable():
        raise _bad(index, "target", "target must be printable", target)
    return {"timestamp": float(ts), "target": target, "metric": metric, "value": float(value)}


class SamplesResult(Schema):
    received = fields.Integer(required=True, metadata={"description": "Samples in the request"})
    stored = fields.Integer(
        required=True,
        metadata={
            "description": "New values stored (one already stored for the series and "
            "timestamp is kept: first write wins)"
        },
    )
    series = fields.List(fields.String(), required=True, metadata={"description": "Series keys"})
    scoring = fields.String(
        validate=validate.OneOf(["queued", "dropped", "off"]),
        metadata={
            "description": "Anomaly scores and alert rules for these points: queued (run "
            "on a background thread, in timestamp order), dropped (too many batches "
            "behind; stored all the same) or off (no live models or alerts)"
        },
    )


class SourceHealthSchema(Schema):
    kind = fields.String(metadata={"description": "prometheus"})
    url = fields.String()
    queries = fields.List(fields.String())
    up = fields.Boolean(allow_none=True, metadata={"description": "null: not read yet"})
    error = fields.String(allow_none=True)
    since = fields.Float(allow_none=True, metadata={"description": "When up last changed"})
    last_success_at = fields.Float(allow_none=True)
    failures = fields.Integer(metadata={"description": "Failed reads in a row"})
    query_errors = fields.Dict(keys=fields.String(), values=fields.String())
    series = fields.Integer(metadata={"description": "Series the last read returned"})
    caught_up_points = fields.Integer(
        metadata={"description": "Points read by query_range to fill gaps, this run"}
    )
