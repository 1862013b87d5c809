"""Response schemas of the scaling API (``foresight.web.scaling_api``): status, history,
the desired count, decisions and the simulated resources.

Every object schema forbids unknown keys; ``foresight.web.responses`` says why.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from foresight.scaling.policies import EngineMode, ScalingAction


def _counts(description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": description}
    )


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
    mode_source = fields.String(
        validate=validate.OneOf(["settings", "api"]),
        metadata={
            "description": "Where the mode came from: SCALING_MODE, or POST /api/scaling/mode "
            "(saved: it wins over SCALING_MODE across restarts until set again)"
        },
    )
    restored = fields.Nested(
        lambda: RestoredSchema(),
        allow_none=True,
        metadata={"description": "What this start took from the saved state; null: nothing"},
    )


class RestoredSchema(Schema):
    saved_at = fields.Float(allow_none=True, metadata={"description": "The pool's save (epoch s)"})
    mode = fields.String(allow_none=True, metadata={"description": "Mode set through the API"})
    mode_set_at = fields.Float(allow_none=True)
    hold_until = fields.Float(
        allow_none=True, metadata={"description": "A manual override's hold that still lasts"}
    )
    instances = fields.Integer(
        allow_none=True, metadata={"description": "Count restored; null: MIN_INSTANCES (stale)"}
    )
    instance_size = fields.String(allow_none=True)
    storage_gb = fields.Float(allow_none=True)
    cost_today_usd = fields.Float(
        allow_none=True, metadata={"description": "Today's bill restored; null: another UTC day"}
    )
    notes = fields.List(fields.String(), metadata={"description": "What was kept and why"})


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
