"""Response schemas of the JSON API: what each GET and POST returns, key by key.

They document the answers in the OpenAPI document; the handlers still build their JSON
themselves (the hot paths splice cached bytes). Marshmallow's default ``unknown=RAISE``
becomes ``additionalProperties: false``, so the contract test in
``tests/web/test_contract.py`` fails on any key a handler sends that is not written here.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from foresight.scaling.policies import EngineMode, ScalingAction
from foresight.web.alert_schemas import AlertHealthSchema
from foresight.web.samples_schemas import SourceHealthSchema


def _numbers() -> fields.List:
    return fields.List(fields.Float(allow_none=True))


def _counts(description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": description}
    )


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "What was wrong"})


# ---- monitor -----------------------------------------------------------------------------
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


# ---- predictions -------------------------------------------------------------------------
class ForecastSchema(Schema):
    timestamps = _numbers()
    step_s = fields.Float(allow_none=True)
    mean = _numbers()
    lower_80 = _numbers()
    upper_80 = _numbers()
    lower_95 = _numbers()
    upper_95 = _numbers()
    anchor_timestamp = fields.Float(
        allow_none=True, metadata={"description": "The newest sample the forecast starts from"}
    )
    anchor_value = fields.Float(allow_none=True)


class ModelScoresSchema(Schema):
    """What a served forecast's accuracy block and a ``/api/models`` row share: each
    candidate's validation score and the live bands' record."""

    candidates = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        metadata={"description": "Each candidate's validation MASE"},
    )
    live_coverage_80 = fields.Float(
        allow_none=True,
        metadata={"description": "Share (0-1) of live actuals inside the 80 % band since chosen"},
    )
    live_outcomes = fields.Integer(
        allow_none=True, metadata={"description": "Live actuals scored against the bands"}
    )


class AccuracySchema(ModelScoresSchema):
    model = fields.String(metadata={"description": "The served candidate (ridge, last, ...)"})
    model_words = fields.String(metadata={"description": "The served model in plain words"})
    fast_start = fields.Boolean(
        metadata={
            "description": "Serving the fast start (last "
            "value with an empirical band) until a richer model wins"
        }
    )
    naive_mase = fields.Float(allow_none=True, metadata={"description": "The last value's"})
    interval_method = fields.String(metadata={"description": "How the bands are made"})
    aci_gamma = fields.Float(
        allow_none=True, metadata={"description": "The online ACI step size (Gibbs & Candès)"}
    )
    mase = fields.Float(allow_none=True)
    seasonal_naive_mase = fields.Float(allow_none=True)
    linear_lags_mase = fields.Float(allow_none=True)
    coverage_80 = fields.Float(allow_none=True)
    coverage_95 = fields.Float(allow_none=True)
    n_origins = fields.Integer()
    season_length = fields.Integer(allow_none=True)
    summary = fields.String(metadata={"description": "The accuracy in plain words"})


class ModelStateSchema(Schema):
    metric = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["ok", "warming_up"]))
    message = fields.String(
        allow_none=True, metadata={"description": "Why there is no forecast yet"}
    )
    tier = fields.String()
    model = fields.String(allow_none=True, metadata={"description": "The served candidate"})
    step_s = fields.Float()
    horizon_steps = fields.Integer()
    observed_steps = fields.Integer()
    checked_at = fields.Float(allow_none=True)
    fitted_at = fields.Float(allow_none=True)
    forecast_made_at = fields.Float(allow_none=True)
    accuracy = fields.Nested(
        AccuracySchema,
        required=True,
        allow_none=True,
        metadata={"description": "Latest rolling-origin backtest"},
    )
    forecast = fields.Nested(
        ForecastSchema,
        required=True,
        allow_none=True,
        metadata={"description": "null until the model is fitted"},
    )


class AnomalySchema(Schema):
    timestamp = fields.Float()
    metric = fields.String()
    value = fields.Float()
    score = fields.Float(validate=validate.Range(0, 1))


class PredictionsSchema(Schema):
    generated_at = fields.Float()
    hours = fields.Integer(allow_none=True)
    minutes = fields.Integer(allow_none=True)
    tier = fields.String()
    step_s = fields.Float()
    horizon_steps = fields.Integer()
    refit_every_s = fields.Float()
    forecasts = fields.Dict(keys=fields.String(), values=fields.Nested(ModelStateSchema))
    anomalies = fields.List(fields.Nested(AnomalySchema))


class ScoreSchema(Schema):
    timestamp = fields.Float()
    score = fields.Float()


class EpisodeMetricSchema(Schema):
    metric = fields.String()
    first_ts = fields.Float(metadata={"description": "Its first anomalous point"})
    peak_ts = fields.Float()
    peak_score = fields.Float()
    value = fields.Float(metadata={"description": "The value at the peak"})
    expected = fields.Float(
        allow_none=True, metadata={"description": "The detector's baseline at the peak"}
    )


class EpisodeSchema(Schema):
    id = fields.Integer()
    start = fields.Float(metadata={"description": "Epoch seconds of the first alert"})
    end = fields.Float(metadata={"description": "Epoch seconds of the last anomalous point"})
    duration_s = fields.Float()
    peak_score = fields.Float()
    closed = fields.Boolean()
    metrics = fields.List(fields.String())
    details = fields.List(fields.Nested(EpisodeMetricSchema))


class AnomaliesSchema(Schema):
    threshold = fields.Float()
    anomalies = fields.List(fields.Nested(AnomalySchema))
    scores = fields.Dict(keys=fields.String(), values=fields.Nested(ScoreSchema))
    episodes = fields.List(
        fields.Nested(EpisodeSchema),
        metadata={
            "description": "Consecutive anomalous points across metrics, newest "
            "first, kept in the store"
        },
    )


# ---- scaling -----------------------------------------------------------------------------
class ExecutionSchema(Schema):
    executor = fields.String()
    desired = fields.Integer()
    ok = fields.Boolean()
    applied = fields.Integer(allow_none=True)
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    actual = fields.Integer(
        allow_none=True,
        metadata={"description": "The count the platform's answer reported (null: none)"},
    )


class DecisionSchema(Schema):
    timestamp = fields.Float(required=True)
    policy = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf([a.value for a in ScalingAction]))
    current = fields.Integer(required=True)
    target = fields.Integer(required=True)
    reason = fields.String(required=True)
    rule = fields.String(required=True)
    confidence = fields.Float(required=True)
    inputs = fields.Dict(metadata={"description": "What the rule looked at"})
    mode = fields.String(validate=validate.OneOf([m.value for m in EngineMode]))
    execution = fields.Nested(ExecutionSchema, allow_none=True)


class CostSchema(Schema):
    total_usd = fields.Float()
    today_usd = fields.Float()
    daily_budget_usd = fields.Float()
    budget_used_ratio = fields.Float(allow_none=True)
    price_per_instance_hour_usd = fields.Float()


class DemandReadingSchema(Schema):
    value = fields.Float(allow_none=True, metadata={"description": "In the metric's unit"})
    timestamp = fields.Float(allow_none=True, metadata={"description": "Newest point used"})
    points = fields.Integer(metadata={"description": "New points averaged (0: newest reused)"})


class DemandMetricSchema(Schema):
    metric = fields.String(required=True, metadata={"description": "Series key NAME[@TARGET]"})
    unit_capacity = fields.Float(
        required=True, metadata={"description": "Demand one instance serves (metric's unit)"}
    )
    reading = fields.Nested(DemandReadingSchema, allow_none=True)


class ScalingStatusSchema(Schema):
    policy = fields.String(required=True)
    mode = fields.String(required=True, validate=validate.OneOf([m.value for m in EngineMode]))
    interval_s = fields.Float()
    boot_s = fields.Float()
    instances = _counts("Instances by state")
    desired = fields.Integer()
    min_instances = fields.Integer()
    max_instances = fields.Integer()
    capacity_units = fields.Float(metadata={"description": "Ready capacity, demand units"})
    demand_units = fields.Float(allow_none=True)
    instance_cores = fields.Float(metadata={"description": "Host cores one instance stands for"})
    host_cores = fields.Integer()
    storage_gb = fields.Float()
    instance_size = fields.String()
    cost = fields.Nested(CostSchema)
    forecast_quality = fields.Float(
        allow_none=True, metadata={"description": "Forecast error / 'no change' error"}
    )
    forecast_waiting = fields.String(
        allow_none=True, metadata={"description": "What the demand forecast still waits for"}
    )
    override_until = fields.Float(
        allow_none=True,
        metadata={"description": "A manual override holds the pool until then (epoch s)"},
    )
    max_instances_configured = fields.Integer(
        metadata={"description": "MAX_INSTANCES as set; max_instances is after the clamp"}
    )
    conditions = fields.List(fields.Nested(lambda: ConditionSchema()))
    last_decision = fields.Nested(DecisionSchema, required=True, allow_none=True)
    demand_signals = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        metadata={"description": "Demand units per signal (cpu, memory) at the last decision"},
    )
    demand_signal = fields.String(
        allow_none=True, metadata={"description": "The signal that drove it (the highest)"}
    )
    demand_metric = fields.Nested(
        lambda: DemandMetricSchema(),
        allow_none=True,
        metadata={
            "description": "The series that drives demand (SCALING_DEMAND_METRIC); "
            "null: this host's CPU and memory"
        },
    )
    forecast_source = fields.String(
        allow_none=True,
        validate=validate.OneOf(["series", "engine"]),
        metadata={
            "description": "Whose forecast the last decision used: the demand series' "
            "live forecast (series) or the engine's own demand forecaster (engine)"
        },
    )
    instance_memory_gb = fields.Float(metadata={"description": "Memory request of one instance"})
    size_recommendation = fields.Nested(lambda: SizeRecommendationSchema())
    platform = fields.Nested(
        lambda: PlatformSchema(),
        allow_none=True,
        metadata={"description": "What the platform reports back; null without a webhook"},
    )


class SizeShapeSchema(Schema):
    size = fields.String()
    cpu_cores = fields.Float()
    memory_gb = fields.Float(allow_none=True)


class SizeRecommendationSchema(SizeShapeSchema):
    current = fields.Nested(SizeShapeSchema)
    rule = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class PlatformSchema(Schema):
    source = fields.String(allow_none=True, metadata={"description": "response or status_url"})
    status_url = fields.String(allow_none=True)
    desired_instances = fields.Integer(allow_none=True)
    actual_instances = fields.Integer(allow_none=True)
    drift_instances = fields.Integer(
        allow_none=True, metadata={"description": "Asked minus actual at the last reading"}
    )
    checked_at = fields.Float(allow_none=True)
    drift_since = fields.Float(allow_none=True)
    drift_for_s = fields.Float(allow_none=True)
    error = fields.String(allow_none=True)


class ConditionSchema(Schema):
    type = fields.String(metadata={"description": "ScalingLimited, AbleToScale, ..."})
    status = fields.Boolean()
    reason = fields.String()
    message = fields.String()


class DesiredSchema(Schema):
    desired_instances = fields.Integer(
        required=True,
        metadata={
            "description": "What the engine wants running now (KEDA's metric value; "
            "in dry-run mode, its recommendation)"
        },
    )
    ready_instances = fields.Integer(required=True)
    min_instances = fields.Integer(required=True)
    max_instances = fields.Integer(required=True)
    mode = fields.String(validate=validate.OneOf([m.value for m in EngineMode]))
    policy = fields.String()
    timestamp = fields.Float()
    override_until = fields.Float(allow_none=True)


class CapacityPointSchema(Schema):
    timestamp = fields.Float()
    demand_units = fields.Float(allow_none=True)
    ready = fields.Integer()
    booting = fields.Integer()
    target = fields.Integer()
    forecast_units = fields.Float(allow_none=True)
    forecast_upper = fields.Float(allow_none=True)
    cpu_units = fields.Float(allow_none=True)
    memory_units = fields.Float(allow_none=True)


class ScalingHistorySchema(Schema):
    interval_s = fields.Float(metadata={"description": "Seconds between decisions"})
    boot_s = fields.Float(metadata={"description": "Boot lag of an instance"})
    cursor = fields.Float(
        allow_none=True,
        metadata={"description": "The newest time in this answer: the next request's `since`"},
    )
    points = fields.List(fields.Nested(CapacityPointSchema))
    decisions = fields.List(fields.Nested(DecisionSchema))


class SizeSchema(Schema):
    name = fields.String()
    capacity_units = fields.Float()
    price_per_hour = fields.Float()


class PoolSchema(Schema):
    timestamp = fields.Float()
    ready = fields.Integer()
    booting = fields.Integer()
    draining = fields.Integer()
    desired = fields.Integer()
    min_instances = fields.Integer()
    max_instances = fields.Integer()
    size = fields.Nested(SizeSchema)
    cost_total = fields.Float()
    cost_today = fields.Float()
    daily_budget = fields.Float()
    storage_gb = fields.Float()
    boot_s = fields.Float()


class InstanceSchema(Schema):
    id = fields.Integer()
    size = fields.String()
    state = fields.String()
    launched_s = fields.Float()
    ready_at_s = fields.Float(allow_none=True)
    healthy = fields.Boolean()


class EventSchema(Schema):
    timestamp = fields.Float()
    kind = fields.String()
    instance_id = fields.Integer(allow_none=True)
    detail = fields.String()


class WebhookSchema(Schema):
    url = fields.String()
    results = fields.List(fields.Nested(ExecutionSchema))


class ResourcesSchema(Schema):
    pool = fields.Nested(PoolSchema)
    executor = fields.String()
    webhook = fields.Nested(
        WebhookSchema,
        allow_none=True,
        metadata={"description": "null unless SCALING_WEBHOOK_URL is set"},
    )
    instances = fields.List(fields.Nested(InstanceSchema))
    events = fields.List(fields.Nested(EventSchema))


# ---- processes and devices (foresight/web/system_api.py) --------------------------------
class ProcessRowSchema(Schema):
    pid = fields.Integer()
    name = fields.String()
    command = fields.String(metadata={"description": "Command line, shortened (may be empty)"})
    cpu_percent = fields.Float(
        allow_none=True,
        metadata={
            "description": "% of ONE core over window_s (top's convention: may pass "
            "100); null on a baseline pass or for a process new since the last"
        },
    )
    memory_percent = fields.Float(metadata={"description": "RSS as % of total RAM"})
    rss_bytes = fields.Integer()


class ProcessesSchema(Schema):
    timestamp = fields.Float(
        allow_none=True, metadata={"description": "Of the pass (null: none yet)"}
    )
    window_s = fields.Float(
        allow_none=True, metadata={"description": "Seconds the CPU figures cover (null: baseline)"}
    )
    every_s = fields.Float(metadata={"description": "Seconds between passes while watched"})
    count = fields.Integer(metadata={"description": "Processes read in the pass"})
    by_cpu = fields.List(fields.Nested(ProcessRowSchema))
    by_memory = fields.List(fields.Nested(ProcessRowSchema))


class FilesystemSchema(Schema):
    mountpoint = fields.String()
    device = fields.String()
    fstype = fields.String()
    total_bytes = fields.Integer()
    used_bytes = fields.Integer()
    free_bytes = fields.Integer(metadata={"description": "Free to unprivileged users"})
    used_percent = fields.Float(metadata={"description": "As df shows it"})


class DiskSchema(Schema):
    name = fields.String()
    charted = fields.Boolean(metadata={"description": "false: loop, ram or zram device"})


class InterfaceSchema(Schema):
    name = fields.String()
    loopback = fields.Boolean()
    virtual = fields.Boolean()
    up = fields.Boolean()
    counted = fields.Boolean(metadata={"description": "In the network totals and charted"})
    reason = fields.String(allow_none=True, metadata={"description": "Why not counted"})


class DevicesSchema(Schema):
    timestamp = fields.Float(allow_none=True, metadata={"description": "Newest sample's time"})
    memory_total_bytes = fields.Integer()
    swap_total_bytes = fields.Integer()
    filesystems = fields.List(fields.Nested(FilesystemSchema))
    disks = fields.List(fields.Nested(DiskSchema))
    interfaces = fields.List(fields.Nested(InterfaceSchema))
    metrics = fields.List(
        fields.String(),
        metadata={
            "description": "Per-device and memory metrics of the newest sample "
            "(<base>:<device>, e.g. net_recv_bytes_per_s:eth0)"
        },
    )
