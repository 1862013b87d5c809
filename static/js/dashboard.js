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
  const RANGE_LIMIT = { "5m": 300, "1h": 360, "24h": 480, "7d": 504 }; // points per metric
  const RANGE_REFRESH_S = { "1h": 15, "24h": 60, "7d": 300 };
  const RANGE_LABEL = { "5m": "5 minutes", "1h": "hour", "24h": "24 hours", "7d": "7 days" };
  const CUSTOM_MAX_POINTS = 1000; // a zoomed range: raw samples up to this many
  const MIN_ZOOM_S = 10;
  const TOKEN_KEY = "foresight.token";
  const CORES_KEY = "cpu_cores";
  const PER_CPU = new Set(["load1"]); // catalog.PER_CPU_METRICS
  const CORE_RE = /^cpu_core(\d+)_percent$/;
  const ORDER = ["cpu_percent", CORES_KEY, "load1", "process_count", "memory_percent",
    "swap_percent", "disk_percent", "disk_used_gb", "disk_read_bytes_per_s",
    "disk_write_bytes_per_s", "net_recv_bytes_per_s", "net_sent_bytes_per_s",
    "api_response_ms", "api_success", "db_query_ms"];
  const TITLES = {
    cpu_percent: "CPU", [CORES_KEY]: "CPU per core", load1: "Load (1 min)",
    process_count: "Processes", memory_percent: "Memory", swap_percent: "Swap",
    disk_percent: "Disk space", disk_used_gb: "Disk used", disk_read_bytes_per_s: "Disk read",
    disk_write_bytes_per_s: "Disk write", net_recv_bytes_per_s: "Network received",
    net_sent_bytes_per_s: "Network sent", api_response_ms: "API response time",
    api_success: "API probe success", db_query_ms: "DB query time",
    // Short names for tiles and chart heads; the catalog's description is on hover.
    active_connections: "Connections", connections_established: "ESTABLISHED",
    connections_time_wait: "TIME_WAIT", connections_close_wait: "CLOSE_WAIT",
    connections_other: "Other connections", load_score_percent: "Load score",
  };
  const GROUPS = [ // [title, test, series colour]
    ["CPU", (n) => n.startsWith("cpu_") || n === "load1" || n === "process_count", "#58a6ff"],
    ["Memory", (n) => n === "memory_percent" || n === "swap_percent", "#d2a8ff"],
    ["Disk", (n) => n.startsWith("disk_"), "#ffa657"],
    ["Network", (n) => n.startsWith("net_"), "#56d4dd"],
    ["Application", (n) => n.startsWith("api_") || n.startsWith("db_"), "#7ee787"],
    ["Other", () => true, "#c9d1d9"],
  ];
  const PALETTE = ["#58a6ff", "#ffa657", "#7ee787", "#d2a8ff", "#56d4dd", "#f778ba",
    "#e3b341", "#79c0ff", "#ff7b72", "#a5d6ff"];
  const LEVEL_COLOUR = { warning: "#d29922", critical: "#f85149" };

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
  let rangeSeq = 0; // ignores responses of a range the user has already left
  let refreshTimer = null;
  let lastSampleS = null; // the newest sample's time (from the live feed or health)
  let lostSinceS = null;  // browser time the monitor stopped answering (null: in contact)
  let failures = 0;
  const series = {}; // metric name → {chart, dataset}
  const notes = {};  // chart key → <p>
  const tiles = {};  // metric name → {root, value, level}

  // ── formatting ────────────────────────────────────────────────────────
  function formatBytes(v) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
    return `${v.toFixed(i === 0 || Math.abs(v) >= 100 ? 0 : 1)} ${units[i]}`;
  }
  function format(v, unit) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    switch (unit) {
      case "%": return `${v.toFixed(1)} %`;
      case "B/s": return `${formatBytes(v)}/s`;
      case "B": return formatBytes(v);
      case "GB": return `${v.toFixed(v >= 100 ? 0 : 1)} GB`;
      case "ms": return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 2 : 1)} ms`;
      default: return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
    }
  }
  // An axis label: three significant digits in the scaled unit, so neighbours never read
  // alike (formatBytes rounds 0.5 B/s up to "1 B/s", the label of the tick above it).
  function tickBytes(v) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
    return `${Number(v.toPrecision(3))} ${units[i]}`;
  }
  function formatTick(v, unit) {
    v = Number(v.toPrecision(6)); // 0.30000000000000004 → 0.3
    if (unit === "B/s") return `${tickBytes(v)}/s`;
    if (unit === "B") return tickBytes(v);
    if (unit === "%") return `${v}%`;
    if (unit === "ms") return `${v} ms`;
    if (unit === "GB") return `${v} GB`;
    return String(v);
  }
  function formatDuration(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return "–";
    s = Math.max(0, Math.round(s));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return `${d} d ${h} h`;
    if (h) return m ? `${h} h ${m} min` : `${h} h`;
    if (m) return sec ? `${m} min ${sec} s` : `${m} min`;
    return `${sec} s`;
  }
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
  fs.setFutureS = (s) => { futureS = Math.max(0, Number(s) || 0); applyWindow(); fs.update(); };
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

  // ── charts ────────────────────────────────────────────────────────────
  const chartKey = (name) => (CORE_RE.test(name) ? CORES_KEY : name);
  const groupOf = (key) => GROUPS.find(([, test]) => test(key));
  const orderOf = (key) => { const i = ORDER.indexOf(key); return i < 0 ? ORDER.length : i; };
  const coreIndex = (name) => Number(CORE_RE.exec(name)[1]);

  function thresholdDataset(role, value, unit) {
    return {
      label: `${role} ${format(value, unit)}`, foresightRole: role, thresholdValue: value,
      data: [], borderColor: LEVEL_COLOUR[role], borderDash: [6, 4], borderWidth: 1,
      pointRadius: 0, pointHitRadius: 0, fill: false, order: 10,
    };
  }

  function createChart(key, info) {
    const unit = info.unit || "";
    const [, , colour] = groupOf(key);
    const card = document.createElement("article");
    card.className = "chart-card";
    card.dataset.chart = key;
    const title = TITLES[key] || info.description || key;
    // The unit once, at the end ("warn 150 · crit 200 ms"): spelled twice, the header of
    // a long title wrapped, and that chart sat lower than the others in its row.
    const withUnit = (text) => `${text}${unit ? (unit === "%" ? "" : " ") + unit : ""}`;
    const levels = [info.warning != null ? `warn ${info.warning}` : "",
      info.critical != null ? `crit ${info.critical}` : ""].filter(Boolean).join(" · ");
    let meta = levels ? withUnit(levels) : "";
    if (PER_CPU.has(key)) {  // load levels are per CPU of the target shown (page context)
      const cpus = fs.targetCpus[TARGET];
      meta = cpus ? `${meta} (${cpus} CPUs)` : "no CPU count: no load levels";
    }
    card.innerHTML = `<div class="chart-head"><h3 class="chart-title"></h3>
      <span class="chart-meta"></span></div><div class="chart-box"><canvas></canvas>
      <p class="chart-empty" hidden>No data in this range</p></div>
      <p class="chart-note"></p>`;
    card.querySelector(".chart-title").textContent = title;
    const about = info.description && info.description !== title ? `: ${info.description}` : "";
    card.querySelector(".chart-title").title = `${title}${about} (${key === CORES_KEY ? "cpu_core<N>_percent" : key})`;
    card.querySelector(".chart-meta").textContent = meta;
    notes[key] = card.querySelector(".chart-note");
    const note = notes[key];
    note.tabIndex = 0;
    note.dataset.expanded = "false";
    const toggle = () => { note.dataset.expanded = String(note.dataset.expanded !== "true"); };
    note.addEventListener("click", toggle);
    note.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
    });
    const canvas = card.querySelector("canvas");
    canvas.id = `chart-${key}`;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${title} over time${unit ? ` (${unit})` : ""}`);
    // One flat grid in ORDER (groups are adjacent): rows fill evenly at any width.
    const grid = $("charts");
    const later = [...grid.children].find((el) => orderOf(el.dataset.chart) > orderOf(key));
    grid.insertBefore(card, later || null);

    const datasets = [];
    if (key !== CORES_KEY) {
      datasets.push({
        label: title, foresightRole: "series", metric: key, data: [],
        borderColor: colour, backgroundColor: `${colour}26`, fill: "origin", clip: 3,
      });
    }
    // Per-core CPU draws the same warn/crit lines its header names (core series go first).
    if (info.warning != null) datasets.push(thresholdDataset("warning", info.warning, unit));
    if (info.critical != null) datasets.push(thresholdDataset("critical", info.critical, unit));
    const percent = unit === "%";
    // api_success is a 0/1 flag (its tile reads up/failing): an axis of 0, 0.5, 1, 1.5
    // read like a quantity; bucket means between 0 and 1 are the share of probes up.
    const flag = key === "api_success";
    const flagTick = (v) => (v === 1 ? "up" : v === 0 ? "failing" : "");
    const spanOf = (scale) => (scale.max - scale.min) / 1000;
    const chart = new Chart(canvas, {
      type: "line",
      data: { datasets },
      plugins: [C.crosshair],
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        parsing: false, normalized: true, spanGaps: false,
        interaction: { mode: "foresightSeries", axis: "x", intersect: false }, // charts_common.js
        // A point with gaps on both sides has no line to sit on: draw it as a dot (as Grafana
        // does), or sparse data (a 60-s sampler on a 10-s step) would draw nothing at all.
        elements: { point: { radius: isolatedRadius, hitRadius: 6 }, line: { borderWidth: 1.5, tension: 0 } },
        scales: {
          x: {
            type: "time",
            // Ticks on whole local steps, labelled by timefmt.js (dates once the range
            // spans days); the date adapter only does the arithmetic.
            afterBuildTicks: (scale) => C.alignTicks(scale, C.tickStep(spanOf(scale))[2]),
            ticks: {
              maxRotation: 0, autoSkipPadding: 16, maxTicksLimit: 7,
              callback(value, index, ticks) { return T.tick(value, spanOf(this), index, ticks); },
            },
            grid: { color: themeColour("--grid", "#21262d") },
          },
          y: {
            beginAtZero: true, min: percent || flag ? 0 : undefined, max: percent ? 100 : flag ? 1 : undefined,
            ticks: flag ? { stepSize: 1, callback: flagTick }
              : { maxTicksLimit: 5, callback: (v) => formatTick(v, unit) },
            grid: { color: themeColour("--grid", "#21262d") },
          },
        },
        plugins: {
          legend: {
            display: key === CORES_KEY, position: "bottom",
            labels: { boxWidth: 10, boxHeight: 2, filter: (item, data) => !data.datasets[item.datasetIndex].foresightRole || data.datasets[item.datasetIndex].foresightRole === "series" },
          },
          tooltip: {
            filter: (item) => item.parsed.y !== null,
            callbacks: {
              title: (items) => (items.length ? T.hover(items[0].parsed.x, spanOf(items[0].chart.scales.x)) : ""),
              label: (ctx) => `${ctx.dataset.label}: ${format(ctx.parsed.y, unit)}`,
            },
          },
          zoom: {
            zoom: {
              mode: "x",
              drag: { enabled: true, threshold: 8, backgroundColor: "rgba(88,166,255,0.18)", borderColor: "#58a6ff", borderWidth: 1 },
              onZoomComplete: ({ chart: c }) => { // not resetZoom(): it calls this again
                if (!zoomTo(c.scales.x.min / 1000, c.scales.x.max / 1000)) { applyWindow(); fs.update(); }
              },
            },
            pan: {
              enabled: true, mode: "x", modifierKey: "shift",
              onPanComplete: ({ chart: c }) => { // not resetZoom(): it calls this again
                if (!zoomTo(c.scales.x.min / 1000, c.scales.x.max / 1000)) { applyWindow(); fs.update(); }
              },
            },
          },
        },
      },
    });
    // ctrl-drag pans too: the plugin knows one pan key, so point it at the key held now.
    canvas.addEventListener("pointerdown", (ev) => {
      const pan = chart.options.plugins.zoom && chart.options.plugins.zoom.pan;
      if (pan) pan.modifierKey = ev.ctrlKey && !ev.shiftKey ? "ctrl" : "shift";
    }, { capture: true });
    canvas.addEventListener("dblclick", () => resetZoom());
    fs.charts[key] = chart;
    return chart;
  }

  function addCoreDataset(name) {
    const chart = fs.charts[CORES_KEY];
    const i = coreIndex(name);
    const colour = PALETTE[i % PALETTE.length];
    const ds = { label: `core ${i}`, foresightRole: "series", metric: name, data: [],
      borderColor: colour, backgroundColor: colour, fill: false, clip: 3 };
    // Keep cores in numeric order so dataset 0 is core 0 (before the threshold lines).
    const at = chart.data.datasets.findIndex((d) => !(d.foresightRole === "series" && coreIndex(d.metric) < i));
    if (at < 0) chart.data.datasets.push(ds); else chart.data.datasets.splice(at, 0, ds);
    return ds;
  }

  function ensureSeries(metrics) {
    const names = Object.keys(metrics).sort((a, b) => {
      const ka = chartKey(a), kb = chartKey(b);
      if (ka !== kb) return orderOf(ka) - orderOf(kb) || ka.localeCompare(kb);
      return (CORE_RE.test(a) ? coreIndex(a) - coreIndex(b) : 0);
    });
    for (const name of names) {
      const m = metrics[name];
      fs.catalog[name] = { unit: m.unit || "", description: m.description || name, warning: m.warning ?? null, critical: m.critical ?? null };
      if (series[name] || fs.claimed(name)) continue;
      const key = chartKey(name);
      const chart = fs.charts[key] || createChart(key, key === CORES_KEY ? { ...fs.catalog[name], description: "CPU per core" } : fs.catalog[name]);
      const ds = key === CORES_KEY ? addCoreDataset(name) : chart.data.datasets[0];
      series[name] = { chart, dataset: ds };
      ensureTile(name);
    }
  }

  // The x window: live = [now - 5 min, now + future]; history = [since, until + future].
  function applyWindow() {
    const r = fs.range;
    const until = r.live ? fs.nowS() : r.untilS;
    const since = r.live ? until - RANGE_S[r.key] : r.axisSinceS ?? r.sinceS;
    if (until == null) return;
    // Room for forecasts only on ranges that end now (not on a zoom into the past); on a
    // range whose axis starts at the first sample, as large a share of the axis as on
    // the full range (two days of room right of one hour of history hid the hour again).
    const room = r.key === "custom" ? 0 : r.axisSinceS != null
      ? futureS * Math.min(1, (until - since) / RANGE_S[r.key]) : futureS;
    const minMs = since * 1000, maxMs = (until + room) * 1000;
    const [tickUnit, tickStep] = C.tickStep((maxMs - minMs) / 1000);
    for (const chart of Object.values(fs.charts)) {
      chart.options.scales.x.min = minMs;
      chart.options.scales.x.max = maxMs;
      chart.options.scales.x.time.unit = tickUnit;
      chart.options.scales.x.time.stepSize = tickStep;
      let dataMax = 0;
      for (const ds of chart.data.datasets) {
        if (ds.foresightRole === "series") for (const p of ds.data) if (p.y !== null && p.y > dataMax) dataMax = p.y;
      }
      for (const ds of chart.data.datasets) {
        if (ds.foresightRole !== "warning" && ds.foresightRole !== "critical") continue;
        ds.data = [{ x: minMs, y: ds.thresholdValue }, { x: maxMs, y: ds.thresholdValue }];
        // A line far above the data would squash it flat; the card header still names it.
        const percent = chart.options.scales.y.max === 100;
        ds.hidden = !percent && ds.thresholdValue > Math.max(dataMax, 1e-9) * 2.5;
      }
    }
  }

  function isolatedRadius(ctx) {
    const d = ctx.dataset && ctx.dataset.data;
    const i = ctx.dataIndex;
    if (!d || ctx.type !== "data" || d[i] == null || d[i].y == null) return 0;
    if (ctx.dataset.foresightRole && ctx.dataset.foresightRole !== "series") return ctx.dataset.pointRadius ?? 0;
    const gap = (p) => p === undefined || p.y === null;
    return gap(d[i - 1]) && gap(d[i + 1]) ? 2 : 0;
  }

  function markEmpty() {
    for (const chart of Object.values(fs.charts)) {
      const empty = chart.data.datasets.every((d) => d.foresightRole !== "series" || !d.data.some((p) => p.y !== null));
      const el = chart.canvas.parentElement.querySelector(".chart-empty");
      if (el.hidden !== !empty) el.hidden = !empty;
    }
  }

  function dropBefore(data, minMs) {
    let i = 0;
    while (i < data.length && data[i].x < minMs) i += 1;
    if (i > 0) data.splice(0, i);
  }

  // ── tiles ─────────────────────────────────────────────────────────────
  function ensureTile(name) {
    if (tiles[name]) return;
    const cores = Object.keys(fs.catalog).filter((n) => CORE_RE.test(n)).length;
    if (CORE_RE.test(name) && cores > 8) return; // many-core hosts: the chart is enough
    const info = fs.catalog[name];
    const root = document.createElement("div");
    root.className = "tile level-unknown";
    root.dataset.metric = name;
    root.innerHTML = `<div class="tile-name"></div><div class="tile-value">–</div><div class="tile-level">–</div>`;
    const label = CORE_RE.test(name) ? `CPU core ${coreIndex(name)}` : (TITLES[name] || name);
    root.querySelector(".tile-name").textContent = label;
    root.title = `${name}: ${info.description}`;
    const box = $("tiles");
    if (!Object.keys(tiles).length) box.textContent = "";
    tiles[name] = { root, value: root.querySelector(".tile-value"), level: root.querySelector(".tile-level") };
    const order = (n) => orderOf(chartKey(n)) * 1000 + (CORE_RE.test(n) ? coreIndex(n) : 0);
    const later = [...box.children].find((el) => order(el.dataset.metric) > order(name));
    box.insertBefore(root, later || null);
  }

  function setTile(name, value, level, unit) {
    const t = tiles[name];
    if (!t) return;
    let lvl = ["ok", "warning", "critical"].includes(level) ? level : "unknown";
    let text = format(value, unit ?? fs.catalog[name]?.unit);
    if (name === "api_success" && value != null) { // a 0/1 flag: 0 is the bad case
      lvl = value >= 1 ? "ok" : "critical";
      text = value >= 1 ? "up" : "failing";
    }
    t.value.textContent = text;
    t.level.textContent = lvl;
    t.root.className = `tile level-${lvl}`;
  }

  // ── range loading (GET /api/metrics) ───────────────────────────────────
  const isoOf = (s) => new Date(Math.round(s) * 1000).toISOString().replace(".000Z", "Z");
  // A time from the URL in epoch seconds, or null: only instants after 1970 and before
  // 2286 (the API's 1e10 s), so a hand-edited ?from=1e30 falls back to the preset instead
  // of throwing in toISOString, and ?from=-5 is not read as "5 s before now".
  const epochOf = (text) => {
    if (text === null || text === "") return null;
    const n = Number(text);
    const ms = Number.isFinite(n) ? n * 1000 : Date.parse(text);
    return Number.isFinite(ms) && ms > 0 && ms < 1e13 ? ms / 1000 : null;
  };

  // The range in the URL: ?range=1h, or ?from=ISO&to=ISO&range=<preset to go back to>.
  function rangeFromUrl() {
    const q = new URLSearchParams(location.search);
    const base = RANGE_S[q.get("range")] ? q.get("range") : "5m";
    const from = epochOf(q.get("from")), to = epochOf(q.get("to"));
    if (from !== null && to !== null && to - from >= 1) return { key: "custom", sinceS: from, untilS: to, base };
    if (!q.has("from") && !q.has("to")) return { key: base, base };
    // Said why, rather than silently showing the preset: the API would answer 400 too.
    const why = from === null || to === null ? "needs both, each a time" :
      to < from ? "the range ends before it starts" : "the range is under a second";
    const asked = `?from=${q.get("from") ?? ""}&to=${q.get("to") ?? ""}`;
    return { key: base, base, problem: `Ignored ${asked}: ${why}.` };
  }
  function writeUrl(spec, push) {
    const q = new URLSearchParams(location.search);
    for (const k of ["range", "from", "to"]) q.delete(k);
    if (spec.key === "custom") {
      q.set("from", isoOf(spec.sinceS));
      q.set("to", isoOf(spec.untilS));
      if (spec.base !== "5m") q.set("range", spec.base);
    } else if (spec.key !== "5m") q.set("range", spec.key);
    const url = `${location.pathname}${q.toString() ? `?${q}` : ""}${location.hash}`;
    if (url === `${location.pathname}${location.search}${location.hash}`) return;
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
  }

  function queryOf(spec) {
    if (spec.key !== "custom") {
      // A relative `since` (seconds before the server's now) keeps the query string the
      // same for every tab and poll, so the server's per-tick response cache answers it.
      return new URLSearchParams({ since: String(-RANGE_S[spec.key]), limit: String(RANGE_LIMIT[spec.key]) });
    }
    // A zoom asks for exactly its span, with room for every raw sample when it is short:
    // the store then answers from its raw tier (full resolution), not the rollups.
    const span = spec.untilS - spec.sinceS;
    const limit = Math.min(CUSTOM_MAX_POINTS, Math.max(60, Math.ceil(span / fs.intervalS) + 1));
    return new URLSearchParams({ since: String(spec.sinceS), until: String(spec.untilS), limit: String(limit) });
  }

  function describe(spec, res, points) {
    const step = res.step_s ? `one point per ${formatDuration(res.step_s)}` : "every sample";
    let text;
    if (spec.key === "5m") text = `Live: last 5 minutes, updated every ${fs.intervalS} s.`;
    else if (spec.key === "custom") {
      text = `${T.when(res.since)} to ${T.when(res.until)} (${formatDuration(res.until - res.since)}), ${step}. ` +
        `Double-click a chart to go back to the ${spec.base === "5m" ? "live 5 minutes" : `last ${RANGE_LABEL[spec.base]}`}.`;
    } else if (fs.range.axisSinceS != null && res.data_since != null) {
      // The axis starts at the first sample (shortStart): say so, and how much there is.
      text = `Last ${RANGE_LABEL[spec.key]}: the store holds only ${formatDuration(fs.nowS() - res.data_since)} ` +
        `of it (since ${T.when(res.data_since)}), so the axis starts there; ${step}; updated ${T.time(fs.nowS())}.`;
      return spec.problem ? `${spec.problem} ${text}` : text;
    } else text = `Last ${RANGE_LABEL[spec.key]}: up to ${points} ${points === 1 ? "point" : "points"} per metric, ${step}; updated ${T.time(fs.nowS())}.`;
    // Honest about what the store holds: where its data starts, and when there is none.
    if (!points) text += " No data in this range.";
    if (res.data_since != null && res.data_since > res.since + Math.max(res.step_s || 0, fs.intervalS) * 2) {
      text += ` Data starts at ${T.when(res.data_since)}.`;
    } else if (res.data_since == null && !points) text += " The store holds no data yet.";
    return spec.problem ? `${spec.problem} ${text}` : text;
  }

  // A fresh install's few hours on the 7-day range were a sliver 2 px wide at the right
  // edge. When the store's data covers under half of a past preset range, the axis
  // starts at the first sample instead (the range line says so, and how much there is);
  // the range still means "the last 7 days": it is what is asked for and refreshed.
  // Returns that start (epoch s), or null to show the whole range.
  function shortStart(spec, res) {
    if (spec.key === "custom" || spec.key === "5m" || res.data_since == null) return null;
    const held = res.until - res.data_since;
    if (!(held > 0) || held >= RANGE_S[spec.key] / 2) return null;
    return Math.max(res.since, res.data_since - Math.max(held * 0.02, fs.intervalS));
  }

  async function loadRange(spec, push = false) {
    const seq = ++rangeSeq;
    clearTimeout(refreshTimer);
    const live = spec.key === "5m";
    writeUrl(spec, push);
    $("range-status").textContent = "Loading…";
    try {
      let res = await api(`/api/metrics?${queryOf(spec)}`);
      if (seq !== rangeSeq) return;
      const axisSinceS = shortStart(spec, res);
      if (axisSinceS !== null) { // again, at the finer step the shorter span allows
        const q = { since: String(axisSinceS), until: String(res.until), limit: String(RANGE_LIMIT[spec.key]) };
        const finer = await api(`/api/metrics?${new URLSearchParams(q)}`);
        if (seq !== rangeSeq) return;
        res = { ...finer, since: res.since };
      }
      showTargets(res.targets);
      ensureSeries(res.metrics);
      const expectedS = res.step_s || fs.intervalS;
      let points = 0;
      for (const [name, m] of Object.entries(res.metrics)) {
        if (!series[name]) continue; // claimed by an extension's panel
        const ds = series[name].dataset;
        ds.data = C.withGaps(m.points, expectedS);
        points = Math.max(points, m.points ? m.points.length : 0);
        if (m.current) setTile(name, m.current.value, m.current.level, m.unit);
      }
      fs.range = { key: spec.key, live, sinceS: res.since, untilS: res.until, stepS: res.step_s ?? null,
        base: spec.base || spec.key, axisSinceS };
      fillCustomInputs();
      applyWindow();
      markEmpty();
      fs.update();
      $("range-status").textContent = describe(spec, res, points);
      resolveReady(fs);
      runHooks(fs.onRangeChange, { range: fs.range, response: res });
      if (!live && spec.key !== "custom") refreshTimer = setTimeout(() => extendRange(seq, spec), RANGE_REFRESH_S[spec.key] * 1000);
    } catch (err) {
      if (seq !== rangeSeq) return;
      $("range-status").textContent = `Could not load history: ${err.message}`;
      refreshTimer = setTimeout(() => loadRange(spec), 5000);
    }
  }

  // A long range moves forward by fetching only what came after its last point (at the
  // same bucket width) and dropping what slid out of the window.
  async function extendRange(seq, spec) {
    if (seq !== rangeSeq) return;
    const r = fs.range;
    try {
      const stepS = r.stepS || fs.intervalS;
      const nowS = fs.nowS();
      const limit = Math.min(10000, Math.ceil((nowS - r.untilS) / stepS) + 2);
      const q = new URLSearchParams({ since: String(r.untilS), until: String(nowS), limit: String(limit) });
      if (r.stepS) q.set("step", String(r.stepS));
      const res = await api(`/api/metrics?${q}`);
      if (seq !== rangeSeq) return;
      ensureSeries(res.metrics);
      const minMs = (res.until - RANGE_S[spec.key]) * 1000;
      let points = 0;
      for (const [name, m] of Object.entries(res.metrics)) {
        const data = series[name].dataset.data;
        for (const [t, v] of m.points || []) C.appendPoint(data, t * 1000, v, stepS);
        dropBefore(data, minMs);
        points = Math.max(points, data.filter((p) => p.y !== null).length);
        if (m.current) setTile(name, m.current.value, m.current.level, m.unit);
      }
      fs.range = { ...r, sinceS: res.until - RANGE_S[spec.key], untilS: res.until };
      applyWindow();
      markEmpty();
      $("range-status").textContent = describe(spec, { ...res, since: fs.range.sinceS, step_s: r.stepS }, points);
      runHooks(fs.onTick, { samples: [], current: {}, cursor, serverTimeS: res.until, live: false });
      fs.update(); // after the hooks, as in poll()
    } catch (err) {
      if (seq !== rangeSeq) return;
      $("range-status").textContent = `Could not refresh history: ${err.message}`;
    }
    refreshTimer = setTimeout(() => extendRange(seq, spec), RANGE_REFRESH_S[spec.key] * 1000);
  }

  function markButtons(key) {
    for (const b of $("range").querySelectorAll("button")) {
      b.setAttribute("aria-checked", String(b.dataset.range === key));
      b.tabIndex = b.dataset.range === key || (key === "custom" && b.dataset.range === fs.range.base) ? 0 : -1;
    }
  }

  function selectRange(key) {
    markButtons(key);
    loadRange({ key, base: key }, true);
  }

  // Every chart shows the same span: a zoom or pan on one is a custom range for all.
  // Show sinceS..untilS (epoch s) from the store; false (and a note in the range line)
  // when it starts after now: the store has no history there, only the forecasts do.
  function zoomTo(sinceS, untilS) {
    if (!Number.isFinite(sinceS) || !Number.isFinite(untilS)) return false;
    if (untilS - sinceS < MIN_ZOOM_S) {
      const mid = (sinceS + untilS) / 2;
      [sinceS, untilS] = [mid - MIN_ZOOM_S / 2, mid + MIN_ZOOM_S / 2];
    }
    const nowS = fs.nowS();
    if (sinceS >= nowS) {
      $("range-status").textContent = `Nothing stored from ${T.when(sinceS)}: that is after now ` +
        `(${T.when(nowS)}). Pick a start before now; forecasts show right of the "now" line.`;
      return false;
    }
    untilS = Math.min(untilS, nowS);
    const base = fs.range.key === "custom" ? fs.range.base : fs.range.key;
    markButtons("custom");
    loadRange({ key: "custom", sinceS, untilS, base }, true);
    return true;
  }
  function resetZoom() {
    if (fs.range.key === "custom") selectRange(fs.range.base || "5m");
  }
  fs.zoomTo = zoomTo;
  fs.resetZoom = resetZoom;

  // The from/to inputs: local wall-clock time, as <input type="datetime-local"> wants it.
  function localInput(s) {
    const d = new Date(s * 1000);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }
  function fillCustomInputs() {
    const from = $("range-from"), to = $("range-to");
    if (!from || !to || fs.range.sinceS == null) return;
    from.value = localInput(fs.range.sinceS);
    to.value = localInput(fs.range.untilS);
  }

  // ── live feed (GET /api/metrics/realtime?since=cursor) ────────────────
  async function poll() {
    try {
      const q = cursor === null ? "" : `?since=${encodeURIComponent(cursor)}`;
      const rt = await api(`/api/metrics/realtime${q}`);
      failures = 0;
      if (lostSinceS !== null) { lostSinceS = null; $("connection-error").hidden = true; }
      $("tiles").classList.remove("stale"); // back in contact: the values are live again
      if (rt.server_time) clockOffsetMs = rt.server_time * 1000 - Date.now();
      if (rt.interval_s) fs.intervalS = rt.interval_s;
      // Until the charts exist, keep the cursor: those samples must not be skipped.
      if (Object.keys(fs.charts).length) cursor = rt.cursor ?? cursor;
      const samples = rt.samples || [];
      if (samples.length) lastSampleS = Math.max(lastSampleS ?? 0, samples[samples.length - 1].timestamp);
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
        if (Object.keys(unknown).length) ensureSeries(unknown); // e.g. a metric that just appeared
        const minMs = (fs.nowS() - RANGE_S["5m"]) * 1000;
        for (const { dataset } of Object.values(series)) dropBefore(dataset.data, minMs);
        applyWindow();
        markEmpty();
      }
      for (const [name, c] of Object.entries(rt.current || {})) setTile(name, c.value, c.level, c.unit);
      // The hooks first, then one redraw: each chart is drawn once a tick, not again
      // for every extension that moved something on it.
      runHooks(fs.onTick, { samples, current: rt.current || {}, cursor, serverTimeS: rt.server_time, live: fs.range.live });
      if (redraw) fs.update();
    } catch (err) {
      failures += 1;
      showConnectionError(err);
    }
    // Unreachable: back off to at most 5 s between tries.
    const waitMs = Math.max(250, fs.intervalS * 1000) * Math.min(2 ** Math.max(0, failures - 1), 8);
    setTimeout(poll, Math.min(waitMs, Math.max(5000, fs.intervalS * 1000)));
  }

  function showConnectionError(err) {
    if (lostSinceS === null) lostSinceS = Date.now() / 1000;
    const el = $("connection-error");
    el.textContent = `Lost contact with the monitor at ${T.time(lostSinceS)} (${err.message}); retrying…`;
    el.hidden = false;
    $("tiles").classList.add("stale"); // grey, not green: these values are no longer current
    const badge = $("health-status");
    badge.textContent = "unreachable";
    badge.className = "badge level-critical";
    showAge();
  }

  // "Last sample … ago" counts up every second from the newest sample the page has seen,
  // so it keeps ageing (and the tiles grey) when the monitor stops answering.
  function showAge() {
    const el = $("health-age");
    if (lastSampleS === null) { el.textContent = lostSinceS === null ? "none yet" : "none (monitor unreachable)"; return; }
    const age = Math.max(0, fs.nowS() - lastSampleS);
    const text = age < 10 ? `${age.toFixed(1)} s ago` : `${formatDuration(age)} ago`;
    el.textContent = lostSinceS === null ? text : `${text} (monitor unreachable)`;
    const staleAfter = Math.max(3 * fs.intervalS, 5);
    el.classList.toggle("stale", lostSinceS !== null || age > staleAfter);
    if (age > staleAfter) $("tiles").classList.add("sampler-stale");
  }
  async function ageLoop() {
    await whenVisible();
    showAge();
    setTimeout(ageLoop, 1000);
  }

  // ── header: host facts + sampler health ───────────────────────────────
  const STATUS_LEVEL = { ok: "ok", healthy: "ok", running: "ok", starting: "warning",
    degraded: "warning", warning: "warning", stale: "critical", stopped: "critical",
    error: "critical", down: "critical", critical: "critical" };

  async function pollHealth() {
    try {
      const h = await api("/api/system/health");
      const host = h.host || {};
      $("host-name").textContent = host.hostname || "This host";
      document.title = `Foresight — ${host.hostname || "host"}`;
      $("host-platform").textContent = host.platform || "–";
      $("host-cpus").textContent = host.cpu_count ?? "–";
      $("host-uptime").textContent = host.boot_time ? formatDuration(fs.nowS() - host.boot_time) : "–";
      $("health-uptime").textContent = formatDuration(h.uptime_s);
      $("health-interval").textContent = `${h.interval_s ?? fs.intervalS} s`;
      if (h.last_sample_age_s != null) lastSampleS = Math.max(lastSampleS ?? 0, fs.nowS() - h.last_sample_age_s);
      showAge();
      $("health-jitter").textContent = h.jitter_ms?.p99 == null ? "–" : `${h.jitter_ms.p99.toFixed(1)} ms`;
      $("health-missed").textContent = h.ticks == null ? String(h.missed_ticks ?? "–") : `${h.missed_ticks ?? 0} of ${h.ticks}`;
      const store = h.store || {};
      $("health-store").textContent = store.size_bytes == null ? "–"
        : `${formatBytes(store.size_bytes)}${store.samples != null ? `, ${Number(store.samples).toLocaleString()} samples` : ""}`;
      if (store.ok === false) $("health-store").textContent += ` — not storing: ${store.error}`;
      const badge = $("health-status");
      const status = String(h.status || "unknown");
      badge.textContent = `sampler ${status}`;
      badge.className = `badge level-${STATUS_LEVEL[status.toLowerCase()] || "unknown"}`;
      const reasons = Array.isArray(h.reasons) && status !== "ok" ? h.reasons : [];
      $("health-reasons").textContent = reasons.length ? `Why ${status}: ${reasons.join("; ")}.` : "";
      $("health-reasons").hidden = reasons.length === 0;
      // Grey the tiles only when samples stop coming (a store fault keeps them live).
      const staleAfter = Math.max(3 * (h.interval_s ?? fs.intervalS), 5);
      const stale = status === "stopped" || h.last_sample_age_s == null ||
        h.last_sample_age_s > staleAfter;
      $("tiles").classList.toggle("sampler-stale", stale);
      if (host.cpu_count) $("stress-cores").max = String(host.cpu_count);
    } catch (err) {
      showConnectionError(err);
    }
    // Host facts and the sampler's state change slowly; the sample age and the greying
    // of the tiles come from the live feed every second (showAge), not from here.
    setTimeout(pollHealth, Math.max(10000, fs.intervalS * 10000));
  }

  // ── stress test (POST/GET/DELETE /api/stress-test) ────────────────────
  let stressTimer = null;
  function showStress(st) {
    const el = $("stress-status");
    const running = Boolean(st && st.running);
    if (running) {
      const cores = st.cores === 1 ? "1 core" : `${st.cores} cores`;
      el.textContent = `Burning ${cores}, ${Math.max(0, Math.ceil(st.remaining_s ?? 0))} s left.`;
    } else {
      el.textContent = "Idle.";
    }
    el.classList.toggle("running", running);
    $("stress-start").disabled = running;
    $("stress-cancel").disabled = !running;
    return running;
  }
  function showStressError(err) {
    const el = $("stress-error");
    if (!err) { el.hidden = true; el.textContent = ""; return; }
    let text = `${err.status ? `HTTP ${err.status}: ` : ""}${err.message}`;
    if (err.status === 401 || err.status === 403) {
      $("token-box").hidden = false;
      text += " Paste the server's FORESIGHT_TOKEN below.";
    }
    el.textContent = text;
    el.hidden = false;
  }
  async function pollStress() {
    clearTimeout(stressTimer);
    let running = false;
    try { running = showStress(await api("/api/stress-test")); } catch (_) { /* shown by health */ }
    stressTimer = setTimeout(pollStress, running ? 1000 : 15000); // idle: the form re-polls on start
  }

  function initStress() {
    $("stress-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showStressError(null);
      const body = { seconds: Number($("stress-seconds").value), cores: Number($("stress-cores").value) };
      $("stress-start").disabled = true;
      try {
        const st = await api("/api/stress-test", { method: "POST", body });
        if (st && "running" in st) showStress(st);
      } catch (err) {
        showStressError(err);
        $("stress-start").disabled = false;
      }
      pollStress();
    });
    $("stress-cancel").addEventListener("click", async () => {
      showStressError(null);
      try { await api("/api/stress-test", { method: "DELETE" }); } catch (err) { showStressError(err); }
      pollStress();
    });
    const stateText = () => {
      $("token-state").textContent = sessionStorage.getItem(TOKEN_KEY) ? "A token is set for this tab." : "No token set.";
    };
    $("token-save").addEventListener("click", () => {
      const v = $("token-input").value.trim();
      if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY);
      $("token-input").value = "";
      stateText();
    });
    stateText();
  }

  function initRange() {
    const group = $("range");
    group.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-range]");
      if (b) selectRange(b.dataset.range);
    });
    group.addEventListener("keydown", (ev) => { // arrow keys move within the radio group
      if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(ev.key)) return;
      const buttons = [...group.querySelectorAll("button")];
      const i = buttons.indexOf(document.activeElement);
      const next = buttons[(i + (ev.key === "ArrowLeft" || ev.key === "ArrowUp" ? -1 : 1) + buttons.length) % buttons.length];
      next.focus();
      selectRange(next.dataset.range);
      ev.preventDefault();
    });
    const form = $("custom-range");
    if (form) {
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const from = Date.parse($("range-from").value) / 1000; // local time, as typed
        const to = Date.parse($("range-to").value) / 1000;
        if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
          $("range-status").textContent = "Custom range: pick a start before the end.";
          return;
        }
        zoomTo(from, to);
      });
    }
    // Back/forward walk through zooms and range switches (each is a history entry).
    window.addEventListener("popstate", () => {
      const spec = rangeFromUrl();
      markButtons(spec.key);
      loadRange(spec);
    });
  }

  // Chart.js draws on a canvas, so the theme's colours are copied into its options.
  function themeColour(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }
  function applyTheme() {
    if (typeof Chart === "undefined") return;
    Chart.defaults.color = themeColour("--muted", "#9da7b3");
    Chart.defaults.borderColor = themeColour("--border", "#30363d");
    for (const chart of Object.values(fs.charts)) {
      chart.options.scales.x.grid.color = themeColour("--grid", "#21262d");
      chart.options.scales.y.grid.color = themeColour("--grid", "#21262d");
      chart.update("none");
    }
  }

  function init() {
    $("target").addEventListener("change", (e) => {
      // Another target, same view: the range (?range=, ?from=&to=) stays in the URL.
      const q = new URLSearchParams(location.search);
      if (e.target.value) q.set("target", e.target.value); else q.delete("target");
      location.assign(`${location.pathname}${q.toString() ? `?${q}` : ""}${location.hash}`);
    });
    if (typeof Chart === "undefined") {
      showConnectionError(new Error("Chart.js is missing from /static/vendor/ - run `make setup`"));
      return;
    }
    applyTheme();
    document.addEventListener("foresight:theme", applyTheme);
    Chart.defaults.font.size = 11;
    initRange();
    initStress();
    const spec = rangeFromUrl();
    markButtons(spec.key);
    loadRange(spec);
    poll();
    pollHealth();
    pollStress();
    ageLoop();
  }

  // This script is deferred, so it runs before DOMContentLoaded ("interactive"), and the
  // extensions' deferred scripts after it may still be downloading: the first range's
  // response could then reach its hooks (fs.onRangeChange) before they are pushed (on a
  // slow host the System panel's charts of a past range were never made). Wait for it.
  if (document.readyState === "complete") init();
  else document.addEventListener("DOMContentLoaded", init);
})();
