/* Alert panel (templates/partials/alerts_panel.html): polls GET /api/alerts and shows
 * active alerts first (state, severity, rule, metric, value, since, why), then the
 * resolved ones; marks the tile of each metric with an active alert (data-alert). */
(() => {
  "use strict";
  const fs = window.foresight;
  if (!fs) return;
  const $ = (id) => document.getElementById(id);
  const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
  const STATE_ORDER = { firing: 0, pending: 1 };

  function when(ts) {
    return ts == null ? "–" : new Date(ts * 1000).toLocaleTimeString();
  }

  function row(a, resolved) {
    const tr = document.createElement("tr");
    tr.className = `state-${a.state}`;
    tr.dataset.alert = a.name;
    tr.dataset.metric = a.metric;
    const unit = fs.catalog[a.metric]?.unit;
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

  function markTiles(active) {
    const worst = {};
    for (const a of active) {
      if (!(a.metric in worst) || a.state === "firing") worst[a.metric] = a.state;
    }
    for (const tile of document.querySelectorAll("#tiles .tile")) {
      const state = worst[tile.dataset.metric];
      if (state) tile.dataset.alert = state;
      else delete tile.dataset.alert;
    }
  }

  async function poll() {
    try {
      const res = await fs.api("/api/alerts?limit=100");
      const active = res.alerts.filter((a) => a.state !== "resolved").sort((a, b) =>
        (STATE_ORDER[a.state] - STATE_ORDER[b.state]) || (SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]) || (b.since - a.since));
      const resolved = res.alerts.filter((a) => a.state === "resolved").slice(0, 20);
      fill("alerts-active", active, false);
      fill("alerts-resolved", resolved, true);
      $("alerts-resolved-heading").hidden = resolved.length === 0;
      $("alerts-status").textContent = active.length
        ? `${res.firing} firing, ${res.pending} pending (${res.rules} rules).`
        : `No active alerts (${res.rules} rules).`;
      if (res.rules_error) $("alerts-status").textContent += ` Rules file not reloaded: ${res.rules_error}`;
      $("alerts-error").hidden = true;
      markTiles(active);
    } catch (err) {
      if (err.status === 503) {
        $("alerts-status").textContent = "Alerting is switched off in this monitor.";
        return; // no more polling
      }
      $("alerts-error").textContent = `Alerts unavailable: ${err.message}`;
      $("alerts-error").hidden = false;
    }
    setTimeout(poll, Math.max(2000, fs.intervalS * 2000));
  }

  fs.ready.then(poll);
})();
