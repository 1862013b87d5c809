"""Causal features for failure risk: every row uses only its own and earlier rows.

For each metric: the current value, its robust z-score against a reference period (the
file's first part), the z-score's short mean, its deltas, its deviation from the last
hour and its spread over the last hour. Across metrics: metric-agnostic aggregates of
those (the largest |z|, the share of metrics far out, ...), which transfer between
machines whose metrics differ.

The reference statistics are causal too: inside the reference period they are expanding
(row t sees rows 0..t), after it they are frozen. A zero spread never divides: the scale
has a floor of ``1e-3 * (1 + |median|)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

Z_CLIP = 1000.0  # a metric constant in the reference that moves would give z = inf
AGGREGATE = "agg"  # the feature group of the cross-metric aggregates


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Window lengths (seconds) of the features; rows are converted with ``step_s``."""

    short_s: float = 300.0
    long_s: float = 3600.0
    reference_s: float = 86_400.0
    reference_max_fraction: float = 0.25  # a short file keeps most rows outside it

    def to_dict(self) -> dict[str, float]:
        return {
            "short_s": self.short_s,
            "long_s": self.long_s,
            "reference_s": self.reference_s,
            "reference_max_fraction": self.reference_max_fraction,
        }


@dataclass(frozen=True, slots=True)
class Features:
    """A feature matrix (rows × features, float32) with each column's name and group
    (the metric it comes from, or ``"agg"`` for the cross-metric aggregates)."""

    names: tuple[str, ...]
    groups: tuple[str, ...]
    matrix: np.ndarray


def rows_for(seconds: float, step_s: float) -> int:
    """Whole rows covering ``seconds`` at ``step_s`` (at least 1)."""
    return max(1, round(seconds / step_s))


def reference_rows(n_rows: int, step_s: float, config: FeatureConfig) -> int:
    """Rows in the reference period: ``reference_s``, at most a fraction of the file."""
    cap = max(2, int(n_rows * config.reference_max_fraction))
    return max(2, min(rows_for(config.reference_s, step_s), cap))


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Carry the last value forward (causal); leading gaps take the first value seen."""
    frame = pd.DataFrame(np.asarray(values, dtype=float)).ffill().bfill()
    return frame.fillna(0.0).to_numpy(float)


def reference_stats(values: np.ndarray, n_reference: int) -> tuple[np.ndarray, np.ndarray]:
    """The frozen (median, scale) of each column over its first ``n_reference`` rows."""
    v = np.asarray(values, dtype=float)[:n_reference]
    median = np.median(v, axis=0)
    iqr = np.quantile(v, 0.75, axis=0) - np.quantile(v, 0.25, axis=0)
    scale = np.maximum(np.maximum(iqr / 1.349, v.std(axis=0) / 4.0), 1e-3 * (1 + np.abs(median)))
    return median, scale


def robust_z(values: np.ndarray, n_reference: int) -> np.ndarray:
    """Robust z-scores of each column against its first ``n_reference`` rows.

    Centre: the median; scale: max(IQR / 1.349, std / 4, floor). Expanding inside the
    reference period, frozen after it (then equal to ``reference_stats``). Clipped to
    ±Z_CLIP.
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    ref = pd.DataFrame(v[: min(n_reference, n)])
    expanding = ref.expanding(min_periods=1)
    median = expanding.median().to_numpy(float)
    iqr = (expanding.quantile(0.75) - expanding.quantile(0.25)).to_numpy(float)
    std = expanding.std(ddof=0).fillna(0.0).to_numpy(float)
    scale = np.maximum(np.maximum(iqr / 1.349, std / 4.0), 1e-3 * (1.0 + np.abs(median)))
    if n > len(ref):
        tail = n - len(ref)
        median = np.vstack([median, np.repeat(median[-1:], tail, axis=0)])
        scale = np.vstack([scale, np.repeat(scale[-1:], tail, axis=0)])
    return np.clip((v - median) / scale, -Z_CLIP, Z_CLIP)


def max_z_score(
    values: np.ndarray, step_s: float, config: FeatureConfig | None = None
) -> np.ndarray:
    """The unsupervised rule: 5-min max of the largest |robust z| over the metrics."""
    config = config or FeatureConfig()
    filled = fill_gaps(values)
    z = robust_z(filled, reference_rows(len(filled), step_s, config))
    largest = np.abs(z).max(axis=1)
    short = rows_for(config.short_s, step_s)
    return pd.Series(largest).rolling(short, min_periods=1).max().to_numpy(float)


def build_features(
    values: np.ndarray, metrics: list[str], step_s: float, config: FeatureConfig | None = None
) -> Features:
    """Build the causal feature matrix of one file's rows (rows × metrics, in time order)."""
    config = config or FeatureConfig()
    filled = fill_gaps(values)
    n, m = filled.shape
    if m != len(metrics):
        raise ValueError(f"{m} value columns but {len(metrics)} metric names")
    z = robust_z(filled, reference_rows(n, step_s, config))
    short = rows_for(config.short_s, step_s)
    long = rows_for(config.long_s, step_s)
    zf = pd.DataFrame(z)
    z_mean_short = zf.rolling(short, min_periods=1).mean().to_numpy()
    long_roll = zf.rolling(long, min_periods=1)
    dev_long = z - long_roll.mean().to_numpy()
    std_long = long_roll.std(ddof=0).fillna(0.0).to_numpy()
    delta_1 = zf.diff(1).fillna(0.0).to_numpy()
    delta_short = zf.diff(short).fillna(0.0).to_numpy()

    per_metric = {
        "value": filled,
        "z": z,
        "z_mean_5m": z_mean_short,
        "delta_1": delta_1,
        "delta_5m": delta_short,
        "dev_1h": dev_long,
        "std_1h": std_long,
    }
    largest = np.abs(z).max(axis=1)
    rolled = {
        "max_abs_z_5m": pd.Series(largest).rolling(short, min_periods=1).max().to_numpy(),
        "mean_max_abs_z_1h": pd.Series(largest).rolling(long, min_periods=1).mean().to_numpy(),
    }
    return _assemble(per_metric, rolled, metrics)


def steady_state_features(
    values: np.ndarray, metrics: list[str], median: np.ndarray, scale: np.ndarray
) -> Features:
    """Features of rows that come without history (an API request): each row is read as
    a steady state at its value, z against the training reference ``median``/``scale``,
    so every delta, deviation and spread is zero. Rows are independent."""
    v = np.asarray(values, dtype=float)
    z = np.clip((v - median) / scale, -Z_CLIP, Z_CLIP)
    zero = np.zeros_like(z)
    per_metric = {
        "value": v,
        "z": z,
        "z_mean_5m": z,
        "delta_1": zero,
        "delta_5m": zero,
        "dev_1h": zero,
        "std_1h": zero,
    }
    largest = np.abs(z).max(axis=1)
    return _assemble(per_metric, {"max_abs_z_5m": largest, "mean_max_abs_z_1h": largest}, metrics)


def _assemble(
    per_metric: dict[str, np.ndarray], rolled: dict[str, np.ndarray], metrics: list[str]
) -> Features:
    z, delta_1, delta_short = per_metric["z"], per_metric["delta_1"], per_metric["delta_5m"]
    dev_long, std_long = per_metric["dev_1h"], per_metric["std_1h"]
    abs_z = np.abs(z)
    largest = abs_z.max(axis=1)
    aggregates = {
        "max_abs_z": largest,
        "mean_abs_z": abs_z.mean(axis=1),
        "p90_abs_z": np.quantile(abs_z, 0.9, axis=1),
        "share_z_over_3": (abs_z > 3).mean(axis=1),
        "share_z_over_6": (abs_z > 6).mean(axis=1),
        "max_abs_z_5m": rolled["max_abs_z_5m"],
        "mean_max_abs_z_1h": rolled["mean_max_abs_z_1h"],
        "max_abs_delta_1": np.abs(delta_1).max(axis=1),
        "max_abs_delta_5m": np.abs(delta_short).max(axis=1),
        "max_abs_dev_1h": np.abs(dev_long).max(axis=1),
        "mean_abs_dev_1h": np.abs(dev_long).mean(axis=1),
        "max_std_1h": std_long.max(axis=1),
        "mean_std_1h": std_long.mean(axis=1),
    }
    columns: list[np.ndarray] = []
    names: list[str] = []
    groups: list[str] = []
    for kind, block in per_metric.items():
        columns.append(block)
        names += [f"{metric}:{kind}" for metric in metrics]
        groups += list(metrics)
    for kind, column in aggregates.items():
        # log1p keeps the heavy tails of z comparable for the linear models
        signed = column if kind.startswith("share") else np.log1p(np.abs(column))
        columns.append(signed.reshape(-1, 1))
        names.append(f"{AGGREGATE}:{kind}")
        groups.append(AGGREGATE)
    matrix = np.hstack(columns).astype(np.float32)
    return Features(names=tuple(names), groups=tuple(groups), matrix=matrix)
