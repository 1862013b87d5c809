"""Read multivariate metric CSVs (.csv or .csv.gz) for failure risk.

Every column other than the time and label columns is a metric and must be numeric
(empty cells are gaps). Rows must be in time order. Bad files raise InputError with one
sentence naming the file, the column and the row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from foresight.core.errors import InputError
from foresight.core.timeseries_io import infer_step_s, parse_times

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MetricFile:
    """One file's rows: times (epoch s, or row numbers × 60 without a time column), the
    metric columns' values, and the incident flags (None without a label column)."""

    path: str
    timestamps: np.ndarray
    metrics: tuple[str, ...]
    values: np.ndarray
    incident: np.ndarray | None
    step_s: float
    timed: bool = True  # False: no time column, the times are row numbers (not a clock)


def _numeric(frame: pd.DataFrame, column: str, path: Path, hint: str = "") -> np.ndarray:
    series = frame[column]
    values = pd.to_numeric(series, errors="coerce").to_numpy(float)
    bad = np.flatnonzero(np.isnan(values) & series.notna().to_numpy())
    if len(bad):
        raise InputError(
            f"{path}: column {column!r} row {bad[0] + 1} is not a number "
            f"({series.iloc[bad[0]]!r}){hint}"
        )
    if np.isinf(values).any():
        row = int(np.flatnonzero(np.isinf(values))[0])
        raise InputError(f"{path}: column {column!r} row {row + 1} is not a finite number")
    return values


def read_metric_file(
    path: str | Path,
    label_col: str | None,
    time_col: str | None,
    metrics: Sequence[str] | None = None,
    default_step_s: float = 60.0,
) -> MetricFile:
    """Load one CSV. ``metrics``: the columns to use, in order (default: every other
    column). ``label_col``: 1/0 incident flags (nonzero is an incident); None: no labels."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    try:
        frame = pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty") from None
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc})".replace("\n", " ")) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in (label_col, time_col):
        if column and column not in frame.columns:
            raise InputError(
                f"{path}: no column {column!r} (columns: {', '.join(frame.columns[:12])}...)"
            )
    if len(frame) < 2:
        raise InputError(f"{path}: needs at least 2 rows (got {len(frame)})")
    if metrics is None:
        metrics = [c for c in frame.columns if c not in (label_col, time_col)]
    missing = [m for m in metrics if m not in frame.columns]
    if missing:
        raise InputError(f"{path}: no column {missing[0]!r}, which the model was trained on")
    if not metrics:
        raise InputError(f"{path}: no metric columns besides the time and label columns")
    hint = "" if time_col else "; a time column needs --time-col"
    values = np.column_stack([_numeric(frame, m, path, hint) for m in metrics])
    incident = None
    if label_col:
        labels = _numeric(frame, label_col, path)
        if np.isnan(labels).any():
            row = int(np.flatnonzero(np.isnan(labels))[0])
            raise InputError(f"{path}: column {label_col!r} row {row + 1} is empty")
        incident = labels != 0
    if time_col:
        timestamps = parse_times(frame[time_col].astype(str), f"{path}: column {time_col!r}")
        if np.any(np.diff(timestamps) <= 0):
            row = int(np.flatnonzero(np.diff(timestamps) <= 0)[0]) + 2
            raise InputError(f"{path}: column {time_col!r} is not increasing at row {row}")
        step_s = infer_step_s(timestamps)
    else:
        step_s = default_step_s
        timestamps = np.arange(len(frame), dtype=float) * step_s
    return MetricFile(
        str(path), timestamps, tuple(metrics), values, incident, step_s, timed=bool(time_col)
    )


def read_metric_files(
    paths: Sequence[str | Path], label_col: str | None, time_col: str | None
) -> list[MetricFile]:
    """Load several files that share the first file's metric columns."""
    files: list[MetricFile] = []
    for path in paths:
        metrics = files[0].metrics if files else None
        files.append(read_metric_file(path, label_col, time_col, metrics))
    return files
