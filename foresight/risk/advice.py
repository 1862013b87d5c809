"""Failure-probability answers (seed 002): level, confidence and recommendations.

Recommendations come from the factors that drive *this* prediction: each metric's
features are reset to the training reference (z = 0) one metric at a time, and the
metrics whose reset lowers the log-odds most are the drivers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the monitor reads these answers without loading scikit-learn
    from foresight.risk.model import RiskModel

MAX_DRIVERS = 3
MIN_DROP = 0.05  # a driver lowers the log-odds by at least this when reset


class FailureRisk(str, Enum):
    """CRITICAL > 0.8, HIGH 0.6–0.8, MEDIUM 0.4–0.6, LOW 0.2–0.4, MINIMAL < 0.2."""

    MINIMAL = "MINIMAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


def failure_risk(probability: float) -> FailureRisk:
    if probability > 0.8:
        return FailureRisk.CRITICAL
    if probability >= 0.6:
        return FailureRisk.HIGH
    if probability >= 0.4:
        return FailureRisk.MEDIUM
    if probability >= 0.2:
        return FailureRisk.LOW
    return FailureRisk.MINIMAL


# (words in a metric's name, what to do when it drives the risk)
ADVICE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("cpu",), "CPU is driving the risk: scale out or find the process that burns it"),
    (("memory", "mem", "swap"), "memory is driving the risk: look for a leak or add memory"),
    (("disk",), "disk is driving the risk: free space or grow the volume"),
    (("latency", "network", "net_"), "network latency is driving the risk: check the links"),
    (("error",), "errors are driving the risk: read the application log for the new errors"),
    (("response", "api"), "response time is driving the risk: scale the API tier"),
    (("db", "query", "sql"), "database time is driving the risk: look for slow queries"),
    (("connection",), "connections are driving the risk: check pools and limits"),
)


def advice_for(metric: str, z: float) -> str:
    name = metric.lower()
    for words, text in ADVICE:
        if any(w in name for w in words):
            return f"{text} ({metric} at {z:+.1f} robust z from normal)"
    return f"{metric} is far from normal ({z:+.1f} robust z): investigate it"


@dataclass(frozen=True, slots=True)
class Prediction:
    """One answer of POST /api/risk/predict."""

    failure_probability: float
    failure_risk: FailureRisk
    confidence: float
    drivers: tuple[str, ...]
    recommendations: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "failure_probability": self.failure_probability,
            "failure_risk": self.failure_risk.value,
            "confidence": self.confidence,
            "drivers": list(self.drivers),
            "recommendations": list(self.recommendations),
        }


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(q / (1 - q))


def predict(model: RiskModel, rows: np.ndarray) -> list[Prediction]:
    """Predictions with drivers for independent rows (rows × the model's metrics)."""
    rows = np.asarray(rows, dtype=float)
    n, m = rows.shape
    base = model.predict_rows(rows)
    # one reset copy per (row, metric): n * m rows in one call
    reset = np.repeat(rows, m, axis=0)
    idx = np.arange(n * m)
    reset[idx, idx % m] = np.broadcast_to(model.reference_median_, (n, m)).reshape(-1)
    # in log-odds: a probability near 1 still shows which reset moves it
    drops = (_logit(base).repeat(m) - _logit(model.predict_rows(reset))).reshape(n, m)
    z = (rows - model.reference_median_) / model.reference_scale_
    out = []
    for i in range(n):
        order = [j for j in np.argsort(-drops[i]) if drops[i, j] >= MIN_DROP][:MAX_DRIVERS]
        drivers = tuple(model.metrics_[j] for j in order)
        recs = tuple(advice_for(model.metrics_[j], float(z[i, j])) for j in order)
        if not recs:
            recs = ("no metric stands out: nothing to do beyond the usual watch",)
        p = float(base[i])
        out.append(Prediction(p, failure_risk(p), max(p, 1.0 - p), drivers, recs))
    return out


def rows_from_records(records: Sequence[dict], metrics: Sequence[str]) -> np.ndarray:
    """Rows in the model's metric order from JSON objects; ValueError names what is wrong."""
    out = np.empty((len(records), len(metrics)))
    for i, record in enumerate(records):
        missing = [m for m in metrics if m not in record]
        if missing:
            where = f"row {i + 1}: " if len(records) > 1 else ""
            raise ValueError(
                f"{where}missing {', '.join(missing[:5])} (the model needs: "
                f"{', '.join(metrics[:12])}{'...' if len(metrics) > 12 else ''})"
            )
        for j, metric in enumerate(metrics):
            value = record[metric]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{metric} must be a number (got {value!r})")
            if not np.isfinite(value):
                raise ValueError(f"{metric} must be a finite number (got {value!r})")
            out[i, j] = float(value)
    return out
