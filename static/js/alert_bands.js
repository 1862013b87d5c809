/* Alert shading on the History charts (window.foresightAlertBands), for static/js/alerts.js.
 * Loaded with `defer` after dashboard.js and before alerts.js.
 *
 *   draw(alerts)   shade each firing episode on its metric's chart: from the rule's
 *                  threshold up to the top of the chart, from when it fired until it
 *                  resolved (or now), one dataset of role "alert" per severity;
 *                  overlapping episodes shade from the lowest threshold firing then
 *   redraw()       draw the last list again (after a range change: the data moved)
 *   pageKey(metric)  the chart and tile key of an alert's series on this page, or null
 *
 * Only where the chart has data: an alert that was active when the monitor stopped is
 * still active after the restart, and shading it across the hours with no samples drew
 * a condition nobody measured. Each episode is cut to the spans of the chart's series
 * (from a run's first sample to its last, runs split where the line breaks at a gap).
 */
(() => {
  "use strict";
  const fs = window.foresight;
  if (!fs) return;
  const BAND_COLOUR = { critical: "rgba(248,81,73,.16)", warning: "rgba(210,153,34,.16)", info: "rgba(88,166,255,.12)" };
  let last = [];

  // The tile and chart key of an alert's series on this page, or null when the series
  // belongs to another target: an alert's metric is a series key (NAME for this host,
  // NAME@TARGET otherwise), while the page keys the target it shows by plain NAME.
  function pageKey(metric) {
    const at = metric.indexOf("@");
    const [name, target] = at < 0 ? [metric, ""] : [metric.slice(0, at), metric.slice(at + 1)];
    return target === (fs.target || "") ? name : null;
  }

  // [start ms, end ms] of every run of samples on the chart (any of its series), merged.
  function dataRuns(chart) {
    const runs = [];
    for (const ds of chart.data.datasets) {
      if (ds.foresightRole !== "series") continue;
      let start = null, end = null;
      for (const p of ds.data) {
        if (p.y === null || p.y === undefined) {
          if (start !== null) runs.push([start, end]);
          start = null;
        } else {
          if (start === null) start = p.x;
          end = p.x;
        }
      }
      if (start !== null) runs.push([start, end]);
    }
    runs.sort((a, b) => a[0] - b[0]);
    const merged = [];
    for (const [s, e] of runs) {
      const prev = merged[merged.length - 1];
      if (prev && s <= prev[1]) prev[1] = Math.max(prev[1], e);
      else merged.push([s, e]);
    }
    return merged;
  }

  // Each episode's [start, end, threshold] cut to the runs of data.
  function clippedSpans(episodes, runs, nowS) {
    const out = [];
    for (const a of episodes) {
      const start = a.fired_at * 1000, end = (a.resolved_at ?? nowS) * 1000;
      for (const [s, e] of runs) {
        const from = Math.max(start, s), to = Math.min(end, e);
        if (to > from) out.push([from, to, a.threshold]);
      }
    }
    return out;
  }

  // The shaded region of overlapping spans, as one line sorted by time: at each instant
  // it starts at the lowest threshold of the spans covering it (their union), and breaks
  // (y: null) where none does. Concatenating the episodes instead sent x backwards
  // wherever two overlapped (LoadCareful and LoadHigh on load1 fire together), and
  // Chart.js, told the data is sorted (normalized: true), filled odd triangles.
  function unionBand(spans) {
    const edges = [...new Set(spans.flatMap(([start, end]) => [start, end]))].sort((a, b) => a - b);
    const data = [];
    let level = null; // the threshold shaded since the last edge (null: nothing)
    for (let i = 0; i < edges.length - 1; i++) {
      const [from, to] = [edges[i], edges[i + 1]];
      const covering = spans.filter(([start, end]) => start <= from && end >= to);
      const y = covering.length ? Math.min(...covering.map(([, , t]) => t)) : null;
      if (y === level) { if (y !== null) data[data.length - 1].x = to; continue; }
      if (y === null) data.push({ x: from, y: null });
      else data.push({ x: from, y }, { x: to, y });
      level = y;
    }
    return data;
  }

  // One shaded dataset per severity (critical over warning over info), each the union of
  // its episodes on that chart.
  function draw(all) {
    last = all;
    const byMetric = {};
    for (const a of all) {
      const key = pageKey(a.metric);
      if (a.fired_at == null || a.threshold == null || key === null || !fs.charts[key]) continue;
      (byMetric[key] ||= []).push(a);
    }
    const nowS = fs.nowS(); // an active episode ends at "now" (or the last sample)
    for (const [metric, chart] of Object.entries(fs.charts)) {
      const episodes = byMetric[metric] || [];
      const had = chart.data.datasets.some((d) => d.foresightRole === "alert");
      if (!had && !episodes.length) continue;
      chart.data.datasets = chart.data.datasets.filter((d) => d.foresightRole !== "alert");
      const runs = dataRuns(chart);
      for (const severity of ["info", "warning", "critical"]) {
        const mine = episodes.filter((a) => (BAND_COLOUR[a.severity] ? a.severity : "info") === severity);
        const data = unionBand(clippedSpans(mine, runs, nowS));
        if (!data.length) continue;
        chart.data.datasets.push({
          label: `${severity} alert`, foresightRole: "alert", alertSeverity: severity,
          data, fill: "end", pointRadius: 0, pointHitRadius: 0,
          borderWidth: 0, spanGaps: false, order: 10, backgroundColor: BAND_COLOUR[severity],
        });
      }
      fs.update(metric);
    }
  }

  window.foresightAlertBands = { draw, redraw: () => draw(last), pageKey };
  fs.onRangeChange.push(() => draw(last));
})();
