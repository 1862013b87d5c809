/* The History charts and the tiles of the dashboard (static/js/dashboard.js): one
 * Chart.js chart per metric (per-core CPU: one chart, a dataset per core), the warn/crit
 * lines, the x window, "No data in this range", and one tile per metric.
 * Loaded with `defer` right after dashboard.js; shares its internals through
 * window.foresightDashboard (D), which is no extension API: extensions use
 * window.foresight.
 */
(() => {
  "use strict";

  const D = window.foresightDashboard;
  const { fs, $, T, C, series, notes, tiles, RANGE_S } = D;
  const { format, formatTick } = window.foresightFormat;
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
      const cpus = fs.targetCpus[D.TARGET];
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
                if (!fs.zoomTo(c.scales.x.min / 1000, c.scales.x.max / 1000)) { applyWindow(); fs.update(); }
              },
            },
            pan: {
              enabled: true, mode: "x", modifierKey: "shift",
              onPanComplete: ({ chart: c }) => { // not resetZoom(): it calls this again
                if (!fs.zoomTo(c.scales.x.min / 1000, c.scales.x.max / 1000)) { applyWindow(); fs.update(); }
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
    canvas.addEventListener("dblclick", () => fs.resetZoom());
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
      ? fs.futureS() * Math.min(1, (until - since) / RANGE_S[r.key]) : fs.futureS();
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


  Object.assign(D, { CORES_KEY, ensureSeries, applyWindow, markEmpty, dropBefore, setTile,
    applyTheme, themeColour });
})();
