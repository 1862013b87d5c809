/* Memory, devices and top processes (templates/partials/system_panel.html).
 *
 * Series come from the dashboard's own feed (window.foresight.onRangeChange carries the
 * /api/metrics answer, onTick the realtime samples): no extra history requests. The
 * panel's metrics are claimed in the page (data-foresight-claims), so dashboard.js gives
 * them no chart of their own. Per-device metrics are "<base>:<device>":
 *   disk_read_bytes_per_s:vda, net_recv_bytes_per_s:eth0, fs_used_percent:/
 * GET /api/devices (every 30 s) lists filesystems and which interfaces are left out
 * (loopback); GET /api/processes (every 5 s, while the tab is visible) the top tables.
 * Exposed for tests: window.foresight.system = {charts, processes}.
 */
(() => {
  "use strict";

  const fs = window.foresight;
  if (!fs) return;
  const $ = (id) => document.getElementById(id);
  const PALETTE = ["#58a6ff", "#ffa657", "#7ee787", "#d2a8ff", "#56d4dd", "#f778ba",
    "#e3b341", "#79c0ff", "#ff7b72", "#a5d6ff"];
  const MEMORY = { memory_used_bytes: ["used", "#d2a8ff"], memory_cached_bytes: ["cached", "#56d4dd"],
    memory_buffers_bytes: ["buffers", "#e3b341"], memory_available_bytes: ["available", "#7ee787"] };
  const KINDS = [ // [chart key, regex (base, device), label, unit]
    ["disk", /^disk_(read|write)_bytes_per_s:(.+)$/, (m) => `${m[2]} ${m[1]}`, "B/s"],
    ["net", /^net_(recv|sent)_bytes_per_s:(.+)$/, (m) => `${m[2]} ${m[1] === "recv" ? "received" : "sent"}`, "B/s"],
    ["fs", /^fs_used_percent:(.+)$/, (m) => m[1], "%"],
  ];
  const LIVE_S = 300;
  const T = window.foresightTime;
  const C = window.foresightCharts;
  const spanOf = (scale) => (scale.max - scale.min) / 1000;
  const isolated = (ctx) => {
    const d = ctx.dataset && ctx.dataset.data, i = ctx.dataIndex;
    if (!d || ctx.type !== "data" || !d[i] || d[i].y === null) return 0;
    const gap = (p) => !p || p.y === null;
    return gap(d[i - 1]) && gap(d[i + 1]) ? 2 : 0;
  };
  const gridColour = () =>
    getComputedStyle(document.documentElement).getPropertyValue("--grid").trim() || "#21262d";
  document.addEventListener("foresight:theme", () => {
    for (const chart of Object.values(state.charts)) {
      chart.options.scales.x.grid.color = chart.options.scales.y.grid.color = gridColour();
      chart.update("none");
    }
  });
  const state = { charts: {}, processes: null, datasets: {} };
  fs.system = state;

  function kindOf(name) {
    if (MEMORY[name]) return ["memory", MEMORY[name][0], "B", MEMORY[name][1], false];
    for (const [key, re, label, unit] of KINDS) {
      const m = re.exec(name);
      if (m) return [key, label(m), unit, null, m[1] === "write" || m[1] === "sent"];
    }
    return null;
  }

  function makeChart(key, unit) {
    const canvas = $(`chart-system-${key}`);
    if (!canvas || typeof Chart === "undefined") return null;
    const percent = unit === "%";
    const chart = new Chart(canvas, {
      type: "line",
      data: { datasets: [] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
        spanGaps: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        // a point with no neighbour has no line to sit on: a dot (one bucket of a long range)
        elements: { point: { radius: isolated, hitRadius: 6 }, line: { borderWidth: 1.5, tension: 0 } },
        scales: {
          // the History charts' axis: whole local steps, the page's one time format
          // (static/js/timefmt.js, dates once the range spans days), the theme's grid
          x: { type: "time", afterBuildTicks: (scale) => C.alignTicks(scale, C.tickStep(spanOf(scale))[2]),
            ticks: { maxRotation: 0, autoSkipPadding: 16, maxTicksLimit: 6,
              callback(value, index, ticks) { return T.tick(value, spanOf(this), index, ticks); } },
            grid: { color: gridColour() } },
          y: { beginAtZero: true, min: percent ? 0 : undefined, max: percent ? 100 : undefined,
            ticks: { maxTicksLimit: 5, callback: (v) => fs.formatTick(v, unit) },
            grid: { color: gridColour() } },
        },
        plugins: {
          legend: { display: true, position: "bottom", labels: { boxWidth: 10, boxHeight: 2 } },
          tooltip: { callbacks: {
            title: (items) => (items.length ? T.hover(items[0].parsed.x, spanOf(items[0].chart.scales.x)) : ""),
            label: (ctx) => `${ctx.dataset.label}: ${fs.format(ctx.parsed.y, unit)}` } },
        },
      },
    });
    state.charts[key] = chart;
    return chart;
  }

  function datasetFor(name) {
    if (state.datasets[name]) return state.datasets[name];
    const kind = kindOf(name);
    if (!kind) return null;
    const [key, label, unit, fixedColour, dashed] = kind;
    const chart = state.charts[key] || makeChart(key, unit);
    if (!chart) return null;
    // read/write (received/sent) of one device share a colour; the second is dashed
    const device = label.split(" ")[0];
    const devices = [...new Set(chart.data.datasets.map((d) => d.device))];
    const index = devices.includes(device) ? devices.indexOf(device) : devices.length;
    const colour = fixedColour || PALETTE[index % PALETTE.length];
    const ds = { label, metric: name, device, data: [], borderColor: colour, backgroundColor: colour,
      borderDash: dashed ? [5, 3] : [], fill: false };
    chart.data.datasets.push(ds);
    chart.data.datasets.sort((a, b) => a.label.localeCompare(b.label));
    state.datasets[name] = ds;
    return ds;
  }

  function applyWindow() {
    const r = fs.range;
    const until = r.live ? fs.nowS() : r.untilS;
    const since = r.live ? until - LIVE_S : r.axisSinceS ?? r.sinceS; // dashboard.js shortStart
    const main = Object.values(fs.charts)[0]; // same tick spacing as the History charts
    const time = main ? main.options.scales.x.time : {};
    for (const chart of Object.values(state.charts)) {
      chart.options.scales.x.min = since * 1000;
      chart.options.scales.x.max = until * 1000;
      chart.options.scales.x.time.unit = time.unit;
      chart.options.scales.x.time.stepSize = time.stepSize;
      // as on the History charts: say so when the range holds no point of this chart
      const empty = !chart.data.datasets.some((d) => d.data.some((p) => p.y !== null && p.x >= since * 1000 && p.x <= until * 1000));
      const note = chart.canvas.parentElement.querySelector(".chart-empty");
      if (note && note.hidden !== !empty) note.hidden = !empty;
      chart.update("none");
    }
    // A chart is made with its first series: one with none (another target's view, a
    // host without that device) was a blank box, saying nothing.
    for (const card of document.querySelectorAll("[data-system-chart]")) {
      const note = card.querySelector(".chart-empty");
      if (note && !state.charts[card.dataset.systemChart]) note.hidden = false;
    }
  }

  function showMemory(values) {
    for (const [name, [label]] of Object.entries(MEMORY)) {
      const el = $(`mem-${label}`);
      if (el && values[name] != null) el.textContent = fs.format(values[name], "B");
    }
  }

  fs.onRangeChange.push(({ response }) => {
    const latest = {};
    for (const [name, m] of Object.entries(response.metrics || {})) {
      if (!fs.claimed(name)) continue;
      const ds = datasetFor(name);
      if (!ds) continue;
      // nulls kept: a gap breaks the line, as on the History charts (spanGaps false)
      ds.data = (m.points || []).map(([t, v]) => ({ x: t * 1000, y: v }));
      if (m.current && m.current.value != null) latest[name] = m.current.value;
    }
    showMemory(latest);
    applyWindow();
  });

  fs.onTick.push(({ samples, current, live }) => {
    const latest = {};
    for (const [name, c] of Object.entries(current || {})) if (MEMORY[name]) latest[name] = c.value;
    showMemory(latest);
    if (!live) return;
    for (const s of samples) {
      const x = s.timestamp * 1000;
      for (const [name, v] of Object.entries(s.values || {})) {
        if (!fs.claimed(name) || v === null) continue;
        const ds = datasetFor(name);
        if (ds && (!ds.data.length || x > ds.data[ds.data.length - 1].x)) ds.data.push({ x, y: v });
      }
    }
    const minMs = (fs.nowS() - LIVE_S) * 1000;
    for (const ds of Object.values(state.datasets)) {
      let i = 0;
      while (i < ds.data.length && ds.data[i].x < minMs) i += 1;
      if (i) ds.data.splice(0, i);
    }
    applyWindow();
  });

  // ── /api/devices: filesystems table, totals, what is left out ──────────
  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  async function loadDevices() {
    try {
      const d = await fs.api("/api/devices");
      $("devices-error").hidden = true;
      $("mem-total").textContent = fs.format(d.memory_total_bytes, "B");
      $("swap-total").textContent = d.swap_total_bytes ? fs.format(d.swap_total_bytes, "B") : "none";
      const body = $("fs-table").querySelector("tbody");
      if (d.filesystems.length) {
        body.textContent = "";
        for (const f of d.filesystems) {
          const row = document.createElement("tr");
          cell(row, f.mountpoint); cell(row, f.device); cell(row, f.fstype);
          cell(row, fs.format(f.used_bytes, "B"), "num"); cell(row, fs.format(f.total_bytes, "B"), "num");
          cell(row, fs.format(f.used_percent, "%"), "num");
          body.appendChild(row);
        }
      }
      // Grouped by reason: "ifb0 (virtual device (the host ...)), ifb1 (virtual device (...
      // ))" said the same thing twice in nested brackets.
      const byReason = new Map();
      for (const i of d.interfaces.filter((x) => !x.counted)) {
        byReason.set(i.reason, [...(byReason.get(i.reason) || []), i.name]);
      }
      const out = [...byReason].map(([why, names]) => `${names.join(", ")} (${why.replace(/ \((.*)\)$/, ": $1")})`);
      const skipped = d.disks.filter((x) => !x.charted).map((x) => x.name);
      $("devices-excluded").textContent = [
        out.length ? `Not in the network totals or charts: ${out.join("; ")}.` : "",
        skipped.length ? `Disks not charted (loop, ram, zram): ${skipped.join(", ")}.` : "",
      ].filter(Boolean).join(" ");
    } catch (err) {
      $("devices-error").textContent = `Could not load devices: ${err.message}`;
      $("devices-error").hidden = false;
    }
  }

  // ── /api/processes: the top tables ─────────────────────────────────────
  function fillProcesses(id, rows) {
    const body = $(id).querySelector("tbody");
    body.textContent = "";
    for (const r of rows) {
      const row = document.createElement("tr");
      cell(row, String(r.pid), "num"); cell(row, r.command || r.name, "name");
      row.lastChild.title = r.command ? `${r.name}: ${r.command}` : r.name;
      cell(row, r.cpu_percent == null ? "–" : `${r.cpu_percent.toFixed(1)} %`, "num");
      cell(row, `${r.memory_percent.toFixed(1)} %`, "num"); cell(row, fs.format(r.rss_bytes, "B"), "num");
      body.appendChild(row);
    }
  }

  async function loadProcesses() {
    if (document.hidden) return; // a hidden tab does not keep the process job running
    try {
      const p = await fs.api("/api/processes");
      state.processes = p;
      $("processes-error").hidden = true;
      if (p.timestamp == null) {
        $("processes-status").textContent = "Sampling the process table…";
        return;
      }
      fillProcesses("proc-cpu", p.by_cpu);
      fillProcesses("proc-mem", p.by_memory);
      const when = window.foresightTime.time(p.timestamp);
      $("processes-status").textContent = p.window_s == null
        ? `${p.count} processes at ${when}; CPU figures follow in a second.`
        : `${p.count} processes at ${when}; CPU over the last ${p.window_s.toFixed(1)} s, refreshed every ${p.every_s} s.`;
    } catch (err) {
      $("processes-error").textContent = `Could not load processes: ${err.message}`;
      $("processes-error").hidden = false;
    }
  }

  fs.ready.then(() => {
    // A chain of timeouts, each waiting for a visible tab: a hidden tab sends nothing and
    // queues nothing (fs.api's GETs also wait for visibility).
    const every = (fn, ms) => {
      const run = async () => { await fs.whenVisible(); await fn(); setTimeout(run, ms); };
      run();
    };
    every(loadDevices, 30000);
    every(loadProcesses, 5000);
    setTimeout(loadProcesses, 1500); // the first pass has no CPU figures; the next does
  });
})();
