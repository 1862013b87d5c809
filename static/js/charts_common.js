/* Chart helpers shared by the dashboard's panels (window.foresightCharts). Plain ES2020.
 * Loaded with `defer` after Chart.js and before static/js/dashboard.js.
 *
 *   withGaps(points, expectedS)  [[t_s, v], ...] → [{x: ms, y}, ...] with a {y: null}
 *                    wherever two neighbours are more than GAP_FACTOR × the expected
 *                    spacing apart, so Chart.js (spanGaps: false) breaks the line there;
 *                    the expected spacing is expectedS or, when larger, the series' own
 *                    median spacing (a target pushed or scraped every 15 s is not one
 *                    gap per point on a 1-s monitor)
 *   GAP_FACTOR       3: a gap is more than three missing intervals
 *   tickStep(spanS)  [Chart.js unit, step, step in s] giving at most ~6 labels
 *   alignTicks(scale, stepS)  afterBuildTicks hook: ticks on whole local steps
 *                    (05:00, 05:15, … rather than 05:07, 05:22)
 *   crosshair        a plugin: one vertical line and tooltip at the same instant on every
 *                    chart that uses it (sync(ms) moves it; ms = null hides it)
 *   "foresightSeries"  a Chart.js interaction mode: the points of the role "series"
 *                    datasets nearest the mouse's time (no divider, threshold or band)
 */
(() => {
  "use strict";

  const GAP_FACTOR = 3;
  const STEPS = [ // [unit, step, seconds]
    ["second", 10, 10], ["second", 30, 30], ["minute", 1, 60], ["minute", 2, 120],
    ["minute", 5, 300], ["minute", 10, 600], ["minute", 15, 900], ["minute", 30, 1800],
    ["hour", 1, 3600], ["hour", 2, 7200], ["hour", 3, 10800], ["hour", 6, 21600],
    ["hour", 12, 43200], ["day", 1, 86400], ["day", 2, 172800], ["day", 7, 604800],
  ];

  // The median spacing (ms) of consecutive non-null points: a series' own cadence.
  function medianSpacingMs(xs) {
    const gaps = [];
    for (let i = 1; i < xs.length; i++) if (xs[i] > xs[i - 1]) gaps.push(xs[i] - xs[i - 1]);
    if (!gaps.length) return 0;
    gaps.sort((a, b) => a - b);
    return gaps[Math.floor(gaps.length / 2)];
  }

  function withGaps(points, expectedS) {
    const out = [];
    const xs = [];
    for (const [t, v] of points || []) if (v !== null && v !== undefined) xs.push(t * 1000);
    const limitMs = GAP_FACTOR * Math.max(Math.max(expectedS || 1, 1e-3) * 1000, medianSpacingMs(xs));
    let prev = null;
    for (const [t, v] of points || []) {
      const x = t * 1000;
      if (v === null || v === undefined) { // a null from the server is a gap already
        if (out.length && out[out.length - 1].y !== null) out.push({ x, y: null });
        continue;
      }
      if (prev !== null && x - prev > limitMs) out.push({ x: (prev + x) / 2, y: null });
      out.push({ x, y: v });
      prev = x;
    }
    return out;
  }

  // Append one live point, breaking the line first when samples went missing.
  // The expected spacing is expectedS or the series' own recent median spacing, as above.
  function appendPoint(data, x, y, expectedS) {
    const last = data.length ? data[data.length - 1] : null;
    if (last && x <= last.x) return false;
    const recent = [];
    for (let i = data.length - 1; i >= 0 && recent.length < 11; i--) {
      if (data[i].y !== null) recent.unshift(data[i].x);
    }
    const limitMs = GAP_FACTOR * Math.max(expectedS * 1000, medianSpacingMs(recent));
    if (last && last.y !== null && x - last.x > limitMs) {
      data.push({ x: (last.x + x) / 2, y: null });
    }
    data.push({ x, y });
    return true;
  }

  function tickStep(spanS) {
    return STEPS.find(([, , s]) => spanS / s <= 6) || STEPS[STEPS.length - 1];
  }

  function alignTicks(scale, stepS) {
    const min = scale.min, max = scale.max;
    if (!Number.isFinite(min) || !Number.isFinite(max) || max <= min) return;
    const stepMs = stepS * 1000;
    const ticks = [];
    if (stepS >= 86400) { // whole local days
      const d = new Date(min);
      d.setHours(0, 0, 0, 0);
      if (d.getTime() < min) d.setDate(d.getDate() + 1);
      const days = stepS / 86400;
      for (let i = 0; d.getTime() <= max && i < 60; i += 1) {
        ticks.push({ value: d.getTime() });
        d.setDate(d.getDate() + days);
      }
    } else { // whole steps of local wall-clock time
      const offsetMs = new Date(min).getTimezoneOffset() * 60000;
      let t = Math.ceil((min - offsetMs) / stepMs) * stepMs + offsetMs;
      for (let i = 0; t <= max && i < 60; i += 1, t += stepMs) ticks.push({ value: t });
    }
    scale.ticks = ticks;
  }

  // ── the shared crosshair ──────────────────────────────────────────────
  const members = new Set();
  let hoverMs = null;

  function nearestIndex(data, ms) {
    let lo = 0, hi = data.length - 1;
    if (hi < 0) return -1;
    while (lo < hi) { // data is sorted by x (parsing: false, normalized: true)
      const mid = (lo + hi) >> 1;
      if (data[mid].x < ms) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(data[lo - 1].x - ms) < Math.abs(data[lo].x - ms)) lo -= 1;
    return lo;
  }

  function activeAt(chart, ms) {
    const area = chart.chartArea;
    const px = chart.scales.x.getPixelForValue(ms);
    if (!area || px < area.left || px > area.right) return [];
    const out = [];
    chart.data.datasets.forEach((ds, datasetIndex) => {
      if (ds.foresightRole !== "series" || !chart.isDatasetVisible(datasetIndex)) return;
      const index = nearestIndex(ds.data, ms);
      if (index < 0 || ds.data[index].y === null) return;
      // Only a point near the line: no tooltip across a gap.
      if (Math.abs(chart.scales.x.getPixelForValue(ds.data[index].x) - px) > 24) return;
      out.push({ datasetIndex, index });
    });
    return out;
  }

  // True while a chart's datasets were changed and it has not been updated since (a range
  // load fills every chart, then updates them one by one). Its tooltip must not be set
  // then: Chart.js would look the index up in the old, shorter data and throw.
  function stale(chart) {
    return chart.data.datasets.some((ds, i) => chart.getDatasetMeta(i).data.length !== ds.data.length);
  }

  function sync(ms, source) {
    hoverMs = ms;
    for (const chart of members) {
      if (!chart.canvas || !chart.canvas.isConnected) { members.delete(chart); continue; }
      if (chart === source) continue; // Chart.js redraws the chart under the mouse itself
      if (stale(chart)) continue; // it draws the crosshair at hoverMs when it is updated
      const active = ms === null ? [] : activeAt(chart, ms);
      const px = ms === null ? 0 : chart.scales.x.getPixelForValue(ms);
      chart.tooltip.setActiveElements(active, { x: px, y: chart.chartArea.top + 8 });
      chart.draw();
    }
  }

  const crosshair = {
    id: "foresightCrosshair",
    install(chart) { members.add(chart); },
    uninstall(chart) { members.delete(chart); },
    afterEvent(chart, args) {
      const e = args.event;
      if (e.type === "mouseout") { sync(null, chart); args.changed = true; return; }
      if (e.type !== "mousemove") return;
      const area = chart.chartArea;
      if (e.x < area.left || e.x > area.right || e.y < area.top || e.y > area.bottom) {
        if (hoverMs !== null) { sync(null, chart); args.changed = true; }
        return;
      }
      sync(chart.scales.x.getValueForPixel(e.x), chart);
      args.changed = true;
    },
    afterDatasetsDraw(chart) {
      chart.$crosshairX = null;
      if (hoverMs === null) return;
      const area = chart.chartArea;
      const px = chart.scales.x.getPixelForValue(hoverMs);
      if (!area || px < area.left || px > area.right) return;
      const ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "#9da7b3";
      ctx.lineWidth = 1;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(Math.round(px) + 0.5, area.top);
      ctx.lineTo(Math.round(px) + 0.5, area.bottom);
      ctx.stroke();
      ctx.restore();
      chart.$crosshairX = px;
    },
  };

  // The interaction mode of the History charts ("foresightSeries"): the tooltip under the
  // mouse shows the series, as the crosshair does on every other chart. Chart.js's own
  // "nearest" picked any dataset, and next to "now" that was the divider itself
  // ("now: 0.0 %", "now: 100.0 %"), or a threshold line or band edge elsewhere.
  if (typeof Chart !== "undefined") {
    Chart.Interaction.modes.foresightSeries = (chart, e) => {
      if (!chart.scales.x || stale(chart)) return [];
      return activeAt(chart, chart.scales.x.getValueForPixel(e.x)).map(({ datasetIndex, index }) =>
        ({ datasetIndex, index, element: chart.getDatasetMeta(datasetIndex).data[index] }))
        .filter((item) => item.element);
    };
  }

  window.foresightCharts = {
    GAP_FACTOR, withGaps, appendPoint, tickStep, alignTicks, crosshair,
    hoverMs: () => hoverMs, syncHover: (ms) => sync(ms, null),
  };
})();
