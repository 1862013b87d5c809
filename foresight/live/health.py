"""The monitor's status and why: the sampler's freshness and the store's faults.

``health_state`` is what ``/api/system/health`` reports as ``status``, ``reasons`` and
``store``: its path, size and counts, and whether it can write (``ok``, ``error``,
``since``, ``not_stored``, ``last_fault``), and the fit worker's crashes and hangs
(``fit_worker_block``). Time is passed in. A store that cannot be
read does not make the health request fail: its counts are None and ``read_error``
says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from foresight.live.models import EXTRAS_KEY as MODELS_KEY
from foresight.live.services import STORE_FAULTS, Services
from foresight.sources.prometheus import PrometheusSource
from foresight.store.faults import error_text

# After the database file was lost and a fresh one opened, the status stays "degraded"
# this long, so a poller that looks every few minutes still sees that history is gone.
REOPEN_REPORTED_S = 300.0


@dataclass(frozen=True, slots=True)
class HealthState:
    """``status`` is "ok", "degraded" or "stopped"; ``reasons`` says why it is not ok."""

    status: str
    reasons: tuple[str, ...]
    store: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons), "store": dict(self.store)}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def store_block(services: Services) -> dict[str, Any]:
    """The store's path, size on disk, counts and fault keys."""
    store = services.store
    block: dict[str, Any] = {"path": str(store.path), "retention_days": store.retention_days}
    try:
        counts = store.counts()  # each tick's self-probe asks: no per-metric lookups
        block.update(size_bytes=store.size_bytes(), samples=counts["values"])
        block.update(metrics=counts["metrics"], read_error=None)
    except STORE_FAULTS as exc:  # a replaced file that is not a database, ...
        block.update(size_bytes=None, samples=None, metrics=None, read_error=error_text(exc))
    block.update(services.store_faults.to_dict())
    return block


def source_block(services: Services) -> dict[str, Any] | None:
    """The source's state for ``/api/system/health`` (None: this host's own sampler)."""
    collector = services.collector
    return collector.status() if isinstance(collector, PrometheusSource) else None


def source_reasons(services: Services) -> list[str]:
    """Why the source makes the status degraded: Prometheus away, or a query failing."""
    state = source_block(services)
    if state is None:
        return []
    out = []
    if state["up"] is False:
        out.append(
            f"the Prometheus source {state['url']} does not answer: {state['error']} "
            f"(since {_iso(state['since'])}; {state['failures']} failed reads, caught up "
            "when it answers)"
        )
    for name, error in sorted(state["query_errors"].items()):
        out.append(f"the Prometheus query {name} fails: {error}")
    return out


def fit_worker_block(services: Services) -> dict[str, Any] | None:
    """The fit worker's counters and its last crash or hang (None: no worker)."""
    live = services.extras.get(MODELS_KEY)
    return None if live is None else live.worker_stats()


def fit_worker_reasons(block: dict[str, Any] | None, now: float) -> list[str]:
    """A crash or hang of the fit worker keeps the status degraded for a while."""
    if block is None:
        return []
    last = block["last_failure"]
    if last is None or now - last["at"] >= REOPEN_REPORTED_S:
        return []
    what = {"hang": "hung and was killed", "crash": "died", "error": "had a fit fail"}
    return [
        f"the fit worker {what[last['kind']]} at {_iso(last['at'])}: {last['message']}; "
        f"the served models stay and the fits are retried ({block['hangs']} hangs, "
        f"{block['crashes']} crashes, {block['failed']} failed fits so far)"
    ]


def health_state(services: Services, now: float, last_sample_age_s: float | None) -> HealthState:
    """The status, its reasons and the store's fault keys at ``now`` (epoch seconds)."""
    interval_s = services.settings.interval_s
    stale_after_s = max(3 * interval_s, 5.0)
    reasons: list[str] = []
    if last_sample_age_s is None and now - services.started_at > stale_after_s:
        reasons.append(f"no sample yet, {now - services.started_at:.0f} s after start")
    elif last_sample_age_s is not None and last_sample_age_s > stale_after_s:
        reasons.append(
            f"the newest sample is {last_sample_age_s:.0f} s old (interval {interval_s:g} s)"
        )
    reasons.extend(services.collector.problems(now))  # a source or probe that fails
    store = store_block(services)
    if store["read_error"] is not None:
        reasons.append(f"the store cannot be read: {store['read_error']}")
    if not store["ok"]:
        reasons.append(
            f"the store cannot write: {store['error']} (since {_iso(store['since'])}; "
            f"{store['not_stored']} samples shown live but not stored)"
        )
    last = store["last_fault"]
    if last is not None and last["code"] == "REOPENED" and now - last["until"] < REOPEN_REPORTED_S:
        reasons.append(
            f"{last['error']} at {_iso(last['until'])}; samples stored before are not in it"
        )
    reasons += source_reasons(services)
    reasons += fit_worker_reasons(fit_worker_block(services), now)
    if not services.running:
        status = "stopped"
        reasons.insert(0, "the sampler is not running")
    else:
        status = "degraded" if reasons else "ok"
    return HealthState(status, tuple(reasons), store)
