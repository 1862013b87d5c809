"""A self-contained HTML report of a replay: it opens offline, with no server.

Chart.js is read at run time from ``static/vendor/`` (copied there at set-up) or
``node_modules/`` and embedded inline; without either, the page still has the tables
and says why the charts are missing. Long traces are bucketed to at most
``max_points`` points (demand: mean and max per bucket; capacity: mean per bucket);
a second chart shows the busiest day at full resolution.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import numpy as np

from foresight.core.atomic_file import atomic_text_writer
from foresight.replay.simulation import PolicyMetrics, ReplayResult

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # the project: static/, node_modules/
CHART_JS_PATHS = (
    ROOT / "static" / "vendor" / "chart.umd.min.js",
    ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js",
)
# Okabe-Ito: distinct under the common colour-vision deficiencies; the forecast gets the
# palette's reddish purple so no policy shares its hue.
COLOURS = {
    "threshold": "#E69F00",
    "reactive": "#D55E00",
    "predictive": "#009E73",
    "hybrid": "#0072B2",
}
FORECAST_COLOUR = "#CC79A7"
BASELINE_POLICY = "reactive"  # the Kubernetes HPA: what a verdict is measured against
DAY_S = 86_400.0


def chart_js() -> str | None:
    """Return Chart.js's browser bundle, or None when set-up has not fetched it."""
    for path in CHART_JS_PATHS:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def _labels(ts: np.ndarray) -> list[str]:
    # Traces without calendar dates (seconds since start) still read sensibly.
    if len(ts) and ts[0] < 10 * 365 * DAY_S:
        return [f"day {t // DAY_S:.0f} {t % DAY_S / 3600:05.2f}h" for t in ts]
    return [datetime.fromtimestamp(float(t), UTC).strftime("%Y-%m-%d %H:%M") for t in ts]


def _round(a: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(x) else round(float(x), 3) for x in a]


def _bucket(a: np.ndarray, size: int, how: str) -> np.ndarray:
    n = len(a) // size * size
    if n == 0 or size == 1:
        return a.astype(float)
    body = a[:n].astype(float).reshape(-1, size)
    with warnings.catch_warnings():  # a bucket inside a data gap is all-NaN: NaN is right
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(body, axis=1) if how == "max" else np.nanmean(body, axis=1)


def _series(result: ReplayResult, lo: int, hi: int, max_points: int) -> dict:
    """Chart data for steps [lo, hi), bucketed to at most ``max_points`` points."""
    size = max(1, -(-(hi - lo) // max_points))
    track = result.forecast
    lead = track.lead_steps
    # The forecast made at origin i for step i + lead, drawn at step i + lead.
    f_mean = np.full(len(result.demand), np.nan)
    f_lo, f_hi = f_mean.copy(), f_mean.copy()
    if len(result.demand) > lead:
        f_mean[lead:] = track.mean[:-lead, lead - 1]
        f_lo[lead:] = track.lower[:-lead, lead - 1]
        f_hi[lead:] = track.upper[:-lead, lead - 1]
    sl = slice(lo, hi)
    ts = result.timestamps[sl][::size][: max(1, (hi - lo) // size)]
    data = {
        "labels": _labels(ts),
        "demand": _round(_bucket(result.demand[sl], size, "mean")),
        "forecast": _round(_bucket(f_mean[sl], size, "mean")),
        "band_lo": _round(_bucket(f_lo[sl], size, "mean")),
        "band_hi": _round(_bucket(f_hi[sl], size, "mean")),
        "ready": {k: _round(_bucket(v[sl], size, "mean")) for k, v in result.ready.items()},
    }
    if size > 1:
        data["demand_max"] = _round(_bucket(result.demand[sl], size, "max"))
    data["bucket_s"] = size * result.step_s
    return data


def _busiest_day(result: ReplayResult) -> tuple[int, int]:
    per_day = max(1, int(DAY_S / result.step_s))
    d = np.nan_to_num(result.demand, nan=0.0)
    if len(d) <= per_day:
        return 0, len(d)
    rolling = np.convolve(d, np.ones(per_day), mode="valid")
    start = int(np.argmax(rolling))
    return start, start + per_day


def _percent_change(new: float, old: float) -> float | None:
    return None if old == 0 else 100.0 * (new - old) / old


def verdict(metrics: Mapping[str, PolicyMetrics]) -> str:
    """One line naming the policy with the fewest overloaded minutes (then the lowest cost)
    and how it compares with reactive (or, when reactive wins, with the runner-up).

    e.g. "hybrid: 80 % fewer overloaded minutes than reactive at 4 % more cost".
    """
    if not metrics:
        return "no policies were replayed"
    ranked = sorted(metrics.items(), key=lambda kv: (kv[1].overload_minutes, kv[1].cost))
    best, m = ranked[0]
    if len(ranked) == 1:
        return f"{best}: {m.overload_minutes:,.0f} overloaded minutes at {m.cost:,.2f} USD"
    other = BASELINE_POLICY if best != BASELINE_POLICY and BASELINE_POLICY in metrics else None
    other = other or ranked[1][0]
    o = metrics[other]
    over = _percent_change(m.overload_minutes, o.overload_minutes)
    if over is None:
        overload = f"no overloaded minutes, like {other}"
    elif round(over) == 0:
        overload = f"as many overloaded minutes as {other}"
    else:
        overload = (
            f"{abs(over):.0f} % {'fewer' if over < 0 else 'more'} overloaded minutes than {other}"
        )
    cost_change = _percent_change(m.cost, o.cost)
    if cost_change is None or round(cost_change) == 0:
        cost = "at the same cost"
    else:
        cost = f"at {abs(cost_change):.0f} % {'more' if cost_change > 0 else 'less'} cost"
    return f"{best}: {overload} {cost}"


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)


def render(
    result: ReplayResult, *, title: str, notes: list[str] | None = None, max_points: int = 1500
) -> str:
    """Return the report page as one HTML string (Jinja, autoescaped)."""
    lo, hi = _busiest_day(result)
    payload = {
        "overall": _series(result, 0, len(result.demand), max_points),
        "zoom": _series(result, lo, hi, max_points),
        "colours": COLOURS,
        "forecast_colour": FORECAST_COLOUR,
        "step_s": result.step_s,
    }
    return _TEMPLATES.get_template("replay_report.html").render(
        title=title,
        steps=len(result.demand),
        step_s=result.step_s,
        span_h=len(result.demand) * result.step_s / 3600,
        boot_s=result.boot_s,
        unit_capacity=result.unit_capacity,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        metrics=result.metrics,
        colours=COLOURS,
        verdict=verdict(result.metrics),
        flap_window_min=result.flap_window_s / 60,
        notes=notes or [],
        chart_js=chart_js(),
        payload=payload,
    )


def write_report(
    result: ReplayResult,
    path: str | Path,
    *,
    title: str = "Foresight replay",
    notes: list[str] | None = None,
) -> Path:
    """Write the report through ``atomic_text_writer`` (a file atomically; a device,
    FIFO or ``-`` straight through); InputError if it cannot."""
    text = render(result, title=title, notes=notes)
    with atomic_text_writer(path, what="--report") as fh:
        fh.write(text)
    path = Path(path)
    logger.debug("wrote report %s (%d kB)", path, len(text) // 1024)
    return path
