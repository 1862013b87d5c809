"""Prometheus' HTTP API: ``/api/v1/query`` and ``/api/v1/query_range``, on ``requests``.

Why plain ``requests`` rather than ``prometheus-api-client``: we need two GET calls and
their JSON; that client pulls in pandas-era extras (dateparser, matplotlib in some
versions, httmock) and hides the timeout and error details we report in health.
``requests`` gives a pooled session (one keep-alive connection for every tick), explicit
timeouts, and no proxy for loopback when we ask.

Errors: ``PrometheusDown`` when no usable answer came (refused, timeout, 5xx, not JSON);
``PrometheusQueryError`` when Prometheus answered that the query is bad (HTTP 400/422).
"""

from __future__ import annotations

import logging
import math
import urllib.parse
from dataclasses import dataclass
from typing import Any

import requests

logger = logging.getLogger(__name__)

MAX_POINTS_PER_SERIES = 10_000  # Prometheus refuses query_range beyond 11,000 points
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class PrometheusDown(Exception):
    """Prometheus gave no usable answer (connection refused, timeout, 5xx, bad JSON)."""


class PrometheusQueryError(Exception):
    """Prometheus answered that the query itself is bad (its ``error`` text)."""


@dataclass(frozen=True, slots=True)
class Series:
    """One result series: its labels and ``(timestamp, value)`` points (finite values)."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class PrometheusClient:
    """The two read calls against one Prometheus base URL (``http://host:9090``)."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        if urllib.parse.urlsplit(self.base_url).hostname in LOOPBACK:
            self.session.trust_env = False  # no proxy between us and our own loopback

    def close(self) -> None:
        self.session.close()

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            response = self.session.get(url, params=params, timeout=self.timeout_s)
        except requests.Timeout:
            raise PrometheusDown(f"{url} did not answer within {self.timeout_s:g} s") from None
        except requests.RequestException as exc:
            raise PrometheusDown(f"{url} is unreachable: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusDown(
                f"{url} answered HTTP {response.status_code} without JSON"
            ) from None
        if response.status_code in (400, 422) and isinstance(body, dict):
            raise PrometheusQueryError(str(body.get("error") or body))
        if response.status_code != 200 or not isinstance(body, dict):
            raise PrometheusDown(f"{url} answered HTTP {response.status_code}")
        if body.get("status") != "success":
            raise PrometheusQueryError(str(body.get("error") or body))
        return body.get("data") or {}

    def query(self, promql: str, at: float) -> list[Series]:
        """The instant query at ``at`` (epoch s): one point per series."""
        data = self._get("/api/v1/query", {"query": promql, "time": f"{at:.3f}"})
        kind = data.get("resultType")
        out = []
        if kind == "vector":
            for item in data.get("result", []):
                ts, raw = item.get("value", (None, None))
                value = _number(raw)
                if value is not None and ts is not None:
                    out.append(Series(dict(item.get("metric", {})), [(float(ts), value)]))
        elif kind == "scalar":
            ts, raw = data.get("result", (None, None))
            value = _number(raw)
            if value is not None and ts is not None:
                out.append(Series({}, [(float(ts), value)]))
        else:
            raise PrometheusQueryError(
                f"the query must give an instant vector or a scalar (got {kind!r}): {promql}"
            )
        return out

    def query_range(self, promql: str, start: float, end: float, step_s: float) -> list[Series]:
        """Points at ``start, start+step, ... <= end``, in requests of at most 10,000 steps."""
        merged: dict[tuple[tuple[str, str], ...], Series] = {}
        chunk_s = step_s * (MAX_POINTS_PER_SERIES - 1)
        lo = start
        while lo <= end + 1e-9:
            hi = min(end, lo + chunk_s)
            data = self._get(
                "/api/v1/query_range",
                {
                    "query": promql,
                    "start": f"{lo:.3f}",
                    "end": f"{hi:.3f}",
                    "step": f"{step_s:g}",
                },
            )
            if data.get("resultType") != "matrix":
                raise PrometheusQueryError(
                    f"the query must give an instant vector (got {data.get('resultType')!r}): "
                    f"{promql}"
                )
            for item in data.get("result", []):
                labels = dict(item.get("metric", {}))
                series = merged.setdefault(tuple(sorted(labels.items())), Series(labels, []))
                for ts, raw in item.get("values", []):
                    value = _number(raw)
                    if value is not None:
                        series.points.append((float(ts), value))
            lo = hi + step_s
        return list(merged.values())
