"""JSON history files: what ``main.py export`` writes and ``main.py import`` reads.

The shape is the one ``GET /api/metrics`` serves, so an API response can be imported too::

    {"format": "foresight-history", "version": 1, "exported_at": 1700000000.0,
     "since": ..., "until": ...,
     "metrics": {"cpu_percent": {"unit": "%", "description": "...",
                                 "points": [[1700000000.0, 12.5], ...]}}}

Export streams raw values metric by metric into a temporary file that replaces the target
only when complete. Import streams and validates the whole file before it writes
anything (a bad file changes nothing, and no store is opened), then stores it in short
batches so a live monitor's sampler is not held up; see ``store_history``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import numpy as np

from foresight.core.atomic_file import atomic_text_writer
from foresight.core.catalog import metric_info
from foresight.core.errors import InputError, quote_input
from foresight.store.metric_store import MetricStore

logger = logging.getLogger(__name__)

FORMAT = "foresight-history"
VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")
MAX_TIMESTAMP = 1e11  # year 5138: anything later is a unit mistake (ms, ns)
MAX_DEPTH = 32  # a history file nests 5 deep; hostile "[[[[..." stops here
IMPORT_BATCH_VALUES = 20_000  # values per import transaction: ~0.1 s of SQLite work
IMPORT_PAUSE_S = 0.05  # between import transactions: a waiting sampler gets in
Progress = Callable[[str, int, int], None]


def export_history(
    store: MetricStore | sqlite3.Connection,
    path: str | Path,
    metrics: list[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    progress: Progress | None = None,
    now: float | None = None,
) -> int:
    """Write raw values of ``metrics`` (all when None) in ``[since, until]``; return count.

    ``progress(metric, index, total)`` is called before each metric. ``store`` may be a
    read-only connection from ``readonly.connect_read_only`` (export never writes).
    """
    conn = store if isinstance(store, sqlite3.Connection) else store._conn()
    lo = -math.inf if since is None else float(since)
    hi = math.inf if until is None else float(until)
    if lo > hi:
        raise InputError(f"since must be <= until (got since={since}, until={until})")
    known = dict(conn.execute("SELECT name, id FROM metric").fetchall())
    names = sorted(known) if metrics is None else list(metrics)
    unknown = [m for m in names if m not in known]
    if unknown:
        raise InputError(
            f"unknown metric(s) {', '.join(unknown)}; the store has: "
            f"{', '.join(sorted(known)) or 'nothing yet'}"
        )
    header = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": time.time() if now is None else now,
        "since": None if since is None else lo,
        "until": None if until is None else hi,
    }
    written = 0
    with atomic_text_writer(path, what="--out") as out:
        out.write(json.dumps(header)[:-1] + ', "metrics": {')
        for index, name in enumerate(names):
            if progress is not None:
                progress(name, index, len(names))
            info = metric_info(name)
            out.write(
                ("," if index else "")
                + f"\n{json.dumps(name)}: "
                + json.dumps({"unit": info.unit, "description": info.description})[:-1]
                + ', "points": ['
            )
            cur = conn.execute(
                "SELECT ts, value FROM sample WHERE metric_id = ? AND "
                "ts >= ? AND ts <= ? ORDER BY ts",
                (known[name], lo, hi),
            )
            first = True
            while chunk := cur.fetchmany(10_000):
                text = ",".join(f"[{t!r},{v!r}]" for t, v in chunk)
                out.write(text if first else "," + text)
                first = False
                written += len(chunk)
            out.write("]}")
        out.write("\n}}\n")
    logger.info("exported %d values of %d metrics to %s", written, len(names), path)
    return written


@dataclass(frozen=True, slots=True)
class History:
    """A validated JSON history file: per metric, its timestamps and values (float64)."""

    source: str
    metrics: dict[str, tuple[np.ndarray, np.ndarray]]

    @property
    def n_points(self) -> int:
        return sum(len(ts) for ts, _ in self.metrics.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "points": self.n_points,
            "metrics": {name: len(ts) for name, (ts, _) in self.metrics.items()},
        }


class _Events:
    """ijson's event stream with a depth count, so hostile nesting is an InputError."""

    def __init__(self, handle: BinaryIO, source: str) -> None:
        self._it = ijson.basic_parse(handle, use_float=True)
        self.source = source
        self.depth = 0

    def next(self) -> tuple[str, Any]:
        try:
            event, value = next(self._it)
        except StopIteration:
            raise InputError(f"{self.source} is not valid JSON history: it ends early") from None
        except ijson.JSONError as exc:
            raise InputError(_json_error(self.source, exc)) from None
        if event in ("start_map", "start_array"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise InputError(
                    f"{self.source} is nested more than {MAX_DEPTH} levels deep; "
                    "a history file needs 5"
                )
        elif event in ("end_map", "end_array"):
            self.depth -= 1
        return event, value

    def more(self) -> bool:
        """True when anything but white space follows the top-level value."""
        try:
            next(self._it)
        except StopIteration:
            return False
        except ijson.JSONError:
            return True
        return True

    def skip(self, event: str) -> None:
        """Consume the rest of a value whose first event was ``event``."""
        if event not in ("start_map", "start_array"):
            return
        floor = self.depth - 1
        while self.depth > floor:
            self.next()

    def keys(self) -> Iterator[str]:
        """Yield the keys of the map just started, up to its end_map."""
        while True:
            event, value = self.next()
            if event == "end_map":
                return
            yield value


def _json_error(source: str, exc: Exception) -> str:
    text = str(exc)
    if "NaN" in text or "Infinity" in text:
        return f"{source}: NaN is not allowed (values must be finite numbers)"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"{source} is not valid JSON history: {quote_input(first)}"


def _number(value: Any) -> bool:
    # ijson gives int for integer literals, float for the rest, bool never counts
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer literal too big for a float
        return False


def _read_points(events: _Events, source: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    ts, vs = array("d"), array("d")
    i = 0
    while True:
        event, _ = events.next()
        if event == "end_array":
            break
        point: list[Any] = []
        if event == "start_array":
            while len(point) < 3:
                event, value = events.next()
                if event == "end_array":
                    break
                point.append(value if event == "number" else None)
                events.skip(event)
        if not (event == "end_array" and len(point) == 2 and all(map(_number, point))):
            raise InputError(
                f"{source}: metric {name!r} point {i} must be "
                f"[timestamp, value] with finite numbers (got {quote_input(point)})"
            )
        stamp, value = float(point[0]), float(point[1])
        if not 0 <= stamp < MAX_TIMESTAMP:
            raise InputError(
                f"{source}: metric {name!r} point {i} has timestamp "
                f"{point[0]!r}; expected epoch seconds"
            )
        ts.append(stamp)
        vs.append(value)
        i += 1
    return np.frombuffer(ts, dtype=np.float64), np.frombuffer(vs, dtype=np.float64)


def _read_metrics(events: _Events, source: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    metrics: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in events.keys():
        if not NAME_RE.match(name):
            raise InputError(
                f"{source}: metric name {quote_input(name)} is not allowed (letters, "
                "digits, _ . : -, starting with a letter or _)"
            )
        needs = f'{source}: metric {name!r} needs a "points" list of [timestamp, value] pairs'
        event, _ = events.next()
        if event != "start_map":
            raise InputError(needs)
        points = None
        for key in events.keys():
            event, _ = events.next()
            if key != "points":
                events.skip(event)
            elif event != "start_array":
                raise InputError(needs)
            else:
                points = _read_points(events, source, name)
        if points is None:
            raise InputError(needs)
        if name in metrics:  # the name twice: both lists count
            (old_ts, old_vs), (new_ts, new_vs) = metrics[name], points
            points = (np.concatenate((old_ts, new_ts)), np.concatenate((old_vs, new_vs)))
        metrics[name] = points
    return metrics


def read_history(path: Path) -> History:
    """Validate a JSON history file completely and return its points; touch no store.

    Streams the file (ijson): memory is about 16 bytes per point, not the parsed
    document. Raises InputError with one sentence for anything wrong, so a rejected
    file changes nothing anywhere.
    """
    source = str(path)
    if not Path(path).is_file():
        raise InputError(f"cannot read {source}: no such file")
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from None
    with handle:
        events = _Events(handle, source)
        event, _ = events.next()
        if event != "start_map":
            raise InputError(
                f'{source} must be a JSON object with a "metrics" object '
                "(as written by `main.py export`)"
            )
        header: dict[str, Any] = {}
        metrics = None
        for key in events.keys():
            event, value = events.next()
            if key == "metrics" and event == "start_map":
                metrics = _read_metrics(events, source)
            elif key in ("format", "version"):
                header[key] = value if event not in ("start_map", "start_array") else [...]
                events.skip(event)
            else:
                events.skip(event)
        if events.more():
            raise InputError(f"{source} is not valid JSON history: text after the object")
    if metrics is None:
        raise InputError(
            f'{source} must be a JSON object with a "metrics" object '
            "(as written by `main.py export`)"
        )
    if "format" in header and header["format"] != FORMAT:
        raise InputError(
            f"{source} has format {quote_input(header['format'])}; expected {FORMAT!r}"
        )
    version = header.get("version", VERSION)
    if not (_number(version) and float(version).is_integer() and 1 <= version <= VERSION):
        raise InputError(
            f"{source} has version {quote_input(version)}; this Foresight reads versions "
            f"1-{VERSION}"
        )
    return History(source, metrics)


def store_history(
    store: MetricStore,
    history: History,
    *,
    batch_values: int = IMPORT_BATCH_VALUES,
    pause_s: float = IMPORT_PAUSE_S,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Append ``history`` in time order, ``batch_values`` values per transaction; return
    how many values were new.

    Each batch is its own short transaction and the write lock is let go for
    ``pause_s`` between batches, so a monitor sampling into the same store gets its tick
    in (SQLite's busy handler retries every few ms, up to 100 ms). A crash or Ctrl-C
    mid-import leaves the batches committed so far, each complete with its rollups, and
    nothing of the rest. Re-running the same import completes it: values already stored
    are kept (first write wins), so the result is as if it had run once. Within the
    file, a metric given twice at one timestamp keeps its first value, like the store.
    ``progress(done, total)`` is called after each batch.
    """
    names = sorted(history.metrics)
    if not names:
        return 0
    ts = np.concatenate([history.metrics[n][0] for n in names])
    vs = np.concatenate([history.metrics[n][1] for n in names])
    which = np.concatenate(
        [np.full(len(history.metrics[n][0]), i, dtype=np.int32) for i, n in enumerate(names)]
    )
    order = np.lexsort((which, ts))  # by time, then metric; stable: file order breaks ties
    ts, vs, which = ts[order], vs[order], which[order]
    del order
    keep = np.ones(len(ts), dtype=bool)
    keep[1:] = (np.diff(ts) != 0) | (np.diff(which) != 0)
    ts, vs, which = ts[keep], vs[keep], which[keep]
    added, total = 0, len(ts)
    for start in range(0, total, batch_values):
        stop = min(start + batch_values, total)
        if start and pause_s > 0:
            time.sleep(pause_s)
        added += store.append_many(_rows(names, ts[start:stop], vs[start:stop], which[start:stop]))
        if progress is not None:
            progress(stop, total)
    return added


def _rows(
    names: list[str], ts: np.ndarray, vs: np.ndarray, which: np.ndarray
) -> Iterator[tuple[float, dict[str, float]]]:
    """Group sorted points into ``(timestamp, {metric: value})`` ticks."""
    current: float | None = None
    tick: dict[str, float] = {}
    for t, v, i in zip(ts.tolist(), vs.tolist(), which.tolist(), strict=True):
        if t != current:
            if current is not None:
                yield current, tick
            current, tick = t, {}
        tick[names[i]] = v
    if current is not None:
        yield current, tick


def import_history(store: MetricStore, path: Path) -> int:
    """Validate ``path`` completely, then append it in batches; return the count added.

    See ``store_history`` for what an interrupted import leaves (re-run it).
    """
    history = read_history(path)
    added = store_history(store, history)
    logger.info("imported %d new values from %s", added, path)
    return added
