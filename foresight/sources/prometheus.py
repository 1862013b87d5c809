"""``--source prometheus``: the monitor's samples read from Prometheus' HTTP API.

Every tick ``collect(now)`` reads each named query on a grid of ``interval_s``: the
point at ``end = floor(now / interval_s) * interval_s`` by an instant query, or, when
more than that one point is missing (the first tick, or after Prometheus was away), the
whole gap ``(last read, end]`` by ``query_range`` (up to ``catchup_s`` back). Points
before ``end`` go straight into the store in one transaction; the point at ``end`` is
the tick's Sample, which the cycle stores and every stage sees. Grid timestamps and
"strictly after the last read" mean a point is never fetched twice, and the store's
``(metric, ts)`` key would ignore it if it were: no duplicates after an outage.

Each result series is stored under ``NAME@TARGET`` (``foresight.core.series``), the
target being its labels. Two series of this host's target say how the source is doing:
``source_up`` (1 while Prometheus answers, 0 while not: the ``SourceDown`` alert rule
fires on it) and ``source_query_ms``. Prometheus being down or slow never raises out of
``collect``: the tick stores ``source_up = 0``, ``status()`` (in ``/api/system/health``)
says why, and the next answer catches up.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from foresight.core.errors import InputError
from foresight.core.series import canonical_target, series_key, split_key
from foresight.core.settings import Settings
from foresight.sources import queries as query_files
from foresight.sources.prometheus_api import (
    PrometheusClient,
    PrometheusDown,
    PrometheusQueryError,
    Series,
)
from foresight.sources.queries import PromQuery
from foresight.store.metric_store import MetricStore
from metrics_collector import Sample

logger = logging.getLogger(__name__)

TIMEOUT_SHARE = 0.8  # a request may take at most this share of the interval


class PrometheusSource:
    """Read named PromQL queries into Samples; see the module docstring."""

    def __init__(
        self,
        client: PrometheusClient,
        queries: list[PromQuery],
        store: MetricStore,
        *,
        interval_s: float,
        catchup_s: float = 3600.0,
    ) -> None:
        if not interval_s > 0:
            raise InputError(f"interval_s must be > 0 (got {interval_s})")
        self.client = client
        self.queries = list(queries)
        self.store = store
        self.interval_s = float(interval_s)
        self.catchup_s = float(catchup_s)
        self._step_ms = max(1, round(self.interval_s * 1000))
        self._last_ms: dict[str, int] = {}  # per query: the newest grid point read
        self.counters: dict[str, float] = {}
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {
            "up": None,
            "error": None,
            "since": None,
            "last_success_at": None,
            "failures": 0,
            "query_errors": {},
            "series": 0,
            "caught_up_points": 0,
        }

    @classmethod
    def from_settings(cls, settings: Settings, store: MetricStore) -> PrometheusSource:
        """Build from ``--prometheus-url``, the queries (flags, then file) and the interval."""
        assert settings.prometheus_url is not None
        queries = query_files.combine(settings.prometheus_queries, settings.prometheus_queries_path)
        timeout_s = min(settings.prometheus_timeout_s, TIMEOUT_SHARE * settings.interval_s)
        client = PrometheusClient(settings.prometheus_url, timeout_s=max(0.05, timeout_s))
        return cls(
            client,
            queries,
            store,
            interval_s=settings.interval_s,
            catchup_s=settings.prometheus_catchup_s,
        )

    def close(self) -> None:
        self.client.close()

    # The rest of metrics_collector.Collector: the caught-up points are stored by
    # ``collect`` itself (one transaction, before the tick's own), health's reasons come
    # from ``status()`` (foresight.live.health.source_reasons), and there are no byte
    # counters for /metrics.
    def take_backlog(self) -> list[Sample]:
        return []

    def problems(self, now: float) -> list[str]:
        return []

    # -- the collector interface -------------------------------------------------------
    def prime(self) -> None:
        """Resume after the newest stored point of each query; check the queries once.

        A query Prometheus calls bad is an InputError (exit 2 at start); Prometheus not
        answering is not: the monitor starts and catches up when it does.
        """
        newest: dict[str, int] = {}
        for key, (ts, _) in self.store.latest().items():
            metric = split_key(key)[0]
            ts_ms = round(ts * 1000)
            newest[metric] = max(newest.get(metric, ts_ms), ts_ms)
        with self._lock:
            for query in self.queries:
                if query.name in newest:
                    self._last_ms[query.name] = newest[query.name]
        for query in self.queries:
            try:
                self.client.query(query.promql, time.time())
            except PrometheusQueryError as exc:
                raise InputError(
                    f"Prometheus rejects the query {query.name}={query.promql!r}: {exc}"
                ) from None
            except PrometheusDown as exc:
                logger.warning("Prometheus is not answering yet (%s); reading it once it does", exc)
                return

    def collect(self, now: float) -> Sample:
        """One tick: the grid point at or before ``now`` of every query (catching up)."""
        end_ms = math.floor(round(now * 1000) / self._step_ms) * self._step_ms
        started = time.perf_counter()
        values: dict[str, float] = {}
        backlog: dict[float, dict[str, float]] = {}
        down: str | None = None
        query_errors: dict[str, str] = {}
        series = 0
        read_to: dict[str, int] = {}  # applied once the backlog is stored
        with self._lock:
            for query in self.queries:
                try:
                    got = self._read(query, end_ms)
                except PrometheusDown as exc:
                    down = str(exc)
                    break  # the others would wait for the same timeout
                except PrometheusQueryError as exc:
                    query_errors[query.name] = str(exc)
                    read_to[query.name] = end_ms  # do not retry the same gap forever
                    continue
                if got is None:
                    continue
                read_to[query.name] = end_ms
                for item in got:
                    key = series_key(query.name, canonical_target(item.labels, query.target_labels))
                    series += 1
                    for ts, value in item.points:
                        ts_ms = round(ts * 1000)
                        if ts_ms >= end_ms:
                            values[key] = value
                        else:
                            backlog.setdefault(ts_ms / 1000.0, {})[key] = value
            caught_up = 0
            if backlog:  # a store fault raises here: the gap is read again next tick
                caught_up = self.store.append_many(sorted(backlog.items()))
            self._last_ms.update(read_to)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self._note(now, down, query_errors, series, caught_up)
        values["source_up"] = 0.0 if down else 1.0
        values["source_query_ms"] = round(elapsed_ms, 3)
        return Sample(end_ms / 1000.0, values)

    def _read(self, query: PromQuery, end_ms: int) -> list[Series] | None:
        """The points of ``query`` not read yet up to ``end_ms``; None: nothing new."""
        last = self._last_ms.get(query.name)
        oldest = end_ms - math.floor(self.catchup_s * 1000 / self._step_ms) * self._step_ms
        start_ms = oldest if last is None else max(last + self._step_ms, oldest)
        if start_ms > end_ms:
            return None
        if start_ms == end_ms:
            return self.client.query(query.promql, end_ms / 1000.0)
        return self.client.query_range(
            query.promql, start_ms / 1000.0, end_ms / 1000.0, self._step_ms / 1000.0
        )

    def _note(
        self,
        now: float,
        down: str | None,
        query_errors: Mapping[str, str],
        series: int,
        caught_up: int,
    ) -> None:
        state = self._state
        if down is not None:
            if state["up"] is not False:
                logger.warning("Prometheus source down: %s", down)
                state["since"] = now
            state.update(up=False, error=down, failures=state["failures"] + 1)
        else:
            if state["up"] is False:
                logger.info("Prometheus source back after %d failed reads", state["failures"])
            if state["up"] is not True:
                state["since"] = now
            state.update(up=True, error=None, failures=0, last_success_at=now, series=series)
            for name, error in query_errors.items():
                if state["query_errors"].get(name) != error:
                    logger.warning("Prometheus query %s failed: %s", name, error)
            state["query_errors"] = dict(query_errors)
        state["caught_up_points"] += caught_up

    def status(self) -> dict[str, Any]:
        """For ``/api/system/health``: up, since when, the last error, series read."""
        return {
            "kind": "prometheus",
            "url": self.client.base_url,
            "queries": [q.name for q in self.queries],
            **{k: (dict(v) if isinstance(v, dict) else v) for k, v in self._state.items()},
        }
