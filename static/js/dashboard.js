/* Foresight dashboard (templates/index.html). Plain ES2020, no build step, no CDN.
 *
 * Data flow: one GET /api/metrics fills every chart for the selected range (server-side
 * downsampled); in the live 5-minute range, GET /api/metrics/realtime?since=<cursor> is
 * polled every sampling interval and its samples are appended in place (charts are never
 * recreated; updates use chart.update("none") with animation off). Tiles always follow
 * the realtime feed; /api/system/health and /api/stress-test are polled for the header
 * and the stress-test panel.
 *
 * ── Extension API: window.foresight (for static/js/forecast.js, static/js/scaling.js) ──
 *   charts         {NAME: Chart}. Per-core CPU is ONE chart keyed "cpu_cores" (a dataset
 *                  per core); every other metric has its own chart. Datasets this file
 *                  owns carry `foresightRole` = "series" | "warning" | "critical": leave
 *                  them alone; push your own datasets (e.g. role "forecast") - they
 *                  survive polls and range changes. Points are {x: epoch ms, y: number}
 *                  (options.parsing is false, so keep them sorted by x).
 *   catalog        {NAME: {unit, description, warning, critical}}
 *   range          {key: "5m"|"1h"|"24h"|"7d", live: bool, sinceS, untilS, stepS}
 *   intervalS, tokenRequired
 *   target         whose series this page shows ("" = this host; ?target= in the URL);
 *                  api() adds it to GET /api/metrics*, /api/predictions, /api/anomalies
 *   onTick         [fn(tick)]  after every realtime poll; tick = {samples, current,
 *                  cursor, serverTimeS, live}
 *   onRangeChange  [fn(info)]  after the charts were (re)filled from /api/metrics: the
 *                  first load, a range switch, a periodic refresh of a long range;
 *                  info = {range, response}
 *   ready          Promise resolved (with window.foresight) once the charts exist
 *   nowS()         server "now" in epoch seconds (corrected for clock skew)
 *   setFutureS(s)  keep s seconds of empty time axis right of "now" (room for forecasts)
 *   futureS()      the seconds of room last requested with setFutureS (0 by default)
 *   api(path, {method, body}) → Promise<JSON>; adds the bearer token if one was given;
 *                  rejects with Error(server's {"error"} text) carrying .status
 *   series(METRIC) the {x, y} dataset of one metric (e.g. "cpu_core1_percent"), or null
 *   setNote(NAME, text)  a line of text under a chart (e.g. forecast accuracy)
 *   format(value, unit)  human units: 1234567 "B/s" → "1.2 MB/s"
 *   update(NAME?)  redraw one chart (or all) with update("none") after you edit datasets
 * Callbacks run inside try/catch: a failing extension never stops the dashboard.
 * A metric first seen after the initial load gets its chart during a poll (rare).
 *
 * Example (static/js/forecast.js, loaded with `defer` after this file):
 *   foresight.setFutureS(120);
 *   foresight.onRangeChange.push(() => drawForecasts());
 *   foresight.onTick.push(({live}) => { if (live) moveForecasts(); });
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
  // Tick spacing per range: left to itself, Chart.js picks hours for a 1.5-h axis on a
  // narrow card and shows a single label.
  const RANGE_TICKS = { "5m": ["minute", 1], "1h": ["minute", 15], "24h": ["hour", 4], "7d": ["day", 1] };
  const TOKEN_KEY = "foresight.token";
  const CORES_KEY = "cpu_cores";
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
  const fs = {
    charts: {}, catalog: {}, range: { key: "5m", live: true, sinceS: null, untilS: null, stepS: null },
    intervalS: Number(cfg.interval_s) || 1, tokenRequired: Boolean(cfg.token_required),
    onTick: [], onRangeChange: [],
  };
  window.foresight = fs;
  let resolveReady;
  fs.ready = new Promise((resolve) => { resolveReady = resolve; });

  let clockOffsetMs = 0; // server clock minus browser clock
  let futureS = 0;
  let cursor = null;
  let rangeSeq = 0; // ignores responses of a range the user has already left
  let refreshTimer = null;
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
  function formatTick(v, unit) {
    v = Number(v.toPrecision(6)); // 0.30000000000000004 → 0.3
    if (unit === "B/s") return `${formatBytes(v)}/s`;
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
  async function api(path, { method = "GET", body } = {}) {
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
  fs.setNote = (key, text) => { if (notes[key]) notes[key].textContent = text || ""; };

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
    const limit = (v) => `${v}${unit ? (unit === "%" ? "" : " ") + unit : ""}`;
    const meta = [info.warning != null ? `warn ${limit(info.warning)}` : "",
      info.critical != null ? `crit ${limit(info.critical)}` : ""].filter(Boolean).join(" · ");
    card.innerHTML = `<div class="chart-head"><h3 class="chart-title"></h3>
      <span class="chart-meta"></span></div><div class="chart-box"><canvas></canvas>
      <p class="chart-empty" hidden>No data in this range</p></div>
      <p class="chart-note"></p>`;
    card.querySelector(".chart-title").textContent = title;
    card.querySelector(".chart-title").title = key === CORES_KEY ? "cpu_core<N>_percent" : key;
    card.querySelector(".chart-meta").textContent = meta;
    notes[key] = card.querySelector(".chart-note");
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
      if (info.warning != null) datasets.push(thresholdDataset("warning", info.warning, unit));
      if (info.critical != null) datasets.push(thresholdDataset("critical", info.critical, unit));
    }
    const percent = unit === "%";
    const chart = new Chart(canvas, {
      type: "line",
      data: { datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        parsing: false, normalized: true,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 1.5, tension: 0 } },
        scales: {
          x: {
            type: "time",
            time: {
              tooltipFormat: "yyyy-MM-dd HH:mm:ss",
              displayFormats: { second: "HH:mm:ss", minute: "HH:mm", hour: "HH:mm", day: "MMM d" },
            },
            ticks: { maxRotation: 0, autoSkipPadding: 16, maxTicksLimit: 7 },
            grid: { color: "#21262d" },
          },
          y: {
            beginAtZero: true, min: percent ? 0 : undefined, max: percent ? 100 : undefined,
            ticks: { maxTicksLimit: 5, callback: (v) => formatTick(v, unit) },
            grid: { color: "#21262d" },
          },
        },
        plugins: {
          legend: {
            display: key === CORES_KEY, position: "bottom",
            labels: { boxWidth: 10, boxHeight: 2, filter: (item, data) => !data.datasets[item.datasetIndex].foresightRole || data.datasets[item.datasetIndex].foresightRole === "series" },
          },
          tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${format(ctx.parsed.y, unit)}` } },
        },
      },
    });
    fs.charts[key] = chart;
    return chart;
  }

  function addCoreDataset(name) {
    const chart = fs.charts[CORES_KEY];
    const i = coreIndex(name);
    const colour = PALETTE[i % PALETTE.length];
    const ds = { label: `core ${i}`, foresightRole: "series", metric: name, data: [],
      borderColor: colour, backgroundColor: colour, fill: false, clip: 3 };
    // Keep cores in numeric order so dataset 0 is core 0.
    const at = chart.data.datasets.findIndex((d) => d.foresightRole === "series" && coreIndex(d.metric) > i);
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
      if (series[name]) continue;
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
    const since = r.live ? until - RANGE_S[r.key] : r.sinceS;
    if (until == null) return;
    const minMs = since * 1000, maxMs = (until + futureS) * 1000;
    const [tickUnit, tickStep] = RANGE_TICKS[r.key];
    for (const chart of Object.values(fs.charts)) {
      chart.options.scales.x.min = minMs;
      chart.options.scales.x.max = maxMs;
      chart.options.scales.x.time.unit = tickUnit;
      chart.options.scales.x.time.stepSize = tickStep;
      let dataMax = 0;
      for (const ds of chart.data.datasets) {
        if (ds.foresightRole === "series") for (const p of ds.data) if (p.y > dataMax) dataMax = p.y;
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

  function markEmpty() {
    for (const chart of Object.values(fs.charts)) {
      const empty = chart.data.datasets.every((d) => d.foresightRole !== "series" || !d.data.length);
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
  async function loadRange(key) {
    const seq = ++rangeSeq;
    clearTimeout(refreshTimer);
    const live = key === "5m";
    // A relative `since` (seconds before the server's now) keeps the query string the same
    // for every tab and poll, so the server's per-tick response cache can answer it.
    const q = new URLSearchParams({ since: String(-RANGE_S[key]), limit: String(RANGE_LIMIT[key]) });
    $("range-status").textContent = "Loading…";
    try {
      const res = await api(`/api/metrics?${q}`);
      if (seq !== rangeSeq) return;
      showTargets(res.targets);
      ensureSeries(res.metrics);
      let points = 0;
      for (const [name, m] of Object.entries(res.metrics)) {
        const ds = series[name].dataset;
        ds.data = (m.points || []).filter((p) => p[1] !== null).map(([t, v]) => ({ x: t * 1000, y: v }));
        points = Math.max(points, ds.data.length);
        if (m.current) setTile(name, m.current.value, m.current.level, m.unit);
      }
      fs.range = { key, live, sinceS: res.since, untilS: res.until, stepS: res.step_s ?? null };
      applyWindow();
      markEmpty();
      fs.update();
      const step = res.step_s ? `, one point per ${formatDuration(res.step_s)}` : "";
      $("range-status").textContent = live
        ? `Live: last 5 minutes, updated every ${fs.intervalS} s.`
        : `Last ${RANGE_LABEL[key]}: up to ${points} points per metric${step}; loaded ${new Date().toLocaleTimeString()}.`;
      resolveReady(fs);
      runHooks(fs.onRangeChange, { range: fs.range, response: res });
      if (!live) refreshTimer = setTimeout(() => loadRange(key), RANGE_REFRESH_S[key] * 1000);
    } catch (err) {
      if (seq !== rangeSeq) return;
      $("range-status").textContent = `Could not load history: ${err.message}`;
      refreshTimer = setTimeout(() => loadRange(key), 5000);
    }
  }

  function selectRange(key) {
    for (const b of $("range").querySelectorAll("button")) {
      b.setAttribute("aria-checked", String(b.dataset.range === key));
      b.tabIndex = b.dataset.range === key ? 0 : -1;
    }
    loadRange(key);
  }

  // ── live feed (GET /api/metrics/realtime?since=cursor) ────────────────
  async function poll() {
    try {
      const q = cursor === null ? "" : `?since=${encodeURIComponent(cursor)}`;
      const rt = await api(`/api/metrics/realtime${q}`);
      $("connection-error").hidden = true;
      $("tiles").classList.remove("stale"); // back in contact: the values are live again
      if (rt.server_time) clockOffsetMs = rt.server_time * 1000 - Date.now();
      if (rt.interval_s) fs.intervalS = rt.interval_s;
      // Until the charts exist, keep the cursor: those samples must not be skipped.
      if (Object.keys(fs.charts).length) cursor = rt.cursor ?? cursor;
      const samples = rt.samples || [];
      if (fs.range.live && Object.keys(fs.charts).length) {
        const unknown = {};
        for (const s of samples) {
          const x = s.timestamp * 1000;
          for (const [name, v] of Object.entries(s.values || {})) {
            const entry = series[name];
            if (!entry) { unknown[name] = { unit: rt.current?.[name]?.unit }; continue; }
            const data = entry.dataset.data;
            if (v !== null && (!data.length || x > data[data.length - 1].x)) data.push({ x, y: v });
          }
        }
        if (Object.keys(unknown).length) ensureSeries(unknown); // e.g. a metric that just appeared
        const minMs = (fs.nowS() - RANGE_S["5m"]) * 1000;
        for (const { dataset } of Object.values(series)) dropBefore(dataset.data, minMs);
        applyWindow();
        markEmpty();
        fs.update();
      }
      for (const [name, c] of Object.entries(rt.current || {})) setTile(name, c.value, c.level, c.unit);
      runHooks(fs.onTick, { samples, current: rt.current || {}, cursor, serverTimeS: rt.server_time, live: fs.range.live });
    } catch (err) {
      showConnectionError(err);
    }
    setTimeout(poll, Math.max(250, fs.intervalS * 1000));
  }

  function showConnectionError(err) {
    const el = $("connection-error");
    el.textContent = `Lost contact with the monitor (${err.message}); retrying…`;
    el.hidden = false;
    $("tiles").classList.add("stale"); // grey, not green: these values are no longer current
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
      $("health-age").textContent = h.last_sample_age_s == null ? "none yet" : `${h.last_sample_age_s.toFixed(1)} s ago`;
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
      const badge = $("health-status");
      badge.textContent = "unreachable";
      badge.className = "badge level-critical";
    }
    setTimeout(pollHealth, Math.max(2000, fs.intervalS * 2000));
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
    stressTimer = setTimeout(pollStress, running ? 1000 : 5000);
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
  }

  function init() {
    $("target").addEventListener("change", (e) => {
      const v = e.target.value;
      window.location.search = v ? `?target=${encodeURIComponent(v)}` : "";
    });
    if (typeof Chart === "undefined") {
      showConnectionError(new Error("Chart.js is missing from /static/vendor/ - run `make setup`"));
      return;
    }
    Chart.defaults.color = "#9da7b3";
    Chart.defaults.borderColor = "#30363d";
    Chart.defaults.font.size = 11;
    initRange();
    initStress();
    selectRange("5m");
    poll();
    pollHealth();
    pollStress();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
