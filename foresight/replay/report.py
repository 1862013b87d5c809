"""A self-contained HTML report of a replay: it opens offline, with no server.

Chart.js is read at run time from ``static/vendor/`` (copied there at set-up) or
``node_modules/`` and embedded inline; without either, the page still has the tables
and says why the charts are missing. Long traces are bucketed to at most
``max_points`` points (demand: mean and max per bucket; capacity: mean per bucket);
a second chart shows the busiest day at full resolution.
"""

from __future__ import annotations

import html
import json
import logging
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from foresight.core.atomic_file import atomic_text_writer
from foresight.replay.simulation import ReplayResult

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # the repository: static/ and node_modules/ are there
CHART_JS_PATHS = (
    ROOT / "static" / "vendor" / "chart.umd.min.js",
    ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js",
)
COLOURS = {
    "threshold": "#8c564b",
    "reactive": "#d62728",
    "predictive": "#2ca02c",
    "hybrid": "#1f77b4",
}
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


def render(
    result: ReplayResult, *, title: str, notes: list[str] | None = None, max_points: int = 1500
) -> str:
    """Return the report page as one HTML string."""
    lo, hi = _busiest_day(result)
    payload = {
        "overall": _series(result, 0, len(result.demand), max_points),
        "zoom": _series(result, lo, hi, max_points),
        "colours": COLOURS,
    }
    rows = "".join(
        f"<tr><td style='color:{COLOURS.get(name, '#333')}'><b>{html.escape(name)}</b></td>"
        f"<td>{m.cost:,.2f}</td><td>{m.instance_hours:,.1f}</td>"
        f"<td>{m.overload_minutes:,.0f}</td><td>{m.overload_ratio:.2%}</td>"
        f"<td>{m.mean_slack:.1%}</td><td>{m.actions:,}</td><td>{m.scale_ups:,}</td>"
        f"<td>{m.scale_downs:,}</td><td>{m.flaps:,}</td><td>{m.flaps_per_day:.1f}</td></tr>"
        for name, m in result.metrics.items()
    )
    lib = chart_js()
    script = (
        f"<script>{lib}</script>"
        if lib
        else "<p><b>Charts unavailable:</b> Chart.js was not found (run <code>make "
        "setup</code>); the figures above are complete.</p>"
    )
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in (notes or []))
    data_json = json.dumps(payload).replace("</", "<\\/")
    span_h = len(result.demand) * result.step_s / 3600
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px;
       color: #222; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: .8rem 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3rem .7rem; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.chart {{ position: relative; height: 360px; margin: 1rem 0 2rem; }}
.muted {{ color: #666; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="muted">{len(result.demand):,} steps of {result.step_s:g} s ({span_h:,.1f} h);
boot lag {result.boot_s:g} s; one instance serves {result.unit_capacity:g} of the input
unit (demand is shown in instances at 100 %). Overloaded = demand above ready capacity.
Generated {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}.</p>
<table><tr><th>policy</th><th>cost (USD)</th><th>instance-hours</th>
<th>overload (min)</th><th>overloaded steps</th><th>mean slack</th><th>actions</th>
<th>scale-ups</th><th>scale-downs</th><th>flaps</th><th>flaps per day</th></tr>{rows}
</table>
<p class="muted">A flap is a scale-down that a scale-up reversed within
{result.flap_window_s / 60:g} minutes.</p>
<ul>{note_html}</ul>
<h2>Demand and ready capacity, whole trace</h2>
<p class="muted" id="bucket-note"></p>
<div class="chart"><canvas id="overall"></canvas></div>
<h2>The busiest day, every step</h2>
<div class="chart"><canvas id="zoom"></canvas></div>
{script}
<script>
const DATA = {data_json};
function draw(id, d) {{
  if (typeof Chart === "undefined") return;
  const sets = [
    {{label: "forecast 80 % band (low)", data: d.band_lo, borderWidth: 0, pointRadius: 0,
      backgroundColor: "rgba(255,127,14,0.15)"}},
    {{label: "forecast 80 % band", data: d.band_hi, borderWidth: 0, pointRadius: 0,
      fill: "-1", backgroundColor: "rgba(255,127,14,0.15)"}},
    {{label: "forecast at boot lag", data: d.forecast, borderColor: "#ff7f0e",
      borderDash: [4, 3], borderWidth: 1, pointRadius: 0}},
    {{label: "demand", data: d.demand, borderColor: "#222", borderWidth: 1.2,
      pointRadius: 0}},
  ];
  if (d.demand_max) sets.push({{label: "demand (max in bucket)", data: d.demand_max,
      borderColor: "#999", borderWidth: 0.8, pointRadius: 0, hidden: true}});
  for (const [name, ready] of Object.entries(d.ready)) {{
    sets.push({{label: "ready: " + name, data: ready, stepped: true, pointRadius: 0,
      borderWidth: 1.5, borderColor: DATA.colours[name] || "#555"}});
  }}
  new Chart(document.getElementById(id), {{type: "line",
    data: {{labels: d.labels, datasets: sets}},
    options: {{animation: false, maintainAspectRatio: false, spanGaps: false,
      interaction: {{mode: "index", intersect: false}},
      scales: {{x: {{ticks: {{maxTicksLimit: 12}}}},
               y: {{title: {{display: true, text: "instances (demand units)"}}}}}},
      plugins: {{legend: {{labels: {{filter: i => !i.text.endsWith("(low)")}}}}}}}}}});
}}
if (DATA.overall.bucket_s > {result.step_s}) document.getElementById("bucket-note")
  .textContent = "Each point is the mean over " + (DATA.overall.bucket_s / 60).toFixed(0)
  + " minutes; the zoom below shows every step.";
draw("overall", DATA.overall);
draw("zoom", DATA.zoom);
</script></body></html>
"""


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
