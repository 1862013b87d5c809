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

  const POLL_MS = 5000; // the engine decides every 15 s by default; history is cursor-based
  const $ = (id) => document.getElementById(id);
  if (!$("capacity-panel")) return;
  const fs = window.foresight;
  let chart = null;
  let timer = null;
  // What the page holds: fetched once in full, then only what is newer than `cursor`.
  const KEEP_POINTS = 480;
  const held = { points: [], decisions: [], cursor: null, boot_s: 0, waiting: "" };

  // Plain words for every rule a decision can name (the policies in foresight/scaling/).
  const RULES = {
    "hpa": "Kubernetes HPA rule: instances = ceil(current × utilisation ÷ target)",
    "stabilisation": "HPA scale-down stabilisation: keep the highest recommendation of the last 5 min",
    "rate-limit": "HPA rate limit: at most so many new instances per period",
    "above-up-threshold": "utilisation above the 80 % threshold: add one",
    "below-down-threshold": "utilisation below the 30 % threshold: remove one",
    "within-band": "utilisation between the thresholds (or below the confidence gate): hold",
    "cooldown": "waiting out the cooldown after the last action",
    "forecast": "sized for the forecast's 80 % upper edge at the boot lag",
    "surge": "demand outran the forecast's band: sized for its trend over the boot lag at once",
    "forecast-and-reactive": "the larger of the forecast's and the reactive rule's counts",
    "reactive-unconfirmed": "a reactive scale-up seen once; acting when the next reading agrees",
    "no-scale-in-on-forecast": "never scale in on the forecast alone",
    "missing-data": "no measurement for this interval: hold (never scale on a gap)",
    "budget": "the rest of today's budget can't pay for more",
    "scale-in-peak": "scale-in held: the recent peak would not fit the smaller pool",
    "scale-in-horizon": "scale-in held: the forecast over its horizon would not fit",
    "scale-in-gap": "scale-in held: the recent window has a data gap",
    "scale-in-cooldown": "scale-in held: a scale-up happened recently",
    "scale-in-step": "scale-in limited to a few instances per decision",
    "manual-override": "set by hand from the page or the API",
    "manual-hold": "a manual override is holding; automatic decisions resume at its end",
    "paused": "engine paused: no automatic decisions",
    "dry-run": "dry run: decided and recorded, not carried out (a manual override still is)",
    "disk-forecast-critical": "disk forecast crosses critical: grow storage",
    "disk-ok": "disk forecast stays below critical",
    "count-capped": "the count is at its max: a bigger instance size instead",
    "size-ok": "the instance size is enough",
    "size-largest": "the count is at its max and the size is the largest there is",
  };
  function explainRule(rule) {
    for (const prefix of ["fallback-", "reactive-"]) {
      if (rule.startsWith(prefix) && RULES[rule.slice(prefix.length)]) {
        const why = prefix === "fallback-" ?
          "forecast not trusted yet, so the reactive rule decides: " : "reactive rule: ";
        return why + RULES[rule.slice(prefix.length)];
      }
    }
    return RULES[rule] || rule;
  }

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

  // Theme colours (static/js/theme.js sets them as CSS variables on <html>).
  const css = (name, fallback) =>
    getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  function themeChart() {
    if (!chart) return;
    const o = chart.options;
    chart.data.datasets[0].borderColor = chart.data.datasets[0].backgroundColor = css("--text", "#e6edf3");
    o.scales.x.ticks.color = o.scales.y.ticks.color = o.scales.y.title.color = css("--muted", "#9da7b3");
    o.scales.x.grid.color = o.scales.y.grid.color = css("--grid", "#30363d");
    o.plugins.legend.labels.color = css("--text", "#e6edf3");
    chart.update("none");
  }
  document.addEventListener("foresight:theme", themeChart);

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
          x: { type: "time", grid: { color: "#30363d" },
               // ticks on whole local steps, as on the History charts (not "12:22:29")
               afterBuildTicks: (scale) => window.foresightCharts?.alignTicks(scale,
                 window.foresightCharts.tickStep((scale.max - scale.min) / 1000)[2]),
               ticks: { color: "#9da7b3", maxTicksLimit: 8,
                 // the page's one time format (static/js/timefmt.js)
                 callback(value, index, ticks) {
                   return window.foresightTime.tick(value, (this.max - this.min) / 1000, index, ticks);
                 } } },
          // grace: a count at the top of the axis is drawn below the frame, not on it
          y: { beginAtZero: true, grace: "8%", title: { display: true, text: "instances / demand units",
               color: "#9da7b3" }, ticks: { color: "#9da7b3" }, grid: { color: "#30363d" } },
        },
        // A line with no points has no legend entry: "forecast used" with nothing drawn
        // read as a missing line (the caption says why there is none yet).
        plugins: { legend: { labels: { color: "#e6edf3", boxWidth: 14,
          filter: (item, data) => data.datasets[item.datasetIndex].data.length > 0 } },
          tooltip: { callbacks: { title: (items) => (items.length ? window.foresightTime.when(items[0].parsed.x / 1000) : "") } } },
      },
    });
  }

  function merge(hist) {
    held.boot_s = hist.boot_s || 0;
    held.points = held.points.concat(hist.points || []).slice(-KEEP_POINTS);
    held.decisions = held.decisions.concat(hist.decisions || []).slice(-100);
    if (hist.cursor !== null && hist.cursor !== undefined) held.cursor = hist.cursor;
    return held;
  }

  function drawHistory(hist) {
    if (!chart) { chart = makeChart(); themeChart(); }
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
    // Under five minutes of history (none, or one decision): the last five minutes, not
    // Chart.js's default day of empty axis or one instant repeated on every tick.
    const x = chart.options.scales.x;
    const nowMs = (fs && fs.nowS ? fs.nowS() : Date.now() / 1000) * 1000;
    const short = !pts.length || pts[pts.length - 1].timestamp - pts[0].timestamp < 300;
    x.min = short ? Math.min(nowMs - 300000, pts.length ? ms(pts[0].timestamp) : Infinity) : undefined;
    x.max = short ? nowMs : undefined;
    for (const ds of [demand, ready, desired]) ds.pointRadius = pts.length === 1 ? 3 : 0; // one point: a dot
    const why = $("capacity-no-forecast");
    why.hidden = fc.data.length > 0 || !pts.length;
    why.textContent = held.waiting
      ? "No forecast line yet: the engine decides reactively until its demand forecast is ready; the Forecast row says when."
      : "No forecast line in this history: the engine used no forecast in these decisions.";
    chart.update("none");
  }

  function drawDecisions(decisions) {
    const body = $("scaling-decisions");
    const rows = (decisions || []).slice(-30).reverse();
    if (!rows.length) return;
    body.replaceChildren(...rows.map((d) => {
      const tr = document.createElement("tr");
      const cells = [
        window.foresightTime.when(d.timestamp),
        // A manual override is carried out in every mode: only automatic steps are dry runs.
        d.action.replace("_", " ") + (d.rule === "manual-override" ? " (by hand)"
          : d.mode === "dry-run" ? " (dry run)" : ""),
        `${d.current} → ${d.target}`, d.rule, d.reason];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 3) { td.title = explainRule(d.rule); td.classList.add("rule"); }
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
    held.waiting = st.forecast_quality === null ? st.forecast_waiting || "" : "";
    $("scaling-quality").textContent = st.forecast_quality === null ?
      `${st.forecast_waiting || "learning"} (reactive until then)` :
      `error ${num(st.forecast_quality)}× that of "no change"`;
    drawSignals(st);
    drawPlatform(st.platform);
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
    // The log below lists each change with its reason; holds are not logged, so the head
    // gives a hold's reason, and after a change only the cadence.
    const every = `decides every ${num(st.interval_s, 0)} s`;
    $("scaling-note").textContent = !last ? `${every}; waiting for the first decision…` :
      last.action === "hold" ? `${every}; holding: ${last.reason}` :
      `${every}; next at about ${window.foresightTime.when(last.timestamp + st.interval_s)}`;
    const notes = (st.conditions || []).map((c) => c.message);
    if (st.override_until) {
      notes.unshift(`Manual override: automatic decisions resume at ${
        window.foresightTime.when(st.override_until)}.`);
    }
    $("scaling-conditions").textContent = notes.join(" · ");
    $("scaling-conditions").hidden = !notes.length;
  }

  function shape(s) {
    const mem = s.memory_gb === null || s.memory_gb === undefined ? "" : `, ${num(s.memory_gb, 1)} GB`;
    return `${s.size} (${num(s.cpu_cores, s.cpu_cores % 1 ? 2 : 0)} CPU${mem})`;
  }

  function drawSignals(st) {
    const sig = st.demand_signals || {};
    const parts = Object.entries(sig).map(([k, v]) => `${k} ${num(v)}`);
    const dm = st.demand_metric;  // SCALING_DEMAND_METRIC: one series drives demand
    const value = dm && dm.reading && dm.reading.value !== null ? num(dm.reading.value) : "no data";
    $("scaling-signals").textContent = dm ?
      `${dm.metric} = ${value} ÷ ${num(dm.unit_capacity)} per instance` +
        (st.forecast_source === "series" ? " (its forecast leads)" : "") :
      !parts.length ? "–" :
      parts.join(" · ") + (st.demand_signal ? ` (${st.demand_signal} drives)` : "");
    const rec = st.size_recommendation;
    if (!rec) { $("scaling-size").textContent = "–"; return; }
    const now = shape(rec.current || rec);
    $("scaling-size").textContent = rec.size === (rec.current || {}).size ? now :
      `${now} → recommended ${shape(rec)}`;
    $("scaling-size").title = rec.reason || "";
  }

  function drawPlatform(p) {
    const dd = $("scaling-platform");
    dd.hidden = $("scaling-platform-label").hidden = !p;
    if (!p) return;
    dd.classList.toggle("drift", Boolean(p.drift_instances));
    if (p.actual_instances === null) {
      dd.textContent = p.error ? `no read-back: ${p.error}` : "no read-back yet";
      return;
    }
    const lasted = p.drift_for_s || 0;
    const since = p.drift_since === null ? "" : lasted < 90 ? ` for ${Math.round(lasted)} s` :
      ` for ${Math.round(lasted / 60)} min`;
    dd.textContent = `runs ${p.actual_instances} of ${p.desired_instances} asked` +
      (p.drift_instances ? ` · drift ${p.drift_instances > 0 ? "+" : ""}${p.drift_instances}${since}` :
        " · in sync") + ` (${p.source === "status_url" ? "status URL" : "webhook answer"})` +
      (p.error ? ` · last read failed: ${p.error}` : "");
  }

  function drawInstances(res) {
    const body = $("scaling-instances-list");
    const rows = (res.instances || []).map((inst) => {
      const tr = document.createElement("tr");
      for (const text of [String(inst.id), inst.size, inst.state, inst.healthy ? "healthy" : "failing"]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      const td = document.createElement("td");
      if (inst.healthy && inst.state !== "draining") {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = "Inject fault";
        b.dataset.instance = String(inst.id);
        td.appendChild(b);
      }
      tr.appendChild(td);
      return tr;
    });
    body.replaceChildren(...rows);
    const events = (res.events || []).slice(-8).reverse();
    $("scaling-events").replaceChildren(...events.map((e) => {
      const li = document.createElement("li");
      li.textContent = `${window.foresightTime.when(e.timestamp)} ${e.kind}` +
        (e.instance_id === null ? "" : ` #${e.instance_id}`) + (e.detail ? `: ${e.detail}` : "");
      return li;
    }));
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const query = held.cursor === null ? `limit=${KEEP_POINTS}` :
        `since=${held.cursor}&limit=${KEEP_POINTS}`;
      const [st, hist, res] = await Promise.all([api("/api/scaling/status"),
        api(`/api/scaling/history?${query}`), api("/api/resources")]);
      drawStatus(st);
      merge(hist);
      drawHistory(held);
      drawDecisions(held.decisions);
      drawInstances(res);
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
    const hold_s = 60 * Number($("scaling-hold").value || 0);
    try {
      await api("/api/scaling/execute", { method: "POST", body: { instances, hold_s } });
      showError(null);
      poll();
    } catch (err) { showError(err); }
  });

  $("scaling-instances-list").addEventListener("click", async (ev) => {
    const id = ev.target.closest("button")?.dataset.instance;
    if (!id) return;
    try {
      drawInstances(await api(`/api/resources/${id}/fail`, { method: "POST", body: {} }));
      showError(null);
    } catch (err) { showError(err); }
  });

  // A stress test changes the load within seconds: poll right away when one starts.
  $("stress-form")?.addEventListener("submit", () => setTimeout(poll, 1500));

  (fs && fs.ready ? fs.ready : Promise.resolve()).then(poll);
})();
