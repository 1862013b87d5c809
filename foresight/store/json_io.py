"""JSON history files: what ``main.py export`` writes and ``main.py import`` reads.

The shape is the one ``GET /api/metrics`` serves, so an API response can be imported too::

    {"format": "foresight-history", "version": 1, "exported_at": 1700000000.0,
     "since": ..., "until": ...,
     "metrics": {"cpu_percent": {"unit": "%", "description": "...",
                                 "points": [[1700000000.0, 12.5], ...]}}}

Export streams raw values metric by metric into a temporary file that replaces the target
only when complete. Import validates the whole file before it writes anything, then
stores it in one transaction: a bad file changes nothing.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foresight.core.atomic_file import atomic_text_writer
from foresight.core.catalog import metric_info
from foresight.core.errors import InputError
from foresight.store.metric_store import MetricStore

logger = logging.getLogger(__name__)

FORMAT = "foresight-history"
VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")
MAX_TIMESTAMP = 1e11  # year 5138: anything later is a unit mistake (ms, ns)
Progress = Callable[[str, int, int], None]


def export_history(
    store: MetricStore,
    path: Path,
    metrics: list[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    progress: Progress | None = None,
    now: float | None = None,
) -> int:
    """Write raw values of ``metrics`` (all when None) in ``[since, until]``; return count.

    ``progress(metric, index, total)`` is called before each metric.
    """
    lo = -math.inf if since is None else float(since)
    hi = math.inf if until is None else float(until)
    if lo > hi:
        raise InputError(f"since must be <= until (got since={since}, until={until})")
    known = dict(store._conn().execute("SELECT name, id FROM metric").fetchall())
    names = sorted(known) if metrics is None else list(metrics)
    unknown = [m for m in names if m not in known]
    if unknown:
        raise InputError(
            f"unknown metric(s) {', '.join(unknown)}; the store has: "
            f"{', '.join(sorted(known)) or 'nothing yet'}"
        )
    path = Path(path)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": time.time() if now is None else now,
        "since": None if since is None else lo,
        "until": None if until is None else hi,
    }
    written = 0
    conn = store._conn()
    with atomic_text_writer(path) as out:
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (values must be finite numbers)")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_history(text: str, source: str) -> dict[float, dict[str, float]]:
    """Validate a JSON history document; return ``{ts: {metric: value}}`` or raise."""
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InputError(f"{source} is not valid JSON history: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
        raise InputError(
            f'{source} must be a JSON object with a "metrics" object '
            "(as written by `main.py export`)"
        )
    if "format" in doc and doc["format"] != FORMAT:
        raise InputError(f"{source} has format {doc['format']!r}; expected {FORMAT!r}")
    if "version" in doc and doc["version"] not in range(1, VERSION + 1):
        raise InputError(
            f"{source} has version {doc['version']!r}; this Foresight reads versions 1-{VERSION}"
        )
    rows: dict[float, dict[str, float]] = {}
    for name, entry in doc["metrics"].items():
        if not NAME_RE.match(name):
            raise InputError(
                f"{source}: metric name {name!r} is not allowed (letters, "
                "digits, _ . : -, starting with a letter or _)"
            )
        points = entry.get("points") if isinstance(entry, dict) else None
        if not isinstance(points, list):
            raise InputError(
                f'{source}: metric {name!r} needs a "points" list of [timestamp, value] pairs'
            )
        for i, point in enumerate(points):
            if not (
                isinstance(point, list)
                and len(point) == 2
                and _number(point[0])
                and _number(point[1])
            ):
                raise InputError(
                    f"{source}: metric {name!r} point {i} must be "
                    f"[timestamp, value] with finite numbers (got {point!r})"
                )
            if not 0 <= point[0] < MAX_TIMESTAMP:
                raise InputError(
                    f"{source}: metric {name!r} point {i} has timestamp "
                    f"{point[0]!r}; expected epoch seconds"
                )
            rows.setdefault(float(point[0]), {})[name] = float(point[1])
    return rows


def import_history(store: MetricStore, path: Path) -> int:
    """Validate ``path`` completely, then append it in one transaction; return count."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    rows = parse_history(text, str(path))
    added = store.append_many(sorted(rows.items()))
    logger.info("imported %d new values from %s", added, path)
    return added
