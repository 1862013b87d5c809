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

from foresight.core.errors import InputError, quote_input

logger = logging.getLogger(__name__)


MAX_GRID_STEPS = 50_000_000
NA_TEXT = ["", "nan", "NaN", "NA", "null", "None"]  # cells that are gaps, not errors


def _columns(path: Path, wanted: list[str]) -> None:
    """Check that ``path`` is a readable CSV with the ``wanted`` columns (header only)."""
    if not path.is_file():
        raise InputError(f"no such file: {quote_input(str(path))}")
    try:
        header = pd.read_csv(path, nrows=0, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = quote_input(str(exc).replace("\n", " "))
        raise InputError(f"{path}: cannot read it as CSV ({reason})") from None
    missing = [c for c in wanted if c not in header.columns]
    if missing:
        have = quote_input(", ".join(map(str, header.columns)))
        raise InputError(f"{path}: no column {quote_input(missing[0])} (columns: {have})")


def _read_text(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read ``columns`` as text, so we, not pandas, decide what is a number or a gap."""
    try:
        frame = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        reason = quote_input(str(exc).replace("\n", " "))
        raise InputError(f"{path}: cannot read it as CSV ({reason})") from None
    if len(frame) == 0:
        raise InputError(f"{path}: the file has a header but no rows")
    return frame


def _read_floats(path: Path, column: str) -> np.ndarray | None:
    """The fast path: ``column`` parsed by pandas' C reader into float64 (8 bytes a row,
    no Python string per cell); None when some cell is not a plain number or gap, so the
    caller reads the text and reports the offending row."""
    try:
        frame = pd.read_csv(
            path,
            usecols=[column],
            dtype={column: "float64"},
            na_values=NA_TEXT,
            keep_default_na=False,
        )
    except (ValueError, pd.errors.ParserError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({quote_input(str(exc))})") from None
    return frame[column].to_numpy(np.float64, copy=True)  # writable (pandas CoW views are not)


def _values(path: Path, column: str) -> np.ndarray:
    values = _read_floats(path, column)
    if values is None:
        return parse_values(_read_text(path, [column])[column], f"{path}: column {column!r}")
    if len(values) == 0:
        raise InputError(f"{path}: the file has a header but no rows")
    inf = np.flatnonzero(np.isinf(values))
    if len(inf):
        raise InputError(
            f"{path}: column {column!r}: row {inf[0] + 1} is not a finite number "
            f"({values[inf[0]]!r})"
        )
    return values


def parse_values(text: pd.Series, where: str) -> np.ndarray:
    """Turn text cells into floats: empty (or 'nan'/'NA') cells are gaps (NaN)."""
    stripped = text.str.strip()
    blank = stripped.isin(NA_TEXT)
    values = pd.to_numeric(stripped.where(~blank, None), errors="coerce").to_numpy(float)
    bad = np.flatnonzero(np.isnan(values) & ~blank.to_numpy())
    if len(bad):
        raise InputError(
            f"{where}: row {bad[0] + 1} is not a number ({quote_input(text.iloc[bad[0]])})"
        )
    inf = np.flatnonzero(np.isinf(values))
    if len(inf):
        raise InputError(
            f"{where}: row {inf[0] + 1} is not a finite number ({quote_input(text.iloc[inf[0]])})"
        )
    return values


def parse_times(text: pd.Series, where: str) -> np.ndarray:
    """Turn ISO-8601 text or epoch seconds into epoch seconds (float, UTC).

    ISO times without an offset are taken as UTC. Every cell must be readable.
    """
    stripped = text.str.strip()
    numeric = pd.to_numeric(stripped, errors="coerce")
    if numeric.notna().all():
        out = numeric.to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(out))
        if len(bad):
            raise InputError(
                f"{where}: row {bad[0] + 1} has a time that is not finite "
                f"({quote_input(text.iloc[bad[0]])})"
            )
        return out
    times = pd.to_datetime(stripped, utc=True, format="ISO8601", errors="coerce")
    unread = np.flatnonzero(times.isna().to_numpy())
    if len(unread):
        raise InputError(
            f"{where}: row {unread[0] + 1} has an unreadable time "
            f"{quote_input(text.iloc[unread[0]])} (use ISO-8601 or epoch seconds)"
        )
    nanos = times.dt.tz_convert(None).to_numpy("datetime64[ns]").astype(np.int64)
    return nanos / 1e9


def load_series(
    path: str | Path, value_col: str, time_col: str | None = None, observed_col: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one metric column (and its times) from a CSV file.

    Returns ``(timestamps, values)``, both float arrays in file order, one entry per
    row (repeated timestamps kept; ``to_regular_grid`` sorts and reports them).
    ``timestamps`` are epoch seconds; without a time column they are the row numbers
    0, 1, 2, ... (one "second" apart). Empty value cells are gaps (NaN), and so are rows
    whose ``observed_col`` is 0 (a trace's "no data for this row" flag: a gap, not a
    zero). Raises InputError for a missing file or column, an empty file, non-numeric
    text, or an unreadable time.

    Memory: only the named columns are read, numbers straight into float64 (about 8
    bytes a row per column, plus pandas' parse buffers); only ISO times go through text.
    """
    path = Path(path)
    values = _checked_values(path, value_col, time_col, observed_col)
    if not time_col:
        return np.arange(len(values), dtype=float), values
    timestamps = _read_floats(path, time_col)
    if timestamps is None or not np.isfinite(timestamps).all():  # ISO text, or a bad cell
        timestamps = parse_times(_read_text(path, [time_col])[time_col], _where(path, time_col))
    return timestamps, values


def load_series_with_text(
    path: str | Path, value_col: str, time_col: str | None = None, observed_col: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Like ``load_series``, plus each row's time cell exactly as written (row numbers
    as text without a time column), for outputs that must echo the input's times."""
    path = Path(path)
    values = _checked_values(path, value_col, time_col, observed_col)
    if not time_col:
        return (
            np.arange(len(values), dtype=float),
            values,
            [str(i) for i in range(len(values))],
        )
    column = _read_text(path, [time_col])[time_col]
    timestamps = parse_times(column, _where(path, time_col))
    # str.strip returns the cell itself when there is nothing to strip: no second copy.
    return timestamps, values, [cell.strip() for cell in column]


def _where(path: Path, column: str) -> str:
    return f"{path}: column {quote_input(column)}"


def _checked_values(
    path: Path, value_col: str, time_col: str | None, observed_col: str | None
) -> np.ndarray:
    _columns(path, [value_col] + [c for c in (time_col, observed_col) if c])
    values = _values(path, value_col)
    if observed_col:
        seen = _values(path, observed_col)
        values[seen == 0] = np.nan
    if np.all(np.isnan(values)):
        raise InputError(f"{path}: column {quote_input(value_col)} has no numbers")
    return values


def infer_step_s(timestamps: np.ndarray) -> float:
    """Return the typical spacing of ``timestamps`` in seconds: the median gap between
    distinct times in time order (file order does not matter)."""
    diffs = np.diff(np.unique(np.asarray(timestamps, dtype=float)))
    if len(diffs) == 0:
        raise InputError("cannot tell the sampling step: fewer than two distinct times")
    return float(np.median(diffs))


def report_order(timestamps: np.ndarray, where: str = "input") -> int:
    """Log how the rows stand in time: a warning with the count of repeated timestamps
    (their values are averaged), an info line when they were out of order. Return the
    number of repeats."""
    t = np.asarray(timestamps, dtype=float)
    if len(t) < 2:
        return 0
    diffs = np.diff(t)
    if np.all(diffs > 0):
        return 0
    repeats = len(t) - len(np.unique(t))
    if repeats:
        logger.warning(
            "%s: %d row(s) repeat an earlier timestamp; each time step takes the mean of its rows",
            where,
            repeats,
        )
    if np.any(diffs < 0):
        logger.info("%s: rows are not in time order; sorted by time before gridding", where)
    return repeats


def to_regular_grid(
    timestamps: np.ndarray, values: np.ndarray, step_s: float | None = None, where: str = "input"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average samples into regular bins of ``step_s`` seconds (default: inferred).

    Returns ``(grid_timestamps, grid_values, row_bin)``: bin start times, the mean of
    the observed (non-NaN) samples in each bin (NaN when a bin has none: a gap), and
    for each input row the index of its bin. Bins start at the first timestamp,
    floored to a multiple of ``step_s`` so 5-minute bins start on 5-minute marks.
    Input need not be sorted (the step is inferred in time order, rows are binned by
    their time); repeated timestamps are averaged together and counted in a warning.
    """
    t = np.asarray(timestamps, dtype=float)
    v = np.asarray(values, dtype=float)
    if len(t) == 0:
        raise InputError("no rows to put on a time grid")
    if not np.isfinite(t).all():
        raise InputError("every timestamp must be a finite number of epoch seconds")
    report_order(t, where)
    if step_s is None:
        step_s = infer_step_s(t) if len(t) > 1 else 1.0
    if not step_s > 0:
        raise InputError(f"step must be > 0 seconds (got {step_s})")
    origin = np.floor(np.min(t) / step_s) * step_s
    span_steps = (np.max(t) - origin) / step_s  # a float: checked before any int cast
    if not span_steps < MAX_GRID_STEPS:
        raise InputError(
            f"{span_steps:.4g} time steps of {step_s:g} s is too many "
            f"(max {MAX_GRID_STEPS:,}); pass a coarser --step"
        )
    row_bin = np.floor((t - origin) / step_s + 1e-9).astype(np.int64)
    n_bins = int(row_bin.max()) + 1
    seen = ~np.isnan(v)
    sums = np.bincount(row_bin[seen], weights=v[seen], minlength=n_bins)
    counts = np.bincount(row_bin[seen], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid_values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    grid_timestamps = origin + step_s * np.arange(n_bins)
    return grid_timestamps, grid_values, row_bin
