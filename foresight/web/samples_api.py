"""Pushed metrics: ``POST /api/samples`` (a public contract; seed 003's reading too).

``{"samples": [{"timestamp", "target", "metric", "value"}, ...]}``: at most 10,000
samples, validated first and stored in ONE transaction, so one bad sample (the 400 names
its index and field) stores nothing. Each sample is stored under its series key
(``NAME`` for this host, ``NAME@TARGET`` otherwise; ``foresight.core.series``); a value
already stored for that series and timestamp is kept (first write wins, the answer's
``stored`` counts the new ones). Seed 003's body (``cpu_usage``, ``memory_usage``,
``network_latency``, ``error_rate``) is one reading of this host at ``timestamp``
(default now). Units come from the catalog (those four are in it) or the name's unit
suffix. The dashboard's token and same-origin rules apply (``dashboard``, ``security``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, jsonify

from foresight.core.errors import InputError
from foresight.core.series import series_key
from foresight.live.pushed import EXTRAS_KEY as PUSHED_KEY
from foresight.live.services import STORE_FAULTS, Services
from foresight.store.faults import error_text
from foresight.web import responses as out
from foresight.web.api import Blueprint
from foresight.web.samples_schemas import SEED_FIELDS, SamplesBody, SamplesResult

logger = logging.getLogger(__name__)

blueprint = Blueprint("samples", __name__, url_prefix="/api", description="Pushed metrics")
FUTURE_SLACK_S = 300.0  # a clock this far ahead of ours is a client's mistake


def rows_of(body: dict[str, Any], now: float) -> dict[float, dict[str, float]]:
    """``{timestamp: {series key: value}}`` of a validated body."""
    rows: dict[float, dict[str, float]] = {}
    if "samples" in body:
        for index, item in enumerate(body["samples"]):
            ts = float(item["timestamp"])
            if ts > now + FUTURE_SLACK_S:
                raise InputError(
                    f"sample {index}: timestamp: {ts:g} is more than {FUTURE_SLACK_S:g} s "
                    f"ahead of this server's clock ({now:.0f}); nothing was stored"
                )
            rows.setdefault(round(ts, 3), {})[
                series_key(item["metric"], item.get("target", ""))
            ] = float(item["value"])
        return rows
    ts = float(body.get("timestamp", now))
    if ts > now + FUTURE_SLACK_S:
        raise InputError(f"timestamp {ts:g} is more than {FUTURE_SLACK_S:g} s ahead of now")
    return {round(ts, 3): {f: float(body[f]) for f in SEED_FIELDS if f in body}}


@blueprint.route("/samples", methods=["POST"])
@blueprint.arguments(SamplesBody)
@blueprint.response(200, SamplesResult)
@blueprint.alt_response(503, schema=out.ErrorSchema, description="The store cannot write")
def post_samples(body: dict[str, Any]) -> Response | tuple[Response, int]:
    """Store pushed samples in one transaction; they join the history, charts and
    forecasts under their target (`target` parameter of the GET endpoints)."""
    svc: Services = current_app.extensions["foresight"]
    now = svc.clock()
    rows = rows_of(body, now)
    received = len(body["samples"]) if "samples" in body else len(next(iter(rows.values())))
    try:
        stored = svc.store.append_many(sorted(rows.items()))
    except STORE_FAULTS as exc:
        logger.warning("pushed samples not stored: %s", exc)
        return jsonify({"error": f"the store cannot write: {error_text(exc)}"}), 503
    keys = sorted({k for values in rows.values() for k in values})
    with svc.lock:
        svc.pushed.update(keys)
    # anomaly scores and alert rules run on a background thread (foresight.live.pushed)
    scoring = svc.extras.get(PUSHED_KEY)
    queued = "off" if scoring is None else ("queued" if scoring.submit(rows) else "dropped")
    return jsonify({"received": received, "stored": stored, "series": keys, "scoring": queued})
