"""Request and response schemas of the failure-risk API (its own module, beside
``schemas`` and the ``*_responses`` modules, so the risk endpoints stay in one place)."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from foresight.risk.advice import FailureRisk
from foresight.risk.crash import CrashLevel
from foresight.web.prediction_responses import ModelStateSchema
from foresight.web.schemas import Bool, Float

MAX_BATCH = 1000


# ---- requests ----------------------------------------------------------------------------
class PredictBody(Schema):
    """Seed 002's body; any other metric the model was trained on is accepted too."""

    class Meta:
        unknown = INCLUDE

    cpu_usage = Float(text=False, metadata={"description": "CPU in use, %"})
    memory_usage = Float(text=False, metadata={"description": "Memory in use, %"})
    disk_usage = Float(text=False, metadata={"description": "Disk in use, %"})
    network_latency_ms = Float(text=False)
    error_count = Float(text=False)
    response_time_ms = Float(text=False)
    active_connections = Float(text=False)


class BatchBody(Schema):
    rows = fields.List(
        fields.Dict(keys=fields.String()),
        required=True,
        validate=validate.Length(
            min=1, max=MAX_BATCH, error=f"rows must hold 1 to {MAX_BATCH:,} rows"
        ),
        metadata={"description": f"Up to {MAX_BATCH:,} metric objects, scored independently"},
    )


class RiskTrainBody(Schema):
    """Train on the stored history with one label source."""

    label_metric = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "A stored metric whose nonzero values mark incident minutes"},
    )
    alerts = Bool(
        metadata={"description": "Label with the alert history: the minutes alerts fired"}
    )
    alert_rule = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "With alerts: only this rule's alerts"},
    )
    days = Float(
        minimum=0.01, maximum=3650, metadata={"description": "History window (default 30 days)"}
    )
    step_s = Float(minimum=1, maximum=3600, metadata={"description": "Row step (default 60)"})
    horizon_s = Float(
        minimum=60,
        maximum=86_400,
        metadata={"description": "Target: incident in progress or within S s (default 1800)"},
    )
    models = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Candidates among hgb,rf,et,etb,etlr,lr,svm,xgb (default lr)"},
    )


# ---- responses ---------------------------------------------------------------------------
class RiskFactorSchema(Schema):
    metric = fields.String(required=True)
    critical = fields.Float(required=True, metadata={"description": "Its crash level"})
    probability = fields.Float(required=True)
    crossing_at = fields.Float(
        allow_none=True, metadata={"description": "First step whose mean is over the level"}
    )
    earliest_at = fields.Float(
        required=True, metadata={"description": "First step whose 95 % band reaches it"}
    )
    peak_mean = fields.Float()


class CrashRiskSchema(Schema):
    score = fields.Float(required=True, metadata={"description": "In [0, 1]"})
    level = fields.String(required=True, validate=validate.OneOf([v.value for v in CrashLevel]))
    factors = fields.List(fields.Nested(RiskFactorSchema), required=True)
    horizon_s = fields.Float(required=True)
    generated_at = fields.Float(required=True)
    metrics_checked = fields.List(fields.String(), required=True)
    note = fields.String(metadata={"description": "How the score is built"})


class ScalingAlertSchema(Schema):
    metric = fields.String(required=True)
    probability = fields.Float(required=True)
    at = fields.Float(required=True, metadata={"description": "When it crosses (epoch s)"})
    action = fields.String(required=True)


class PredictAllSchema(Schema):
    generated_at = fields.Float(required=True)
    hours = fields.Integer(allow_none=True)
    minutes = fields.Integer(allow_none=True)
    predictions = fields.Dict(
        keys=fields.String(), values=fields.Nested(ModelStateSchema), required=True
    )
    scaling_alerts = fields.List(fields.Nested(ScalingAlertSchema), required=True)
    crash_risk = fields.Nested(CrashRiskSchema, required=True)


class PredictionSchema(Schema):
    failure_probability = fields.Float(required=True)
    failure_risk = fields.String(
        required=True, validate=validate.OneOf([v.value for v in FailureRisk])
    )
    confidence = fields.Float(required=True, metadata={"description": "max(p, 1 - p)"})
    drivers = fields.List(fields.String(), metadata={"description": "Metrics behind it"})
    recommendations = fields.List(fields.String(), required=True)
    model_used = fields.String()
    timestamp = fields.Float()


class BatchPredictionSchema(Schema):
    predictions = fields.List(fields.Nested(PredictionSchema), required=True)
    count = fields.Integer(required=True)
    model_used = fields.String(required=True)
    timestamp = fields.Float(required=True)


class ModelSummarySchema(Schema):
    model = fields.String(required=True)
    pr_auc = fields.Float(allow_none=True)
    base_rate = fields.Float(allow_none=True)
    metrics = fields.List(fields.String())
    horizon_s = fields.Float()
    summary = fields.String(required=True, metadata={"description": "In plain words"})


class RiskTrainRequestSchema(Schema):
    label_source = fields.String(required=True)
    label_metric = fields.String(allow_none=True, required=True)
    alert_rule = fields.String(allow_none=True, required=True)
    since = fields.Float(required=True)
    until = fields.Float(required=True)
    step_s = fields.Float(required=True)
    horizon_s = fields.Float(required=True)
    models = fields.List(fields.String(), required=True)


class RiskTrainingSchema(Schema):
    state = fields.String(
        required=True, validate=validate.OneOf(["idle", "running", "done", "failed"])
    )
    started_at = fields.Float(allow_none=True, required=True)
    finished_at = fields.Float(allow_none=True, required=True)
    message = fields.String(required=True)
    request = fields.Nested(RiskTrainRequestSchema, allow_none=True, required=True)
    model = fields.String(allow_none=True, required=True)
    validation_pr_auc = fields.Float(allow_none=True, required=True)


class RiskStatusSchema(Schema):
    crash_risk = fields.Nested(CrashRiskSchema, allow_none=True, required=True)
    failure = fields.Nested(PredictionSchema, allow_none=True, required=True)
    model = fields.Nested(ModelSummarySchema, allow_none=True, required=True)
    note = fields.String(required=True)
    training = fields.Nested(
        RiskTrainingSchema,
        allow_none=True,
        metadata={"description": "The latest POST /api/risk/train job"},
    )
