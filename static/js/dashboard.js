/* Foresight dashboard (templates/index.html). Plain ES2020, no build step, no CDN.
 *
 * Data flow: one GET /api/metrics fills every chart for the selected range (server-side
 * downsampled); in the live 5-minute range, GET /api/metrics/realtime?since=<cursor> is
 * polled every sampling interval and its samples are appended in place (charts are never
 * recreated; updates use chart.update("none") with animation off). Tiles always follow
 * the realtime feed; /api/system/health and /api/stress-test are polled for the header
 * and the stress-test panel.
 *
 * Interaction (chartjs-plugin-zoom): drag across a chart to zoom every chart to that
 * span, shift- or ctrl-drag to pan, double-click to return to the range picked before.
 * A zoomed or typed-in range is "custom": the page fetches exactly that since/until at
 * full resolution. The range lives in the URL (?range=1h, or ?from=ISO&to=ISO&range=…)
 * and survives a reload. One crosshair and tooltip follow the mouse on every chart
 * (static/js/charts_common.js). Gaps (more than 3 missing intervals) break the lines.
 * Times are formatted by static/js/timefmt.js (window.foresightTime) only.
 * Files: this one (window.foresight, the API helper, the live feed, start-up),
 * dashboard_format.js (number formats, loaded before), dashboard_charts.js (charts and
 * tiles), dashboard_range.js (ranges, zoom, URL), dashboard_status.js (header, stress
 * test); they share internals through window.foresightDashboard, not an extension API.
 * Polling pauses while the tab is hidden (every GET through api() waits for the tab to
 * be visible again); long ranges fetch only what is newer than their last point.
 *
 * ── Extension API: window.foresight (for static/js/forecast.js, static/js/scaling.js) ──
 *   charts         {NAME: Chart}. Per-core CPU is ONE chart keyed "cpu_cores" (a dataset
 *                  per core); every other metric has its own chart. Datasets this file
 *                  owns carry `foresightRole` = "series" | "warning" | "critical": leave
 *                  them alone; push your own datasets (e.g. role "forecast") - they
 *                  survive polls and range changes. Points are {x: epoch ms, y: number}
 *                  (options.parsing is false, so keep them sorted by x).
 *   catalog        {NAME: {unit, description, warning, critical}}
 *   range          {key: "5m"|"1h"|"24h"|"7d"|"custom", live: bool, sinceS, untilS,
 *                  stepS, base, axisSinceS}; base: the preset a double-click returns
 *                  to; axisSinceS: where the x axis starts when the store's data covers
 *                  under half of a preset range (its first sample), else null
 *   intervalS, tokenRequired
 *   target         whose series this page shows ("" = this host; ?target= in the URL);
 *                  api() adds it to GET /api/metrics*, /api/predictions, /api/anomalies
 *   onTick         [fn(tick)]  after every realtime poll, before the charts are redrawn
 *                  (datasets edited here are drawn with the tick: no update() needed when
 *                  tick.live or on a long range's refresh); tick = {samples, current,
 *                  cursor, serverTimeS, live}
 *   onRangeChange  [fn(info)]  after the charts were (re)filled from /api/metrics: the
 *                  first load, a range switch, a zoom; info = {range, response}. A long
 *                  range's periodic refresh appends in place and calls onTick (live false)
 *   whenVisible()  Promise resolved once the tab is visible (at once if it is)
 *   claimed(NAME)  true for a metric an extension draws in its own panel: an element's
 *                  data-foresight-claims regex (in the page, so it holds before any
 *                  script runs) matches it; it gets no chart or tile here
 *   ready          Promise resolved (with window.foresight) once the charts exist
 *   nowS()         server "now" in epoch seconds (corrected for clock skew)
 *   setFutureS(s)  keep s seconds of empty time axis right of "now" (room for forecasts)
 *   futureS()      the seconds of room last requested with setFutureS (0 by default)
 *   api(path, {method, body}) → Promise<JSON>; adds the bearer token if one was given;
 *                  rejects with Error(server's {"error"} text) carrying .status
 *   series(METRIC) the {x, y} dataset of one metric (e.g. "cpu_core1_percent"), or null;
 *                  y is null at a gap
 *   setNote(NAME, text)  text under a chart (e.g. forecast accuracy); shown on two lines
 *                  until clicked, in full on hover
 *   format(value, unit)  human units: 1234567 "B/s" → "1.2 MB/s"
 *   formatTick(value, unit)  an axis label: 1250000 "B/s" → "1.25 MB/s", 0.5 "B" → "0.5 B"
 *   update(NAME?)  redraw one chart (or all) with update("none") after you edit datasets
 * Callbacks run inside try/catch: a failing extension never stops the dashboard.
 * A metric first seen after the initial load gets its chart during a poll (rare).
 *
 * Example (static/js/forecast.js, loaded with `defer` after this file):
 *   foresight.setFutureS(120);
 *   foresight.onRangeChange.push(() => drawForecasts());
 *   foresight.onTick.push(({live}) => { if (live) moveForecasts(); }); // redrawn after
 *   // inside: foresight.charts.cpu_percent.data.datasets.push({label: "forecast",
 *   //   foresightRole: "forecast", data: [{x, y}, ...], borderDash: [4, 4]});
 *   //   foresight.update("cpu_percent");
 */
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("foresight-config").textContent);
  const RANGE_S = { "5m": 300, "1h": 3600, "24h": 86400, "7d": 604800 };
  const TOKEN_KEY = "foresight.token";

  const $ = (id) => document.getElementById(id);
  const T = window.foresightTime;
  const C = window.foresightCharts;
  const fs = {
    charts: {}, catalog: {}, range: { key: "5m", live: true, sinceS: null, untilS: null, stepS: null, base: "5m" },
    intervalS: Number(cfg.interval_s) || 1, tokenRequired: Boolean(cfg.token_required),
    targetCpus: cfg.target_cpus || {}, // {target: logical CPUs or null}, "" = this host
    onTick: [], onRangeChange: [],
  };
  window.foresight = fs;
  const CLAIMS = [...document.querySelectorAll("[data-foresight-claims]")]
    .map((el) => new RegExp(el.dataset.foresightClaims));
  fs.claimed = (name) => CLAIMS.some((re) => re.test(name));
  let resolveReady;
  fs.ready = new Promise((resolve) => { resolveReady = resolve; });

  let clockOffsetMs = 0; // server clock minus browser clock
  let futureS = 0;
  let cursor = null;
  let failures = 0;
  const series = {}; // metric name → {chart, dataset}
  const notes = {};  // chart key → <p>
  const tiles = {};  // metric name → {root, value, level}
  const { format, formatTick } = window.foresightFormat; // static/js/dashboard_format.js
  fs.format = format;
  fs.formatTick = formatTick;
  fs.time = (epochS) => T.when(epochS); // the one time format (static/js/timefmt.js)

  // ── target (whose series: this host, a Prometheus series' labels, a pushed target) ──
  // The picker reloads the page with ?target=...; every per-series GET then carries it.
  const TARGET = new URLSearchParams(window.location.search).get("target") || "";
  const PER_TARGET = /^\/api\/(metrics|predictions|anomalies)(\/|\?|$)/;
  function withTarget(path, method) {
    if (!TARGET || method !== "GET" || !PER_TARGET.test(path)) return path;
    return `${path}${path.includes("?") ? "&" : "?"}target=${encodeURIComponent(TARGET)}`;
  }

  function showTargets(targets) {
    const found = new Set([TARGET]);
    for (const list of Object.values(targets || {})) for (const t of list) found.add(t);
    const picker = $("target-picker");
    if (found.size < 2) { picker.hidden = true; return; }
    const select = $("target");
    const names = [...found].sort();
    if (select.options.length !== names.length) {
      select.replaceChildren(...names.map((t) => new Option(t || "this host", t, false, t === TARGET)));
    }
    picker.hidden = false;
  }

  // ── API ───────────────────────────────────────────────────────────────
  // A hidden tab polls nothing: every GET waits here until the tab is visible again, so
  // each poll loop parks on one promise instead of firing requests nobody sees.
  let visibleNow = null;
  function whenVisible() {
    if (!document.hidden) return Promise.resolve();
    if (!visibleNow) {
      visibleNow = new Promise((resolve) => {
        const done = () => {
          if (document.hidden) return;
          document.removeEventListener("visibilitychange", done);
          visibleNow = null;
          resolve();
        };
        document.addEventListener("visibilitychange", done);
      });
    }
    return visibleNow;
  }
  fs.whenVisible = whenVisible;

  async function api(path, { method = "GET", body } = {}) {
    if (method === "GET") await whenVisible();
    path = withTarget(path, method);
    const headers = { Accept: "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await resp.json(); } catch (_) { data = null; } // e.g. an HTML error page
    if (!resp.ok) {
      const err = new Error((data && data.error) || `${method} ${path} failed: HTTP ${resp.status}`);
      err.status = resp.status;
      throw err;
    }
    return data;
  }
  fs.api = api;
  fs.target = TARGET;
  fs.nowS = () => (Date.now() + clockOffsetMs) / 1000;
  fs.setFutureS = (s) => { futureS = Math.max(0, Number(s) || 0); D.applyWindow(); fs.update(); };
  fs.futureS = () => futureS;
  fs.update = (key) => {
    const list = key ? [fs.charts[key]] : Object.values(fs.charts);
    list.forEach((c) => c && c.update("none"));
  };
  fs.series = (name) => (series[name] ? series[name].dataset : null);
  // A note is clamped to two lines (dashboard.css): a click, Enter or Space shows all of
  // it (and hides it again); its full text is also the tooltip.
  fs.setNote = (key, text) => {
    const el = notes[key];
    if (!el) return;
    el.textContent = text || "";
    el.title = text || "";
  };

  function runHooks(list, arg) {
    for (const fn of list) {
      try { fn(arg); } catch (err) { console.error("foresight hook failed", err); }
    }
  }


  // What static/js/dashboard_{charts,range,status}.js share with this file (internal:
  // not for extensions); each of them adds its own functions to it.
  const D = { cfg, fs, $, T, C, series, notes, tiles, RANGE_S, TOKEN_KEY, TARGET, api, runHooks,
    showTargets, resolveReady: (v) => resolveReady(v), cursor: () => cursor };
  window.foresightDashboard = D;

  // ── live feed (GET /api/metrics/realtime?since=cursor) ────────────────
  async function poll() {
    try {
      const q = cursor === null ? "" : `?since=${encodeURIComponent(cursor)}`;
      const rt = await api(`/api/metrics/realtime${q}`);
      failures = 0;
      D.inContact();
      if (rt.server_time) clockOffsetMs = rt.server_time * 1000 - Date.now();
      if (rt.interval_s) fs.intervalS = rt.interval_s;
      // Until the charts exist, keep the cursor: those samples must not be skipped.
      if (Object.keys(fs.charts).length) cursor = rt.cursor ?? cursor;
      const samples = rt.samples || [];
      if (samples.length) D.sawSamples(samples[samples.length - 1].timestamp);
      const redraw = fs.range.live && Object.keys(fs.charts).length > 0;
      if (redraw) {
        const unknown = {};
        for (const s of samples) {
          const x = s.timestamp * 1000;
          for (const [name, v] of Object.entries(s.values || {})) {
            const entry = series[name];
            if (!entry) { if (!fs.claimed(name)) unknown[name] = { unit: rt.current?.[name]?.unit }; continue; }
            if (v !== null) C.appendPoint(entry.dataset.data, x, v, fs.intervalS);
          }
        }
        if (Object.keys(unknown).length) D.ensureSeries(unknown); // e.g. a metric that just appeared
        const minMs = (fs.nowS() - RANGE_S["5m"]) * 1000;
        for (const { dataset } of Object.values(series)) D.dropBefore(dataset.data, minMs);
        D.applyWindow();
        D.markEmpty();
      }
      for (const [name, c] of Object.entries(rt.current || {})) D.setTile(name, c.value, c.level, c.unit);
      // The hooks first, then one redraw: each chart is drawn once a tick, not again
      // for every extension that moved something on it.
      runHooks(fs.onTick, { samples, current: rt.current || {}, cursor, serverTimeS: rt.server_time, live: fs.range.live });
      if (redraw) fs.update();
    } catch (err) {
      failures += 1;
      D.showConnectionError(err);
    }
    // Unreachable: back off to at most 5 s between tries.
    const waitMs = Math.max(250, fs.intervalS * 1000) * Math.min(2 ** Math.max(0, failures - 1), 8);
    setTimeout(poll, Math.min(waitMs, Math.max(5000, fs.intervalS * 1000)));
  }


  function init() {
    $("target").addEventListener("change", (e) => {
      // Another target, same view: the range (?range=, ?from=&to=) stays in the URL.
      const q = new URLSearchParams(location.search);
      if (e.target.value) q.set("target", e.target.value); else q.delete("target");
      location.assign(`${location.pathname}${q.toString() ? `?${q}` : ""}${location.hash}`);
    });
    if (typeof Chart === "undefined") {
      D.showConnectionError(new Error("Chart.js is missing from /static/vendor/ - run `make setup`"));
      return;
    }
    D.applyTheme();
    document.addEventListener("foresight:theme", D.applyTheme);
    Chart.defaults.font.size = 11;
    D.initRange();
    const spec = D.rangeFromUrl();
    D.markButtons(spec.key);
    D.loadRange(spec);
    poll();
    D.startStatus();
  }

  // This script is deferred, so it runs before DOMContentLoaded ("interactive"), and the
  // extensions' deferred scripts after it may still be downloading: the first range's
  // response could then reach its hooks (fs.onRangeChange) before they are pushed (on a
  // slow host the System panel's charts of a past range were never made). Wait for it.
  if (document.readyState === "complete") init();
  else document.addEventListener("DOMContentLoaded", init);
})();

