/* Capacity panel (templates/partials/capacity_panel.html). Plain ES2020, no build step.
 *
 * Polls GET /api/scaling/status and /api/scaling/history every POLL_MS and draws ready
 * and ready+booting instances (stepped) against demand and the forecast the engine used
 * (drawn at decision time + boot lag, with its 80 % upper edge). Mode buttons POST
 * /api/scaling/mode; the form POSTs /api/scaling/execute. Requests go through
 * window.foresight.api, which adds the bearer token when one was given.
 */
(() => {
  "use strict";

  const POLL_MS = 3000;
  const $ = (id) => document.getElementById(id);
  if (!$("capacity-panel")) return;
  const fs = window.foresight;
  let chart = null;
  let timer = null;

  const api = (path, opts) => (fs && fs.api ? fs.api(path, opts) :
    fetch(path).then((r) => r.json()));

  function showError(err) {
    const el = $("scaling-error");
    if (!err) { el.hidden = true; el.textContent = ""; return; }
    el.hidden = false;
    el.textContent = err.message || String(err);
  }

  function num(v, digits = 2) {
    return v === null || v === undefined ? "–" : Number(v).toFixed(digits);
  }

  function makeChart() {
    if (typeof Chart === "undefined") return null;
    const line = (label, colour, extra = {}) => ({
      label, data: [], borderColor: colour, backgroundColor: colour, pointRadius: 0,
      borderWidth: 1.6, ...extra });
    return new Chart($("capacity-chart"), {
      type: "line",
      data: { datasets: [
        line("demand (units)", "#e6edf3", { borderWidth: 1.2 }),
        line("ready", "#58a6ff", { stepped: true, borderWidth: 2 }),
        line("ready + booting", "#d2a8ff", { stepped: true, borderDash: [5, 4] }),
        line("forecast used", "#ffa657", { borderDash: [3, 3], borderWidth: 1.2 }),
        line("forecast 80 % upper", "rgba(255,166,87,0.35)", { borderWidth: 1 }),
      ] },
      options: {
        animation: false, maintainAspectRatio: false, parsing: false, spanGaps: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: { type: "time", ticks: { color: "#9da7b3", maxTicksLimit: 8 },
               grid: { color: "#30363d" } },
          y: { beginAtZero: true, title: { display: true, text: "instances / demand units",
               color: "#9da7b3" }, ticks: { color: "#9da7b3" }, grid: { color: "#30363d" } },
        },
        plugins: { legend: { labels: { color: "#e6edf3", boxWidth: 14 } } },
      },
    });
  }

  function drawHistory(hist) {
    if (!chart) chart = makeChart();
    if (!chart) return;
    const pts = hist.points || [];
    const ms = (t) => t * 1000;
    const lead = (hist.boot_s || 0) * 1000;
    const [demand, ready, desired, fc, fcUp] = chart.data.datasets;
    demand.data = pts.map((p) => ({ x: ms(p.timestamp), y: p.demand_units }));
    ready.data = pts.map((p) => ({ x: ms(p.timestamp), y: p.ready }));
    desired.data = pts.map((p) => ({ x: ms(p.timestamp), y: p.ready + p.booting }));
    fc.data = pts.filter((p) => p.forecast_units !== null)
      .map((p) => ({ x: ms(p.timestamp) + lead, y: p.forecast_units }));
    fcUp.data = pts.filter((p) => p.forecast_upper !== null)
      .map((p) => ({ x: ms(p.timestamp) + lead, y: p.forecast_upper }));
    chart.update("none");
  }

  function drawDecisions(decisions) {
    const body = $("scaling-decisions");
    const rows = (decisions || []).slice(-30).reverse();
    if (!rows.length) return;
    body.replaceChildren(...rows.map((d) => {
      const tr = document.createElement("tr");
      const cells = [
        new Date(d.timestamp * 1000).toLocaleTimeString(),
        d.action.replace("_", " ") + (d.mode === "dry-run" ? " (dry run)" : ""),
        `${d.current} → ${d.target}`, d.rule, d.reason];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 1) td.className = `action-${d.action}`;
        if (i === 0 || i === 2) td.classList.add("num");
        tr.appendChild(td);
      });
      if (d.execution && !d.execution.ok) tr.title = `executor failed: ${d.execution.error}`;
      return tr;
    }));
  }

  function drawStatus(st) {
    const inst = st.instances || {};
    $("scaling-badge").textContent = `${st.policy} · ${st.mode}`;
    $("scaling-badge").className = `badge level-${st.mode === "auto" ? "ok" : "warning"}`;
    $("scaling-ready").textContent = String(inst.ready ?? 0);
    $("scaling-booting").textContent = String((inst.pending ?? 0) + (inst.booting ?? 0));
    $("scaling-draining").textContent = String(inst.draining ?? 0);
    $("scaling-bounds").textContent = `${st.min_instances} / ${st.max_instances}`;
    $("scaling-demand").textContent = st.demand_units === null ? "–" :
      `${num(st.demand_units)} units`;
    $("scaling-quality").textContent = st.forecast_quality === null ?
      "learning (reactive until the forecast proves itself)" :
      `error ${num(st.forecast_quality)}× that of "no change"`;
    $("scaling-storage").textContent = `${num(st.storage_gb, 0)} GB · ${st.instance_size} instances`;
    const c = st.cost || {};
    const budget = c.daily_budget_usd;
    $("scaling-cost").textContent = `$${num(c.today_usd, 3)}` +
      (budget ? ` of $${num(budget)} budget` : "");
    $("scaling-budget").value = c.budget_used_ratio ?? 0;
    const input = $("scaling-instances");
    input.min = String(st.min_instances);
    input.max = String(st.max_instances);
    if (document.activeElement !== input) input.value = String(st.desired);
    document.querySelectorAll("#scaling-mode button").forEach((b) => {
      b.setAttribute("aria-checked", String(b.dataset.mode === st.mode));
    });
    const last = st.last_decision;
    $("scaling-note").textContent = last ? `last: ${last.reason}` : "waiting for the first decision…";
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const [st, hist] = await Promise.all([api("/api/scaling/status"),
        api("/api/scaling/history?limit=480")]);
      drawStatus(st);
      drawHistory(hist);
      drawDecisions(hist.decisions);
    } catch (err) {
      $("scaling-note").textContent = `scaling unavailable: ${err.message || err}`;
    }
    timer = setTimeout(poll, POLL_MS);
  }

  $("scaling-mode").addEventListener("click", async (ev) => {
    const mode = ev.target.closest("button")?.dataset.mode;
    if (!mode) return;
    try {
      drawStatus(await api("/api/scaling/mode", { method: "POST", body: { mode } }));
      showError(null);
    } catch (err) { showError(err); }
  });

  $("scaling-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const instances = Number($("scaling-instances").value);
    try {
      await api("/api/scaling/execute", { method: "POST", body: { instances } });
      showError(null);
      poll();
    } catch (err) { showError(err); }
  });

  // A stress test changes the load within seconds: poll right away when one starts.
  $("stress-form")?.addEventListener("submit", () => setTimeout(poll, 1500));

  (fs && fs.ready ? fs.ready : Promise.resolve()).then(poll);
})();
