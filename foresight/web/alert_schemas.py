"""Request and response schemas of the alerts API (``foresight.web.alerts_api``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from foresight.web.schemas import Bool, Float, Integer

STATES = ["pending", "firing", "resolved"]
SEVERITIES = ["info", "warning", "critical"]
MAX_ALERTS = 1000
MAX_SILENCE_S = 366 * 86_400.0


# ---- requests ----------------------------------------------------------------------------
CURSOR_PATTERN = r"^[0-9a-f]{1,32}-[0-9]{1,18}$"  # foresight.alerts.changes


class AlertsQuery(Schema):
    state = fields.String(
        validate=validate.OneOf(
            [*STATES, "active"],
            error="state must be pending, firing, resolved or active (got {input!r})",
        ),
        metadata={"description": "Only this state; `active` is pending and firing"},
    )
    severity = fields.String(
        validate=validate.OneOf(
            SEVERITIES, error="severity must be info, warning or critical (got {input!r})"
        ),
        metadata={"description": "Only this severity"},
    )
    name = fields.String(metadata={"description": "Only this rule"})
    metric = fields.String(metadata={"description": "Only this metric"})
    since = Float(
        metadata={
            "description": "Only alerts active or resolved after this (epoch seconds; "
            "negative: seconds before now)"
        }
    )
    limit = Integer(minimum=1, maximum=MAX_ALERTS, load_default=100)
    before = Integer(
        minimum=1,
        metadata={
            "description": "Only alerts older than the alert with this `id` (in the answer's "
            "newest-first order): the next page after it. Not with `cursor`"
        },
    )
    cursor = fields.String(
        validate=validate.Regexp(
            CURSOR_PATTERN, error="cursor must be the cursor of an earlier answer (got {input!r})"
        ),
        metadata={
            "description": "Only alerts changed since the answer that gave this `cursor` "
            "(a poller's follow-up; `removed` lists ids that are gone). A cursor from before "
            "a restart, or older than the kept changes, gets the whole list (`full` true)"
        },
    )


class MatcherSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    value = fields.String(required=True)
    isRegex = Bool(load_default=False)
    isEqual = Bool(load_default=True)


class SilenceBody(Schema):
    matchers = fields.List(
        fields.Nested(MatcherSchema),
        required=True,
        validate=validate.Length(min=1, error="matchers must list at least one matcher"),
        metadata={
            "description": "Label matchers as in Alertmanager: alertname, severity, metric "
            'and the rule\'s labels, e.g. [{"name": "alertname", "value": "CpuCritical"}]'
        },
    )
    ends_at = Float(text=False, required=True, metadata={"description": "End, epoch seconds"})
    starts_at = Float(text=False, metadata={"description": "Start, epoch seconds (default now)"})
    created_by = fields.String(load_default="api")
    comment = fields.String(load_default="")


class ScalingAlertsQuery(Schema):
    hours = Integer(minimum=1, maximum=168, load_default=1, metadata={"description": "Hours ahead"})


# ---- responses ---------------------------------------------------------------------------
class AlertSchema(Schema):
    id = fields.Integer()
    name = fields.String(metadata={"description": "The rule"})
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    state = fields.String(validate=validate.OneOf(STATES))
    metric = fields.String()
    value = fields.Float(allow_none=True, metadata={"description": "The latest value seen"})
    value_unit = fields.String(
        allow_none=True,
        metadata={
            "description": "The value's unit: the metric's for threshold, forecast and "
            "exhaustion rules, 's' for stale, '' for scores, counts and probes; null when "
            "the rule is no longer loaded"
        },
    )
    threshold = fields.Float(allow_none=True)
    since = fields.Float(metadata={"description": "When it turned pending"})
    fired_at = fields.Float(allow_none=True)
    resolved_at = fields.Float(allow_none=True)
    updated_at = fields.Float()
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    annotations = fields.Dict(keys=fields.String(), values=fields.String())
    silenced = fields.Boolean(metadata={"description": "A silence holds its notifications"})


class AlertsSchema(Schema):
    alerts = fields.List(fields.Nested(AlertSchema), required=True)
    firing = fields.Integer(metadata={"description": "Alerts firing now"})
    pending = fields.Integer(metadata={"description": "Alerts pending now"})
    rules = fields.Integer(metadata={"description": "Rules loaded"})
    rules_error = fields.String(
        allow_none=True, metadata={"description": "Why the last reload of the rules file failed"}
    )
    cursor = fields.String(metadata={"description": "Pass as `cursor` to get only what changes"})
    full = fields.Boolean(
        metadata={"description": "`alerts` is the whole list (false: only changes since `cursor`)"}
    )
    removed = fields.List(
        fields.Integer(),
        metadata={
            "description": "Ids changed since `cursor` that are gone (a pending alert "
            "that cleared is forgotten); empty on a whole list"
        },
    )


class MatcherOutSchema(Schema):
    name = fields.String()
    value = fields.String()
    isRegex = fields.Boolean()
    isEqual = fields.Boolean()


class SilenceSchema(Schema):
    id = fields.Integer()
    matchers = fields.List(fields.Nested(MatcherOutSchema))
    starts_at = fields.Float()
    ends_at = fields.Float()
    created_by = fields.String()
    comment = fields.String()
    created_at = fields.Float()
    state = fields.String(validate=validate.OneOf(["pending", "active", "expired"]))


class SilencesSchema(Schema):
    silences = fields.List(fields.Nested(SilenceSchema), required=True)


class CrossingSchema(Schema):
    metric = fields.String()
    severity = fields.String(validate=validate.OneOf(["warning", "critical"]))
    threshold = fields.Float()
    band = fields.String(metadata={"description": "mean, or upper_80 when only the band crosses"})
    when = fields.Float(metadata={"description": "When it crosses, epoch seconds"})
    value = fields.Float(metadata={"description": "The forecast band's value there"})
    mean = fields.Float()
    probability = fields.Float(metadata={"description": "P(value >= threshold) at that step"})
    tier = fields.String()


class ScalingAlertsSchema(Schema):
    generated_at = fields.Float()
    hours = fields.Integer()
    alerts = fields.List(fields.Nested(CrossingSchema), required=True)


class AlertRulesSchema(Schema):
    path = fields.String()
    rules = fields.Integer()
    load_count = fields.Integer(metadata={"description": "Successful loads of the file"})
    error = fields.String(allow_none=True)


class NotifyTargetSchema(Schema):
    kind = fields.String(validate=validate.OneOf(["alertmanager", "webhook"]))
    url = fields.String()
    sent = fields.Integer()
    failed_attempts = fields.Integer()
    dropped = fields.Integer(metadata={"description": "Batches given up after retries"})
    last_error = fields.String(allow_none=True)
    last_error_at = fields.Float(allow_none=True)
    last_sent_at = fields.Float(allow_none=True)


class NotificationsSchema(Schema):
    queued = fields.Integer()
    targets = fields.List(fields.Nested(NotifyTargetSchema))


class AlertHealthSchema(Schema):
    """The ``alerts`` part of /api/system/health."""

    rules = fields.Nested(AlertRulesSchema)
    evaluations = fields.Integer()
    pending = fields.Integer()
    firing = fields.Integer()
    notifications = fields.Nested(NotificationsSchema, allow_none=True)
    targets_without_cpu_count = fields.List(
        fields.String(),
        metadata={
            "description": "Targets with a load series but no cpu_count series (at most 20): "
            "their load has no per-CPU threshold"
        },
    )
    targets_without_cpu_count_total = fields.Integer()
    cpu_count_note = fields.String(allow_none=True)
