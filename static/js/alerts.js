/* Alert panel (templates/partials/alerts_panel.html): polls GET /api/alerts (in full
 * once, then ?cursor=<the last answer's cursor>: only the alerts that changed, and the ids
 * of those gone; the page merges them by id into what it holds) and shows
 * active alerts first (state, severity, rule, metric, value, since, why), then the
 * resolved ones; marks the tile of each metric with an active alert (data-alert), and
 * shades each firing episode on its metric's chart: from the rule's threshold up to the
 * top of the chart, from when it fired until it resolved (datasets of role "alert", one
 * per severity; overlapping episodes shade from the lowest threshold firing then). */
(() => {
  "use strict";
  const fs = window.foresight;
  if (!fs) return;
  const $ = (id) => document.getElementById(id);
  const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
  const STATE_ORDER = { firing: 0, pending: 1 };
  // Resolved alerts shown until "Show all" is pressed: twenty rows of them pushed the
  // charts a screen down on any host that had a busy day.
  const RESOLVED_SHOWN = 5;
  let showAllResolved = false;
  let resolvedHeld = [];

  function when(ts) {
    return window.foresightTime.when(ts); // the one time format (static/js/timefmt.js)
  }

  function row(a, resolved) {
    const tr = document.createElement("tr");
    tr.className = `state-${a.state}`;
    tr.dataset.alert = a.name;
    tr.dataset.metric = a.metric;
    // The server says what the value is in (an anomaly's is a score, not the metric's ms);
    // an older server does not: then the metric's unit, as before.
    const unit = a.value_unit ?? fs.catalog[a.metric.split("@")[0]]?.unit;
    const why = a.annotations.summary || a.annotations.description || "";
    const span = resolved ? `${when(a.fired_at ?? a.since)} – ${when(a.resolved_at)}` : when(a.state === "firing" ? a.fired_at : a.since);
    const cells = [
      a.state + (a.silenced ? " (silenced)" : ""), a.severity, a.name, a.metric,
      a.value == null ? "–" : fs.format(a.value, unit), span, why,
    ];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 1) td.className = `sev-${a.severity}`;
      tr.appendChild(td);
    });
    return tr;
  }

  function fill(tableId, alerts, resolved) {
    const table = $(tableId);
    const body = table.querySelector("tbody");
    body.replaceChildren(...alerts.map((a) => row(a, resolved)));
    table.hidden = alerts.length === 0;
  }

  // The tile and chart key of an alert's series on this page, or null when the series
  // belongs to another target: an alert's metric is a series key (NAME for this host,
  // NAME@TARGET otherwise), while the page keys the target it shows by plain NAME.
  function pageKey(metric) {
    const at = metric.indexOf("@");
    const [name, target] = at < 0 ? [metric, ""] : [metric.slice(0, at), metric.slice(at + 1)];
    return target === (fs.target || "") ? name : null;
  }

  function markTiles(active) {
    const worst = {};
    for (const a of active) {
      const key = pageKey(a.metric);
      if (key !== null && (!(key in worst) || a.state === "firing")) worst[key] = a.state;
    }
    for (const tile of document.querySelectorAll("#tiles .tile")) {
      const state = worst[tile.dataset.metric];
      if (state) tile.dataset.alert = state;
      else delete tile.dataset.alert;
    }
  }

  const BAND_COLOUR = { critical: "rgba(248,81,73,.16)", warning: "rgba(210,153,34,.16)", info: "rgba(88,166,255,.12)" };

  // The shaded region of overlapping episodes, as one line sorted by time: at each
  // instant it starts at the lowest threshold of the episodes firing then (their union),
  // and breaks (y: null) where none fires. Concatenating the episodes instead sent x
  // backwards wherever two overlapped (LoadCareful and LoadHigh on load1 fire together),
  // and Chart.js, told the data is sorted (normalized: true), filled odd triangles.
  function unionBand(episodes, nowS) {
    const spans = episodes.map((a) => [a.fired_at * 1000, (a.resolved_at ?? nowS) * 1000, a.threshold])
      .filter(([start, end]) => end > start);
    const edges = [...new Set(spans.flatMap(([start, end]) => [start, end]))].sort((a, b) => a - b);
    const data = [];
    let level = null; // the threshold shaded since the last edge (null: nothing fires)
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
  function drawBands(all) {
    const byMetric = {};
    for (const a of all) {
      const key = pageKey(a.metric);
      if (a.fired_at == null || a.threshold == null || key === null || !fs.charts[key]) continue;
      (byMetric[key] ||= []).push(a);
    }
    const nowS = fs.nowS(); // an active episode ends at "now"
    for (const [metric, chart] of Object.entries(fs.charts)) {
      const episodes = byMetric[metric] || [];
      const had = chart.data.datasets.some((d) => d.foresightRole === "alert");
      if (!had && !episodes.length) continue;
      chart.data.datasets = chart.data.datasets.filter((d) => d.foresightRole !== "alert");
      for (const severity of ["info", "warning", "critical"]) {
        const mine = episodes.filter((a) => (BAND_COLOUR[a.severity] ? a.severity : "info") === severity);
        if (!mine.length) continue;
        chart.data.datasets.push({
          label: `${severity} alert`, foresightRole: "alert", alertSeverity: severity,
          data: unionBand(mine, nowS), fill: "end", pointRadius: 0, pointHitRadius: 0,
          borderWidth: 0, spanGaps: false, order: 10, backgroundColor: BAND_COLOUR[severity],
        });
      }
      fs.update(metric);
    }
  }

  const LIMIT = 100;
  const held = { byId: new Map(), cursor: null };

  // Merge an answer into what the page holds: a whole list replaces it, changes update it.
  function merge(res) {
    if (res.full) held.byId.clear();
    for (const a of res.alerts) {
      if (a.id != null) held.byId.delete(`${a.name}|${a.metric}`); // an unsaved one, now stored
      held.byId.set(a.id ?? `${a.name}|${a.metric}`, a);
    }
    for (const id of res.removed || []) held.byId.delete(id);
    held.cursor = res.cursor ?? null;
    const all = [...held.byId.values()].sort((a, b) => (b.since - a.since) || ((b.id ?? 0) - (a.id ?? 0)));
    for (const a of all.slice(LIMIT)) held.byId.delete(a.id ?? `${a.name}|${a.metric}`);
    return all.slice(0, LIMIT);
  }

  function showResolved() {
    const resolved = resolvedHeld;
    fill("alerts-resolved", showAllResolved ? resolved : resolved.slice(0, RESOLVED_SHOWN), true);
    $("alerts-resolved-heading").hidden = resolved.length === 0;
    const more = $("alerts-resolved-more");
    more.hidden = resolved.length <= RESOLVED_SHOWN;
    more.textContent = showAllResolved ? `Show the newest ${RESOLVED_SHOWN} only`
      : `Show all ${resolved.length} resolved`;
    more.setAttribute("aria-expanded", String(showAllResolved));
  }

  async function poll() {
    try {
      const q = held.cursor === null ? "" : `&cursor=${encodeURIComponent(held.cursor)}`;
      const res = await fs.api(`/api/alerts?limit=${LIMIT}${q}`);
      const all = merge(res);
      const active = all.filter((a) => a.state !== "resolved").sort((a, b) =>
        (STATE_ORDER[a.state] - STATE_ORDER[b.state]) || (SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]) || (b.since - a.since));
      const resolved = all.filter((a) => a.state === "resolved").slice(0, 20);
      fill("alerts-active", active, false);
      resolvedHeld = resolved;
      showResolved();
      $("alerts-status").textContent = active.length
        ? `${res.firing} firing, ${res.pending} pending (${res.rules} rules).`
        : `No active alerts (${res.rules} rules).`;
      if (res.rules_error) $("alerts-status").textContent += ` Rules file not reloaded: ${res.rules_error}`;
      $("alerts-error").hidden = true;
      markTiles(active);
      drawBands(all);
    } catch (err) {
      if (err.status === 503) {
        $("alerts-status").textContent = "Alerting is switched off in this monitor.";
        return; // no more polling
      }
      $("alerts-error").textContent = `Alerts unavailable: ${err.message}`;
      $("alerts-error").hidden = false;
    }
    setTimeout(poll, Math.max(5000, fs.intervalS * 5000)); // rules hold for ≥ a few ticks
  }

  $("alerts-resolved-more").addEventListener("click", () => {
    showAllResolved = !showAllResolved;
    showResolved();
  });
  fs.ready.then(poll);
})();
