"""Load a metric series from a CSV export and put it on a regular time grid.

Used by the ``backtest`` and ``detect`` commands and by ``replay``. Everything here
raises ``errors.InputError`` with one sentence for bad files, so the CLI can exit 2.
Times are epoch seconds (UTC, float); gaps are NaN, never zeros.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from foresight.core.errors import InputError

logger = logging.getLogger(__name__)


def _read_frame(path: Path, columns: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    try:
        # Read as text so we, not pandas, decide what counts as a number or a gap.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc})".replace("\n", " ")) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: no column {missing[0]!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    if len(frame) == 0:
        raise InputError(f"{path}: the file has a header but no rows")
    return frame


def parse_values(text: pd.Series, where: str) -> np.ndarray:
    """Turn text cells into floats: empty (or 'nan'/'NA') cells are gaps (NaN)."""
    stripped = text.str.strip()
    blank = stripped.isin(["", "nan", "NaN", "NA", "null", "None"])
    values = pd.to_numeric(stripped.where(~blank, None), errors="coerce").to_numpy(float)
    bad = np.flatnonzero(np.isnan(values) & ~blank.to_numpy())
    if len(bad):
        raise InputError(f"{where}: row {bad[0] + 1} is not a number ({text.iloc[bad[0]]!r})")
    inf = np.flatnonzero(np.isinf(values))
    if len(inf):
        raise InputError(
            f"{where}: row {inf[0] + 1} is not a finite number ({text.iloc[inf[0]]!r})"
        )
    return values


def parse_times(text: pd.Series, where: str) -> np.ndarray:
    """Turn ISO-8601 text or epoch seconds into epoch seconds (float, UTC).

    ISO times without an offset are taken as UTC. Every cell must be readable.
    """
    stripped = text.str.strip()
    numeric = pd.to_numeric(stripped, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(float)
    times = pd.to_datetime(stripped, utc=True, format="ISO8601", errors="coerce")
    unread = np.flatnonzero(times.isna().to_numpy())
    if len(unread):
        raise InputError(
            f"{where}: row {unread[0] + 1} has an unreadable time "
            f"{text.iloc[unread[0]]!r} (use ISO-8601 or epoch seconds)"
        )
    nanos = times.dt.tz_convert(None).to_numpy("datetime64[ns]").astype(np.int64)
    return nanos / 1e9


def load_series(
    path: str | Path, value_col: str, time_col: str | None = None, observed_col: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one metric column (and its times) from a CSV file.

    Returns ``(timestamps, values)``, both float arrays in file order, one entry per
    row (repeated timestamps kept). ``timestamps`` are epoch seconds; without a time
    column they are the row numbers 0, 1, 2, ... (one "second" apart). Empty value
    cells are gaps (NaN), and so are rows whose ``observed_col`` is 0 (a trace's "no
    data for this row" flag: a gap, not a zero). Raises InputError for a missing file
    or column, an empty file, non-numeric text, or an unreadable time.
    """
    timestamps, values, _ = load_series_with_text(path, value_col, time_col, observed_col)
    return timestamps, values


def load_series_with_text(
    path: str | Path, value_col: str, time_col: str | None = None, observed_col: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Like ``load_series``, plus each row's time cell exactly as written (row numbers
    as text without a time column), for outputs that must echo the input's times."""
    columns = [value_col] + [c for c in (time_col, observed_col) if c]
    frame = _read_frame(Path(path), columns)
    values = parse_values(frame[value_col], f"{path}: column {value_col!r}")
    if observed_col:
        seen = parse_values(frame[observed_col], f"{path}: column {observed_col!r}")
        values = np.where(seen == 0, np.nan, values)
    if time_col:
        timestamps = parse_times(frame[time_col], f"{path}: column {time_col!r}")
        text = frame[time_col].str.strip().tolist()
    else:
        timestamps = np.arange(len(values), dtype=float)
        text = [str(i) for i in range(len(values))]
    if np.all(np.isnan(values)):
        raise InputError(f"{path}: column {value_col!r} has no numbers")
    return timestamps, values, text


def infer_step_s(timestamps: np.ndarray) -> float:
    """Return the typical spacing of ``timestamps`` in seconds (median positive gap)."""
    diffs = np.diff(np.asarray(timestamps, dtype=float))
    diffs = diffs[diffs > 0]
    if len(diffs) == 0:
        raise InputError("cannot tell the sampling step: fewer than two distinct times")
    return float(np.median(diffs))


def to_regular_grid(
    timestamps: np.ndarray, values: np.ndarray, step_s: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average samples into regular bins of ``step_s`` seconds (default: inferred).

    Returns ``(grid_timestamps, grid_values, row_bin)``: bin start times, the mean of
    the observed (non-NaN) samples in each bin (NaN when a bin has none: a gap), and
    for each input row the index of its bin. Bins start at the first timestamp,
    floored to a multiple of ``step_s`` so 5-minute bins start on 5-minute marks.
    Input need not be sorted; repeated timestamps are averaged together.
    """
    t = np.asarray(timestamps, dtype=float)
    v = np.asarray(values, dtype=float)
    if len(t) == 0:
        raise InputError("no rows to put on a time grid")
    if step_s is None:
        step_s = infer_step_s(t) if len(t) > 1 else 1.0
    if not step_s > 0:
        raise InputError(f"step must be > 0 seconds (got {step_s})")
    origin = np.floor(np.min(t) / step_s) * step_s
    row_bin = np.floor((t - origin) / step_s + 1e-9).astype(np.int64)
    n_bins = int(row_bin.max()) + 1
    if n_bins > 50_000_000:
        raise InputError(f"{n_bins} time steps of {step_s:g} s is too many; pass a coarser --step")
    seen = ~np.isnan(v)
    sums = np.bincount(row_bin[seen], weights=v[seen], minlength=n_bins)
    counts = np.bincount(row_bin[seen], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid_values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    grid_timestamps = origin + step_s * np.arange(n_bins)
    return grid_timestamps, grid_values, row_bin
