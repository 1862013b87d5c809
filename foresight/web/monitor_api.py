"""The monitor's JSON API: metrics history, live feed, health, verification, stress test.

Hot path: ``GET /api/metrics`` answers come from a per-tick cache of encoded bytes
(keyed by query string and the newest sample's timestamp), and default-window queries
are served from the in-memory ring buffer, so most requests neither query SQLite nor
encode JSON; that cache and the encoding live in ``foresight.web.metrics_cache``.
``TickCache`` and ``PointFragments`` are re-exported here for the app factory.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, jsonify, request

from foresight.core.series import series_key
from foresight.live import alerting
from foresight.live.health import fit_worker_block, health_state, source_block
from foresight.live.pushed import EXTRAS_KEY as PUSHED_KEY
from foresight.live.services import Services
from foresight.live.stress import StressBusyError, StressCooldownError, validate_request
from foresight.web import monitor_responses as monitor_out
from foresight.web import responses as out
from foresight.web import schemas
from foresight.web.api import Blueprint
from foresight.web.metrics_cache import (
    PointFragments,
    TickCache,
    encode_metrics,
    from_buffer,
    json_bytes,
)
from foresight.web.params import metric_list, range_bounds, relative, target_series, time_range
from foresight.web.security import jsonify_redacted
from metrics_collector import Sample, host_facts

logger = logging.getLogger(__name__)

blueprint = Blueprint(
    "monitor", __name__, url_prefix="/api", description="Live metrics, history, health, stress test"
)

REALTIME_WINDOW_S = 300.0
REALTIME_MAX_SAMPLES = 2000
# A pushed series' newest stored point counts as its current value this long (Prometheus'
# lookback delta, as the demand metric's STALE_S); older, the tile says "unknown".
PUSHED_CURRENT_S = 300.0


def services() -> Services:
    return current_app.extensions["foresight"]


def facts() -> dict[str, Any]:
    """Host facts, read once per app."""
    cached = current_app.extensions.get("foresight_host")
    if cached is None:
        cached = current_app.extensions["foresight_host"] = host_facts()
    return cached


def current_values(svc: Services, held: bool = True) -> tuple[float | None, dict[str, float]]:
    """The newest sample's timestamp and values, with its held readings (``Sample.held``:
    the last HTTP probe between probes) unless ``held`` is False; from the store after a
    restart."""
    latest = svc.latest()
    if latest is not None:
        return latest.timestamp, latest.current() if held else dict(latest.values)
    stored = svc.store.latest()
    if not stored:
        return None, {}
    ts = max(t for t, _ in stored.values())
    return ts, {name: v for name, (t, v) in stored.items() if t == ts}


@blueprint.route("/metrics", methods=["GET"])
@blueprint.arguments(schemas.MetricsQuery, location="query", as_kwargs=True)
@blueprint.response(200, monitor_out.MetricsHistorySchema)
def get_metrics(**query: Any) -> Response:
    """Current values and downsampled history of metrics.

    At most `limit` points per metric for any range; values are bucket means over
    `step_s` seconds (null `step_s`: raw samples).
    """
    svc = services()
    cache: TickCache = current_app.extensions["foresight_cache"]
    tick, current = current_values(svc)
    key = b"m?" + request.query_string
    body = cache.get(tick, key)
    if body is None:
        with cache.compute_lock:  # one thread computes, the others then hit the cache
            body = cache.get(tick, key)
            if body is None:
                body = _metrics_body(svc, tick, current, query)
                cache.put(tick, key, body)
    return Response(body, mimetype="application/json")


def _metrics_body(
    svc: Services, tick: float | None, current: dict[str, float], query: dict[str, Any]
) -> bytes:
    now = svc.clock()
    target: str = query.get("target") or ""
    series = target_series(svc, target)  # {metric: series key}
    known = sorted(series)
    names = metric_list(query.get("metric"), known) or known
    keys = [series[n] for n in names]
    since, until, called = range_bounds(query)
    since, until = time_range(since, until, now, names=called)
    limit: int = query["limit"]
    step_s: float | None = query.get("step")
    fragments: PointFragments = current_app.extensions["foresight_fragments"]
    # Pushed samples and a source's caught-up points are in the store, not the ring buffer.
    elsewhere = not svc.local_source or bool(svc.pushed.intersection(keys))
    by_key = (
        None
        if step_s is not None or elsewhere
        else from_buffer(svc, fragments, keys, since, until, limit)
    )
    effective_step: float | None = None  # None: raw points
    if by_key is None:
        rows = svc.store.query(keys, since, until, limit, step_s)
        by_key = {k: ",".join(f"[{t!r},{v!r}]" for t, v in rows.get(k, [])) for k in keys}
        effective_step = svc.store.effective_step(since, until, limit, step_s)
    header = {
        "since": since,
        "until": until,
        "limit": limit,
        "step_s": effective_step,
        "data_since": svc.store.data_since(keys),
        "target": target,
        "targets": svc.targets(),
    }
    points = {n: by_key[k] for n, k in zip(names, keys, strict=True)}
    values = {n: current[k] for n, k in zip(names, keys, strict=True) if k in current}
    # a target's load levels are per its own CPU count (none when it is unknown)
    infos = {n: alerting.series_info(svc, k) for n, k in zip(names, keys, strict=True)}
    latest = svc.latest()
    held_at = {} if latest is None else latest.held_at
    stamps: dict[str, float | None] = {
        n: held_at[k] for n, k in zip(names, keys, strict=True) if k in held_at
    }
    pushed = pushed_current(svc, (k for k in keys if k not in current), now)
    for n, k in zip(names, keys, strict=True):
        if k in pushed:
            stamps[n], values[n] = pushed[k]
    return encode_metrics(header, names, values, tick, points, infos, stamps)


def pushed_current(svc: Services, keys: Any, now: float) -> dict[str, tuple[float, float]]:
    """``{series key: (timestamp, value)}``: the newest stored point of each pushed series
    among ``keys`` within ``PUSHED_CURRENT_S``. Pushed samples go to the store, never to
    the sampler's tick, so a pushed target's tiles were "–" (unknown) however fresh."""
    out = {}
    for key in keys:
        if key in svc.pushed:
            newest = svc.store.newest(key)
            if newest is not None and now - newest[0] <= PUSHED_CURRENT_S:
                out[key] = (newest[0], newest[1])
    return out


def _of_target(values: Any, target: str) -> dict[str, float]:
    """The values of one target's series, keyed by metric name ("" = this host)."""
    if not target:
        return {k: v for k, v in values.items() if "@" not in k}
    suffix = "@" + target
    return {k[: -len(suffix)]: v for k, v in values.items() if k.endswith(suffix)}


def _current_block(
    svc: Services, values: dict[str, float], target: str
) -> dict[str, dict[str, Any]]:
    out = {}
    for name, value in sorted(values.items()):
        info = alerting.series_info(svc, series_key(name, target))
        out[name] = {"value": value, "level": info.level(value).value, "unit": info.unit}
    return out


@blueprint.route("/metrics/realtime", methods=["GET"])
@blueprint.arguments(schemas.RealtimeQuery, location="query", as_kwargs=True)
@blueprint.response(200, monitor_out.RealtimeSchema)
def get_realtime(since: float | None = None, target: str | None = None) -> Response:
    """Live feed: samples newer than a cursor (default: the last 300 s), plus current values,
    of one target (default: this host)."""
    svc = services()
    now = svc.clock()
    target = target or ""
    if target:
        target_series(svc, target)  # an unknown target is a 400
    cursor_given = since
    since = now - REALTIME_WINDOW_S if since is None else relative(since, now)
    assert since is not None
    samples: list[Sample] = [s for s in list(svc.recent) if s.timestamp > since]
    samples = samples[-REALTIME_MAX_SAMPLES:]
    tick, current = current_values(svc)
    if target:
        keys = target_series(svc, target).values()
        pushed = pushed_current(svc, (k for k in keys if k not in current), now)
        current = {**current, **{k: v for k, (_, v) in pushed.items()}}
    current = _of_target(current, target)
    if samples:
        cursor = samples[-1].timestamp
    else:  # nothing new: the client keeps its cursor
        cursor = since if cursor_given is not None or tick is None else tick
    return Response(
        json_bytes(
            {
                "cursor": cursor,
                "server_time": now,
                "interval_s": svc.settings.interval_s,
                "samples": [
                    {**s.to_dict(), "values": _of_target(s.values, target)} for s in samples
                ],
                "current": _current_block(svc, current, target),
            }
        ),
        mimetype="application/json",
    )


def health_payload(svc: Services, now: float) -> dict[str, Any]:
    """The sampler's and store's state (also used by the Prometheus collector)."""
    stats = svc.tick_stats
    tick, _ = current_values(svc)
    age = None if tick is None else max(0.0, now - tick)
    state = health_state(svc, now, age)  # status, reasons, the store block
    return {
        "status": state.status,
        "reasons": list(state.reasons),
        "uptime_s": round(now - svc.started_at, 3),
        "interval_s": svc.settings.interval_s,
        "last_sample_age_s": None if age is None else round(age, 3),
        "ticks": stats.ticks,
        "missed_ticks": stats.missed,
        "tick_errors": stats.errors,
        "jitter_ms": stats.jitter_ms(),
        "stage_errors": svc.stage_errors,
        "stages": len(svc.stages),
        "store": state.store,
        "host": facts(),
        "alerts": alerting.health(svc),
        "source": source_block(svc),
        "pushed_scoring": pushed_block(svc),
        "fit_worker": fit_worker_block(svc),
    }


def pushed_block(svc: Services) -> dict[str, int] | None:
    """How far the pushed samples' anomaly scores and alerts are (None: neither runs)."""
    scoring = svc.extras.get(PUSHED_KEY)
    return None if scoring is None else scoring.status()


@blueprint.route("/system/health", methods=["GET"])
@blueprint.response(200, monitor_out.HealthSchema)
def get_health() -> Response:
    """Sampler status, last sample age, jitter, missed ticks, store size, uptime."""
    svc = services()
    return jsonify_redacted(health_payload(svc, svc.clock()))


@blueprint.route("/verification", methods=["GET"])
@blueprint.response(200, monitor_out.VerificationSchema)
def get_verification() -> Response:
    """Evidence the data is real: psutil version, pid, host, sample counts, and a fresh
    psutil reading next to the newest stored one."""
    svc = services()
    tick, stored = current_values(svc, held=False)  # what that tick stored
    fresh_at, fresh = svc.verification_reading(svc.clock())
    host = facts()
    return jsonify_redacted(
        {
            "psutil_version": host["psutil_version"],
            "pid": host["pid"],
            "host": host,
            "samples": {
                "ticks_this_run": svc.tick_stats.ticks,
                "in_memory": len(svc.recent),
                "stored_values": svc.store.stats()["values"],
                "metrics": len(svc.store.metric_names()),
            },
            "stored": {"timestamp": tick, "values": stored},
            "fresh": {"timestamp": fresh_at, "values": fresh},
            "difference": {
                name: round(value - stored[name], 3)
                for name, value in fresh.items()
                if name in stored
            },
        }
    )


@blueprint.route("/stress-test", methods=["GET"])
@blueprint.response(200, monitor_out.StressSchema)
def get_stress() -> Response:
    """Status of the stress test."""
    return jsonify(services().stress.status().to_dict())


@blueprint.route("/stress-test", methods=["POST"])
@blueprint.arguments(schemas.StressBody, as_kwargs=True)
@blueprint.response(202, monitor_out.StressSchema)
@blueprint.alt_response(409, schema=out.ErrorSchema, description="A stress test is running")
@blueprint.alt_response(
    429, schema=out.ErrorSchema, description="Cooling down after the last run (Retry-After)"
)
def start_stress(
    seconds: float, cores: int
) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """Start a bounded CPU burn in worker processes (`cores` at most the host's CPU count)."""
    svc = services()
    controller = svc.stress
    seconds, cores = validate_request({"seconds": seconds, "cores": cores}, controller.max_cores)
    try:
        status = controller.start(seconds, cores, svc.clock())
    except StressBusyError as exc:
        return jsonify({"error": str(exc)}), 409
    except StressCooldownError as exc:
        return jsonify({"error": str(exc)}), 429, {"Retry-After": exc.retry_header()}
    return jsonify(status.to_dict()), 202


@blueprint.route("/stress-test", methods=["DELETE"])
@blueprint.response(200, monitor_out.StressSchema)
def cancel_stress() -> Response:
    """Cancel the running stress test (a no-op when none runs)."""
    svc = services()
    return jsonify(svc.stress.cancel(svc.clock()).to_dict())
