"""Response schemas of the monitor API (``foresight.web.monitor_api``): metric history,
realtime samples, health, verification and the stress test.

Every object schema forbids unknown keys; ``foresight.web.responses`` says why.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from foresight.web.alert_schemas import AlertHealthSchema
from foresight.web.samples_schemas import SourceHealthSchema


class CurrentSchema(Schema):
    timestamp = fields.Float(allow_none=True)
    value = fields.Float(allow_none=True)
    level = fields.String(validate=validate.OneOf(["ok", "warning", "critical", "unknown"]))


class MetricSeriesSchema(Schema):
    unit = fields.String()
    description = fields.String()
    warning = fields.Float(allow_none=True)
    critical = fields.Float(allow_none=True)
    current = fields.Nested(CurrentSchema)
    points = fields.List(
        fields.List(fields.Float(), metadata={"minItems": 2, "maxItems": 2}),
        metadata={"description": "[epoch seconds, value] pairs"},
    )


class MetricsHistorySchema(Schema):
    since = fields.Float(required=True)
    until = fields.Float(required=True)
    limit = fields.Integer(required=True)
    step_s = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Bucket width of the points; null: raw samples"},
    )
    data_since = fields.Float(
        allow_none=True,
        metadata={"description": "The oldest time the store holds for these metrics; null: none"},
    )
    metrics = fields.Dict(
        keys=fields.String(), values=fields.Nested(MetricSeriesSchema), required=True
    )
    target = fields.String(metadata={"description": 'Whose series these are ("": this host)'})
    targets = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": 'Every known metric and its targets ("": this host)'},
    )


class SampleSchema(Schema):
    timestamp = fields.Float(required=True)
    values = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    stored = fields.Boolean(
        metadata={
            "description": "Present and false when the store could not keep this sample (a fault)"
        }
    )


class CurrentValueSchema(Schema):
    value = fields.Float(allow_none=True)
    level = fields.String()
    unit = fields.String()


class RealtimeSchema(Schema):
    cursor = fields.Float(required=True, allow_none=True)
    server_time = fields.Float(required=True)
    interval_s = fields.Float(required=True)
    samples = fields.List(fields.Nested(SampleSchema), required=True)
    current = fields.Dict(
        keys=fields.String(), values=fields.Nested(CurrentValueSchema), required=True
    )


class HostSchema(Schema):
    hostname = fields.String()
    platform = fields.String()
    cpu_count = fields.Integer()
    boot_time = fields.Float()
    python = fields.String()
    psutil_version = fields.String()
    pid = fields.Integer()
    memory_total_bytes = fields.Integer()
    swap_total_bytes = fields.Integer()


class JitterSchema(Schema):
    p50 = fields.Float(allow_none=True)
    p99 = fields.Float(allow_none=True)
    max = fields.Float(allow_none=True)


class StoreFaultSchema(Schema):
    error = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    since = fields.Float(allow_none=True)
    until = fields.Float(allow_none=True)
    not_stored = fields.Integer()


class StoreHealthSchema(Schema):
    path = fields.String()
    size_bytes = fields.Integer(allow_none=True)
    samples = fields.Integer(allow_none=True)
    metrics = fields.Integer(allow_none=True)
    retention_days = fields.Float()
    read_error = fields.String(allow_none=True, metadata={"description": "Why counts are null"})
    ok = fields.Boolean(metadata={"description": "false while writes fail"})
    error = fields.String(allow_none=True, metadata={"description": "The write error's text"})
    code = fields.String(allow_none=True, metadata={"description": "e.g. SQLITE_FULL"})
    since = fields.Float(allow_none=True, metadata={"description": "When writes began failing"})
    not_stored = fields.Integer(metadata={"description": "Samples kept in memory only"})
    failed_writes = fields.Integer()
    last_fault = fields.Nested(
        StoreFaultSchema, allow_none=True, metadata={"description": "The last fault, once over"}
    )


class FitFailureSchema(Schema):
    kind = fields.String(validate=validate.OneOf(["crash", "hang", "error"]))
    at = fields.Float(metadata={"description": "When it was noticed (epoch seconds)"})
    pid = fields.Integer(allow_none=True, metadata={"description": "The worker's pid"})
    message = fields.String()


class FitWorkerHealthSchema(Schema):
    jobs = fields.Integer(metadata={"description": "Fits sent to the worker"})
    failed = fields.Integer(metadata={"description": "Fits that produced nothing"})
    crashes = fields.Integer(metadata={"description": "Workers that died while fitting"})
    hangs = fields.Integer(
        metadata={"description": "Workers killed after FIT_TIMEOUT_S without an answer"}
    )
    starts = fields.Integer(metadata={"description": "Worker processes started"})
    fit_cpu_s = fields.Float(metadata={"description": "CPU seconds the fits reported"})
    pending = fields.Integer(metadata={"description": "Fits queued or running"})
    alive = fields.Boolean(metadata={"description": "A worker process is running now"})
    last_worker_pid = fields.Integer(allow_none=True)
    timeout_s = fields.Float(metadata={"description": "FIT_TIMEOUT_S"})
    last_failure = fields.Nested(FitFailureSchema, allow_none=True)


class HealthSchema(Schema):
    status = fields.String(validate=validate.OneOf(["ok", "degraded", "stopped"]))
    reasons = fields.List(fields.String(), metadata={"description": "Why status is not ok"})
    uptime_s = fields.Float()
    interval_s = fields.Float()
    last_sample_age_s = fields.Float(allow_none=True)
    ticks = fields.Integer()
    missed_ticks = fields.Integer()
    tick_errors = fields.Integer(metadata={"description": "Ticks whose collect or store failed"})
    jitter_ms = fields.Nested(JitterSchema)
    stage_errors = fields.Integer(metadata={"description": "Failed runs of later stages"})
    stages = fields.Integer(metadata={"description": "Stages after the store (models, ...)"})
    store = fields.Nested(StoreHealthSchema)
    host = fields.Nested(HostSchema)
    alerts = fields.Nested(
        AlertHealthSchema,
        allow_none=True,
        metadata={"description": "Rules, alert counts, notification failures (null: off)"},
    )
    source = fields.Nested(
        SourceHealthSchema,
        allow_none=True,
        metadata={"description": "The Prometheus source's state (null: this host's sampler)"},
    )
    pushed_scoring = fields.Nested(
        lambda: PushedScoringSchema(),
        allow_none=True,
        metadata={
            "description": "Anomaly scores and alerts of POST /api/samples batches, run on a "
            "background thread (null: no live models or alerts)"
        },
    )
    fit_worker = fields.Nested(
        FitWorkerHealthSchema,
        allow_none=True,
        metadata={"description": "The fit worker process: crashes, hangs (null: no models)"},
    )


class PushedScoringSchema(Schema):
    batches = fields.Integer(metadata={"description": "Batches scored"})
    points = fields.Integer(metadata={"description": "Points in them"})
    queued_batches = fields.Integer(metadata={"description": "Waiting to be scored"})
    dropped_batches = fields.Integer(metadata={"description": "Stored but not scored (queue full)"})
    errors = fields.Integer(metadata={"description": "Batches whose scoring failed (logged)"})


class SampleCountsSchema(Schema):
    ticks_this_run = fields.Integer()
    in_memory = fields.Integer()
    stored_values = fields.Integer()
    metrics = fields.Integer()


class ReadingSchema(Schema):
    timestamp = fields.Float(allow_none=True)
    values = fields.Dict(keys=fields.String(), values=fields.Float())


class VerificationSchema(Schema):
    psutil_version = fields.String()
    pid = fields.Integer()
    host = fields.Nested(HostSchema)
    samples = fields.Nested(SampleCountsSchema)
    stored = fields.Nested(ReadingSchema)
    fresh = fields.Nested(ReadingSchema)
    difference = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "fresh minus stored, per metric"},
    )


class StressSchema(Schema):
    running = fields.Boolean()
    seconds = fields.Float(allow_none=True)
    cores = fields.Integer(allow_none=True)
    started_at = fields.Float(allow_none=True)
    remaining_s = fields.Float()
    max_seconds = fields.Float()
    max_cores = fields.Integer()
