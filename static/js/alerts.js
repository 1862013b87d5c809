/* Alert panel (templates/partials/alerts_panel.html): polls GET /api/alerts (in full
 * once, then ?cursor=<the last answer's cursor>: only the alerts that changed, and the ids
 * of those gone; the page merges them by id into what it holds) and shows
 * active alerts first (state, severity, rule, metric, value, since, why), then the
 * newest resolved ones; "Show all" pages through the stored resolved history
 * (GET /api/alerts?state=resolved&limit=26&before=<the last id of the page before>,
 * newest first). Marks the tile of each metric
 * with an active alert (data-alert); static/js/alert_bands.js shades the episodes on
 * the charts. Times in the annotations (the API's ISO 8601 UTC, e.g. a forecast
 * crossing's "at {when}") are shown in the page's local time, like every other time.
 */
(() => {
  "use strict";
  const fs = window.foresight;
  if (!fs) return;
  const $ = (id) => document.getElementById(id);
  const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
  const STATE_ORDER = { firing: 0, pending: 1 };
  // Resolved alerts shown until "Show all" is pressed: twenty rows of them pushed the
  // charts a screen down on any host that had a busy day. "Show all" pages through the
  // stored history PAGE rows at a time, as far back as it goes.
  const RESOLVED_SHOWN = 5;
  const PAGE = 25;
  let showAllResolved = false;
  let resolvedHeld = [];
  let heldAll = false; // the poll's answer held every stored alert
  const history = { page: 0, starts: [null], alerts: [], complete: false, error: null };

  function when(ts) {
    return window.foresightTime.when(ts); // the one time format (static/js/timefmt.js)
  }
  // An ISO 8601 UTC instant in an annotation ("at 2026-12-02T01:23:45Z") in local time.
  const ISO_UTC = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z\b/g;
  function localTimes(text) {
    return text.replace(ISO_UTC, (iso) => {
      const ms = Date.parse(iso);
      return Number.isFinite(ms) ? when(ms / 1000) : iso;
    });
  }

  function row(a, resolved) {
    const tr = document.createElement("tr");
    tr.className = `state-${a.state}`;
    tr.dataset.alert = a.name;
    tr.dataset.metric = a.metric;
    // The server says what the value is in (an anomaly's is a score, not the metric's ms);
    // an older server does not: then the metric's unit, as before.
    const unit = a.value_unit ?? fs.catalog[a.metric.split("@")[0]]?.unit;
    const raw = a.annotations.summary || a.annotations.description || "";
    const why = localTimes(raw);
    const span = resolved ? `${when(a.fired_at ?? a.since)} – ${when(a.resolved_at)}` : when(a.state === "firing" ? a.fired_at : a.since);
    const cells = [
      a.state + (a.silenced ? " (silenced)" : ""), a.severity, a.name, a.metric,
      a.value == null ? "–" : fs.format(a.value, unit), span, why,
    ];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 1) td.className = `sev-${a.severity}`;
      if (i === 6 && why !== raw) td.title = raw; // the API's own text, UTC
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

  const pageKey = (metric) => window.foresightAlertBands.pageKey(metric);

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

  const LIMIT = 100;
  const held = { byId: new Map(), cursor: null };

  // Merge an answer into what the page holds: a whole list replaces it, changes update it.
  function merge(res) {
    if (res.full) { held.byId.clear(); heldAll = res.alerts.length < LIMIT; }
    for (const a of res.alerts) {
      if (a.id != null) held.byId.delete(`${a.name}|${a.metric}`); // an unsaved one, now stored
      held.byId.set(a.id ?? `${a.name}|${a.metric}`, a);
    }
    for (const id of res.removed || []) held.byId.delete(id);
    held.cursor = res.cursor ?? null;
    const all = [...held.byId.values()].sort((a, b) => (b.since - a.since) || ((b.id ?? 0) - (a.id ?? 0)));
    for (const a of all.slice(LIMIT)) held.byId.delete(a.id ?? `${a.name}|${a.metric}`);
    if (all.length > LIMIT) heldAll = false; // the oldest were let go
    return all.slice(0, LIMIT);
  }

  // The newest RESOLVED_SHOWN from the poll, or (after "Show all") one page of the
  // stored history: PAGE + 1 rows after the last row of the page before (`before`, keyset
  // paging: no cap on how far back, and a page does not shift as new alerts resolve), the
  // extra row saying whether "Older" has more. history.starts[k]: page k's `before` id.
  async function loadHistory() {
    const before = history.starts[history.page];
    const q = before === null ? "" : `&before=${before}`;
    try {
      const res = await fs.api(`/api/alerts?state=resolved&limit=${PAGE + 1}${q}`);
      history.alerts = res.alerts.slice(0, PAGE);
      history.complete = res.alerts.length <= PAGE;
      history.error = null;
      if (!history.complete) history.starts[history.page + 1] = history.alerts[PAGE - 1].id;
    } catch (err) {
      history.error = err.message;
      if (err.status === 400 && history.page > 0) { // that row is gone (retention): start over
        Object.assign(history, { page: 0, starts: [null] });
        return loadHistory();
      }
    }
  }

  function showResolved() {
    const resolved = resolvedHeld;
    const more = $("alerts-resolved-more");
    const pager = $("alerts-resolved-pager");
    $("alerts-resolved-heading").hidden = resolved.length === 0;
    more.hidden = resolved.length <= RESOLVED_SHOWN && !showAllResolved;
    more.setAttribute("aria-expanded", String(showAllResolved));
    pager.hidden = !showAllResolved;
    if (!showAllResolved) {
      fill("alerts-resolved", resolved.slice(0, RESOLVED_SHOWN), true);
      // The count when the poll holds the whole history (fewer than it asks for).
      more.textContent = heldAll ? `Show all ${resolved.length} resolved` : "Show all resolved";
      return;
    }
    const first = history.page * PAGE;
    const rows = history.alerts.slice(0, PAGE);
    fill("alerts-resolved", rows, true);
    more.textContent = `Show the newest ${RESOLVED_SHOWN} only`;
    const total = history.complete ? String(first + rows.length) : "many";
    $("alerts-resolved-range").textContent = history.error ? `History unavailable: ${history.error}`
      : rows.length ? `${first + 1}–${first + rows.length} of ${total}, newest first` : "None stored.";
    $("alerts-resolved-newer").disabled = history.page === 0;
    $("alerts-resolved-older").disabled = history.complete;
  }

  async function poll() {
    try {
      const q = held.cursor === null ? "" : `&cursor=${encodeURIComponent(held.cursor)}`;
      const res = await fs.api(`/api/alerts?limit=${LIMIT}${q}`);
      const all = merge(res);
      const active = all.filter((a) => a.state !== "resolved").sort((a, b) =>
        (STATE_ORDER[a.state] - STATE_ORDER[b.state]) || (SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]) || (b.since - a.since));
      const resolved = all.filter((a) => a.state === "resolved");
      fill("alerts-active", active, false);
      resolvedHeld = resolved;
      if (showAllResolved) await loadHistory(); // a newly resolved one comes first
      showResolved();
      const rules = res.rules === 1 ? "1 rule" : `${res.rules} rules`;
      $("alerts-status").textContent = active.length
        ? `${res.firing} firing, ${res.pending} pending (${rules}).`
        : `No active alerts (${rules}).`;
      if (res.rules_error) $("alerts-status").textContent += ` Rules file not reloaded: ${res.rules_error}`;
      $("alerts-error").hidden = true;
      markTiles(active);
      window.foresightAlertBands.draw(all);
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

  async function turn(page) {
    history.page = Math.max(0, page);
    await loadHistory();
    showResolved();
  }
  $("alerts-resolved-more").addEventListener("click", () => {
    showAllResolved = !showAllResolved;
    if (!showAllResolved) { showResolved(); return; }
    // At once from what the poll holds, then from the stored history.
    Object.assign(history, {
      page: 0, starts: [null], alerts: resolvedHeld.slice(0, PAGE),
      complete: heldAll && resolvedHeld.length <= PAGE, error: null,
    });
    showResolved();
    turn(0);
  });
  $("alerts-resolved-newer").addEventListener("click", () => turn(history.page - 1));
  $("alerts-resolved-older").addEventListener("click", () => turn(history.page + 1));
  fs.ready.then(poll);
})();
