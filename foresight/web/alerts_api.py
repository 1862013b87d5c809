"""Alerts API: alerts (active and history), silences, forecast crossings for scaling.

Reads what ``foresight.live.alerting`` evaluated in the cycle; the dashboard's
before_request hook applies the token rule to ``POST /api/silences``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Response, jsonify

from foresight.alerts.rules import Kind
from foresight.core.catalog import metric_info
from foresight.core.errors import InputError
from foresight.live import models as live_models
from foresight.live.alerting import EXTRAS_KEY, forecast_crossings
from foresight.store.alert_log import ACTIVE_STATES, STATES, Matcher, Silence
from foresight.web import alert_schemas as sch
from foresight.web import responses as out
from foresight.web.api import Blueprint
from foresight.web.params import extension, relative

logger = logging.getLogger(__name__)

blueprint = Blueprint("alerts", __name__, url_prefix="/api", description="Alerts and silences")
OFF = "Alerting is switched off in this monitor"


@blueprint.route("/alerts", methods=["GET"])
@blueprint.arguments(sch.AlertsQuery, location="query", as_kwargs=True)
@blueprint.response(200, sch.AlertsSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_alerts(
    limit: int, state: str | None = None, cursor: str | None = None, **filters: Any
) -> Response:
    """Alerts newest first: pending and firing ones and the resolved history; with
    `cursor`, only those changed since the answer that gave it."""
    live, services = extension(EXTRAS_KEY, "alerting")
    now = services.clock()
    states = STATES if state is None else ACTIVE_STATES if state == "active" else (state,)
    filters["since"] = relative(filters.pop("since", None), now)
    filters["rule"] = filters.pop("name", None)
    before = filters.get("before")
    if before is not None:
        if cursor is not None:
            raise InputError("give before or cursor, not both (before pages the history)")
        if not live.engine.log.by_ids([before]):
            raise InputError(f"before must be the id of a stored alert (got {before})")
    changed = (
        None
        if cursor is None
        else live.engine.changed(now, cursor, states=states, limit=limit, **filters)
    )
    if changed is None:
        nxt = live.engine.cursor()  # before the read: a change in between comes again
        alerts, removed = live.engine.alerts(now, states=states, limit=limit, **filters), []
    else:
        alerts, removed, nxt = changed
    units = value_units(live.engine.rules.rules)
    alerts = [{**a, "value_unit": units(a["name"], a["metric"])} for a in alerts]
    status = live.status()
    return jsonify(
        {
            "alerts": alerts,
            "cursor": nxt,
            "full": changed is None,
            "removed": removed,
            "firing": status["firing"],
            "pending": status["pending"],
            "rules": status["rules"]["rules"],
            "rules_error": status["rules"]["error"],
        }
    )


# A rule's value is the metric's own for these kinds; the others' is a score (anomaly,
# risk), a count (missed ticks), a 0/1 success (probe) or an age in seconds (stale).
METRIC_VALUED = {Kind.THRESHOLD, Kind.FORECAST, Kind.EXHAUSTION}


def value_units(rules: Any) -> Any:
    """``(rule name, metric) -> the unit its value is in`` (None: the rule is gone)."""
    kinds = {rule.name: rule.kind for rule in rules}

    def unit(name: str, metric: str) -> str | None:
        kind = kinds.get(name)
        if kind is None:
            return None
        if kind in METRIC_VALUED:
            return metric_info(metric).unit
        return "s" if kind is Kind.STALE else ""

    return unit


@blueprint.route("/silences", methods=["GET"])
@blueprint.response(200, sch.SilencesSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def get_silences() -> Response:
    """Silences that are active or still to come, newest first."""
    live, services = extension(EXTRAS_KEY, "alerting")
    return jsonify({"silences": live.engine.silences(services.clock())})


@blueprint.route("/silences", methods=["POST"])
@blueprint.arguments(sch.SilenceBody, as_kwargs=True)
@blueprint.response(201, sch.SilenceSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=OFF)
def post_silence(
    matchers: list[dict[str, Any]],
    ends_at: float,
    created_by: str,
    comment: str,
    starts_at: float | None = None,
) -> tuple[Response, int]:
    """Silence the notifications of alerts matching every matcher until `ends_at`."""
    live, services = extension(EXTRAS_KEY, "alerting")
    now = services.clock()
    silence = make_silence(matchers, starts_at, ends_at, created_by, comment, now)
    saved = live.engine.add_silence(silence)
    return jsonify(saved.to_dict(now)), 201


def make_silence(
    matchers: list[dict[str, Any]],
    starts_at: float | None,
    ends_at: float,
    created_by: str,
    comment: str,
    now: float,
) -> Silence:
    """Check a silence request; raises InputError naming the bad value."""
    starts = now if starts_at is None else starts_at
    if ends_at <= max(starts, now):
        raise InputError(f"ends_at must be after now and after starts_at (got {ends_at:g})")
    if ends_at - starts > sch.MAX_SILENCE_S:
        raise InputError(f"a silence may last at most 366 days (got {ends_at - starts:g} s)")
    parsed = []
    for m in matchers:
        matcher = Matcher(m["name"], m["value"], m["isRegex"], m["isEqual"])
        if matcher.is_regex:
            try:
                matcher.matches({})
            except re.error as exc:
                raise InputError(f"matcher {m['name']}: bad regex {m['value']!r}: {exc}") from None
        parsed.append(matcher)
    return Silence(tuple(parsed), starts, ends_at, created_by, comment, now)


@blueprint.route("/scaling/alerts", methods=["GET"])
@blueprint.arguments(sch.ScalingAlertsQuery, location="query", as_kwargs=True)
@blueprint.response(200, sch.ScalingAlertsSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description="Forecasting is switched off")
def get_scaling_alerts(hours: int) -> Response:
    """Catalog levels the forecasts cross within `hours`: metric, severity, when, value."""
    _, services = extension(live_models.EXTRAS_KEY, "forecasting")
    return jsonify(
        {
            "generated_at": services.clock(),
            "hours": hours,
            "alerts": forecast_crossings(services, hours),
        }
    )
