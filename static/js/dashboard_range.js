/* The time range of the dashboard (static/js/dashboard.js): the preset buttons, the
 * from/to form, drag-zoom and pan (a "custom" range), the URL (?range=, ?from=&to=),
 * GET /api/metrics for the range and its periodic extension, and the range line.
 * Loaded with `defer` after dashboard.js; shares its internals through
 * window.foresightDashboard (D).
 */
(() => {
  "use strict";

  const D = window.foresightDashboard;
  const { fs, $, T, C, series, RANGE_S, api, runHooks } = D;
  const { formatDuration } = window.foresightFormat;
  const RANGE_LIMIT = { "5m": 300, "1h": 360, "24h": 480, "7d": 504 }; // points per metric
  const RANGE_REFRESH_S = { "1h": 15, "24h": 60, "7d": 300 };
  const RANGE_LABEL = { "5m": "5 minutes", "1h": "hour", "24h": "24 hours", "7d": "7 days" };
  const CUSTOM_MAX_POINTS = 1000; // a zoomed range: raw samples up to this many
  const MIN_ZOOM_S = 10;
  let rangeSeq = 0; // ignores responses of a range the user has already left
  let refreshTimer = null;

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
      D.showTargets(res.targets);
      D.ensureSeries(res.metrics);
      const expectedS = res.step_s || fs.intervalS;
      let points = 0;
      for (const [name, m] of Object.entries(res.metrics)) {
        if (!series[name]) continue; // claimed by an extension's panel
        const ds = series[name].dataset;
        ds.data = C.withGaps(m.points, expectedS);
        points = Math.max(points, m.points ? m.points.length : 0);
        if (m.current) D.setTile(name, m.current.value, m.current.level, m.unit);
      }
      fs.range = { key: spec.key, live, sinceS: res.since, untilS: res.until, stepS: res.step_s ?? null,
        base: spec.base || spec.key, axisSinceS };
      fillCustomInputs();
      D.applyWindow();
      D.markEmpty();
      fs.update();
      $("range-status").textContent = describe(spec, res, points);
      D.resolveReady(fs);
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
      D.ensureSeries(res.metrics);
      const minMs = (res.until - RANGE_S[spec.key]) * 1000;
      let points = 0;
      for (const [name, m] of Object.entries(res.metrics)) {
        const data = series[name].dataset.data;
        for (const [t, v] of m.points || []) C.appendPoint(data, t * 1000, v, stepS);
        D.dropBefore(data, minMs);
        points = Math.max(points, data.filter((p) => p.y !== null).length);
        if (m.current) D.setTile(name, m.current.value, m.current.level, m.unit);
      }
      fs.range = { ...r, sinceS: res.until - RANGE_S[spec.key], untilS: res.until };
      D.applyWindow();
      D.markEmpty();
      $("range-status").textContent = describe(spec, { ...res, since: fs.range.sinceS, step_s: r.stepS }, points);
      runHooks(fs.onTick, { samples: [], current: {}, cursor: D.cursor(), serverTimeS: res.until, live: false });
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


  Object.assign(D, { initRange, rangeFromUrl, markButtons, loadRange });
})();
