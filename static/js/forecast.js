/* Forecasts and anomalies on the dashboard's charts (templates/index.html). Plain ES2020.
 *
 * Uses the window.foresight hook API of static/js/dashboard.js. For every metric chart it
 * fetches GET /api/predictions?hours=N (N follows the selected range) and draws, right of
 * a "now" divider, the forecast mean as a dashed line inside its 80 % and 95 % interval
 * bands; anomalies the live detector flagged are red points on the drawn line, at the bucket's
 * value (the 1 h / 24 h / 7 d views draw bucket means). Under each
 * chart a note names the served model in plain words and its accuracy against the
 * baselines on validation data ("repeating the last value: nothing else beat it yet; 79 %
 * of actuals inside the 80 % band"). The forecast line starts at the newest sample and is
 * cut at "now" (again on every tick), so it never lies over the actuals. Until
 * any model has enough history the note says so and nothing is drawn: no guesses.
 * Every range view draws the forecast of its own model tier (live_models.ALL_TIERS): the
 * live 5-minute view the next 90 s (10-s steps), 1 h the next 30 min (1-min steps), 24 h
 * the next 6 h (15-min steps), 7 d the next 2 days (hourly steps). Each view's time axis
 * runs that far past "now" (foresight.setFutureS), so its history part keeps its span.
 * Unticking "Show forecasts" (remembered in localStorage) hides them and gives the axis
 * back to history. Forecasts refresh every 15 s live, 60 s otherwise (the server refits
 * on its own).
 */
(() => {
  "use strict";

  const fs = window.foresight;
  if (!fs) return;
  const SHOW_KEY = "foresight.showForecasts"; // "0" = hidden; shown by default
  // Range → [seconds of future shown right of "now", the horizon asked of the API]. The
  // horizon picks the tier (api_predictions: the shortest tier covering it): minutes=5 →
  // 5m, hours=1 → 1h, hours=6 → 24h, hours=48 → 7d. The room is about a fifth to a third
  // of the axis, so most of each view's width stays history.
  const FUTURE = { "5m": [90, "minutes=5"], "1h": [1800, "hours=1"],
    "24h": [6 * 3600, "hours=6"], "7d": [2 * 86400, "hours=48"] };
  const ROLES = new Set(["forecast", "forecast-band", "now", "anomaly"]);
  const BAND_95 = "rgba(255, 166, 87, 0.12)";
  const BAND_80 = "rgba(255, 166, 87, 0.28)";
  const LINE = "#ffa657";
  const ANOMALY = "#f85149";
  let last = null;     // the last /api/predictions response
  let seq = 0;
  const $ = (id) => document.getElementById(id);

  const shown = () => localStorage.getItem(SHOW_KEY) !== "0";
  // [future seconds, API query]; no future room while forecasts are hidden.
  const futureOf = (range) => {
    const [futureS, query] = FUTURE[range.key] || FUTURE["5m"];
    return [shown() ? futureS : 0, query];
  };

  function clearOurs(chart) {
    chart.data.datasets = chart.data.datasets.filter((d) => !ROLES.has(d.foresightRole));
  }

  function yTop(chart, extra) {
    let top = 0;
    for (const ds of chart.data.datasets) {
      if (ds.foresightRole !== "series") continue;
      for (const p of ds.data) if (p.y > top) top = p.y;
    }
    for (const v of extra) if (v > top) top = v;
    return chart.options.scales.y.max === 100 ? 100 : top * 1.05 || 1;
  }

  function band(label, lower, upper, colour) {
    // Two datasets: the lower edge (invisible), then the upper edge filled down to it.
    return [
      { label: `${label} lower`, foresightRole: "forecast-band", data: lower, borderWidth: 0,
        pointRadius: 0, pointHitRadius: 0, fill: false, order: 5 },
      { label: `${label} upper`, foresightRole: "forecast-band", data: upper, borderWidth: 0, pointRadius: 0,
        pointHitRadius: 0, backgroundColor: colour, fill: "-1", order: 5 },
    ];
  }

  // The part of a forecast line at or after nowMs (points sorted by x): a forecast is
  // fetched every 15 s (60 s on long ranges) and anchored at the newest sample of its job,
  // so by the time it is drawn, and more with every tick after, its start lies left of the
  // "now" divider, over the actuals. The line is cut at now, interpolated there.
  function fromNow(points, nowMs) {
    const i = points.findIndex((p) => p.x >= nowMs);
    if (i <= 0) return i < 0 ? [] : points;
    const a = points[i - 1], b = points[i];
    const y = a.y === null || b.y === null ? null : a.y + ((b.y - a.y) * (nowMs - a.x)) / (b.x - a.x);
    return [{ x: nowMs, y }, ...points.slice(i)];
  }

  function drawMetric(name, model, anomalies, horizonEndMs) {
    const chart = fs.charts[name];
    if (!chart) return; // per-core metrics share one chart: no forecast drawn there
    clearOurs(chart);
    const nowMs = fs.nowS() * 1000;
    const extra = [];
    if (fs.range.key === "custom") {
      // A zoomed or typed-in range has no room right of "now" (dashboard.js applyWindow):
      // no forecast is drawn, so the note must not describe one.
      fs.setNote(name, "No forecast on a custom range: forecasts are drawn on the " +
        "5 min, 1 h, 24 h and 7 d ranges only.");
    } else if (model && model.status === "ok" && model.forecast && horizonEndMs > nowMs) {
      const f = model.forecast;
      const raw = (arr) => f.timestamps.map((t, i) => ({ x: t * 1000, y: arr[i] }))
        .filter((p) => p.x <= horizonEndMs);
      const pts = (arr) => fromNow(raw(arr), nowMs);
      const mean = raw(f.mean);
      // Start the line at the newest sample (the server re-anchors every job), so it
      // starts from the last value, then cut it at "now".
      if (f.anchor_timestamp != null && f.anchor_value != null && mean.length &&
          f.anchor_timestamp * 1000 < mean[0].x) {
        mean.unshift({ x: f.anchor_timestamp * 1000, y: f.anchor_value });
      }
      extra.push(...pts(f.upper_95).map((p) => p.y));
      chart.data.datasets.push(
        ...band("95 % band", pts(f.lower_95), pts(f.upper_95), BAND_95),
        ...band("80 % band", pts(f.lower_80), pts(f.upper_80), BAND_80),
        { label: "forecast", foresightRole: "forecast", data: fromNow(mean, nowMs), borderColor: LINE,
          borderDash: [5, 4], borderWidth: 1.6, pointRadius: 0, fill: false, order: 1 });
      const acc = model.accuracy;
      fs.setNote(name, acc ? `Forecast (${stepWords(model.step_s)}): ${acc.summary}.`
        : "Forecast drawn; its accuracy is measured at the next refit.");
    } else if (model && model.status === "ok" && model.accuracy) {
      fs.setNote(name, `Forecast hidden (tick “Show forecasts” to draw it); its model: ` +
        `${model.accuracy.summary}.`);
    } else {
      const why = model && model.message ? model.message : "no model yet";
      fs.setNote(name, `No forecast yet: ${why}.`);
    }
    const marks = anomalies.filter((a) => a.metric === name)
      .map((a) => drawnPoint(chart, a))
      .filter((p) => p !== null)
      .sort((a, b) => a.x - b.x);
    if (marks.length) {
      chart.data.datasets.push({
        label: "anomaly", foresightRole: "anomaly", data: marks, showLine: false,
        pointRadius: 4, pointHoverRadius: 6, pointBackgroundColor: ANOMALY,
        borderColor: ANOMALY, order: 0 });
    }
    addNow(chart, nowMs, yTop(chart, extra));
    fs.update(name);
  }

  function addNow(chart, nowMs, top) {
    chart.data.datasets.push({
      label: "now", foresightRole: "now", data: [{ x: nowMs, y: 0 }, { x: nowMs, y: top }],
      borderColor: "#8b949e", borderDash: [2, 3], borderWidth: 1, pointRadius: 0,
      pointHitRadius: 0, fill: false, order: 2 });
  }

  // A chart of several series (per-core CPU) has no forecast of its own, but its axis
  // runs past now like the others: without the divider and a word, its lines seemed to
  // stop short of the right edge for no reason.
  function markNoForecast(name) {
    const chart = fs.charts[name];
    clearOurs(chart);
    if (fs.range.key === "custom") {
      fs.setNote(name, "");
    } else {
      addNow(chart, fs.nowS() * 1000, yTop(chart, []));
      const what = name === "cpu_cores" ? "No forecast per core (the CPU chart forecasts the total)"
        : "No forecast for this chart";
      fs.setNote(name, shown() ? `${what}; its time axis runs past now like the others.` : "");
    }
    fs.update(name);
  }

  // The drawn series point whose bucket holds the anomaly (the nearest one at or before
  // it, else the first after it); null when the chart shows nothing near that time.
  function drawnPoint(chart, anomaly) {
    const series = chart.data.datasets.find((d) => d.foresightRole === "series");
    const pts = series ? series.data : [];
    if (!pts.length) return null;
    const x = anomaly.timestamp * 1000;
    let lo = 0;
    let hi = pts.length - 1;
    while (lo < hi) { // the last point with p.x <= x
      const mid = (lo + hi + 1) >> 1;
      if (pts[mid].x <= x) lo = mid; else hi = mid - 1;
    }
    const p = pts[lo].x <= x ? pts[lo] : pts[0];
    const gap = pts.length > 1 ? Math.abs(pts[1].x - pts[0].x) * 2 : 60000;
    if (Math.abs(p.x - x) > gap) return null;
    return { x: p.x, y: p.y, score: anomaly.score, value: anomaly.value };
  }

  function stepWords(stepS) {
    if (stepS >= 3600) return `${stepS / 3600}-hour steps`;
    if (stepS < 60) return `${stepS}-second steps`;
    return `${stepS / 60}-minute steps`;
  }

  function draw(data) {
    const [futureS] = futureOf(fs.range);
    const horizonEndMs = (fs.nowS() + futureS) * 1000;
    const anomalies = data.anomalies || [];
    for (const name of Object.keys(fs.charts)) {
      // Charts that are not one metric (per-core CPU) get no forecast: a divider and a note.
      if (name in data.forecasts) drawMetric(name, data.forecasts[name], anomalies, horizonEndMs);
      else markNoForecast(name);
    }
    summarise(data);
  }

  function summarise(data) {
    const status = $("forecast-status");
    if (!status) return;
    const models = Object.values(data.forecasts);
    const ready = models.filter((m) => m.status === "ok").length;
    const hourAgo = data.generated_at - 3600;
    const recent = (data.anomalies || []).filter((a) => a.timestamp >= hourAgo);
    // What the charts draw (FUTURE), not the horizon asked of the API (which only picks
    // the model tier): the live view asks for 5 min and draws the next 90 s.
    let drawn;
    if (fs.range.key === "custom") drawn = "none drawn on a custom range";
    else if (!shown()) drawn = "forecasts hidden";
    else if (!ready) drawn = "none drawn yet";
    else drawn = `drawn ${durationWords(futureOf(fs.range)[0])} ahead at ${stepWords(data.step_s)}`;
    status.textContent = `${ready} of ${models.length} metrics have a forecast model (${drawn}); ` +
      `models refit every ${Math.round(data.refit_every_s / 60)} ` +
      `min; ${recent.length} anomal${recent.length === 1 ? "y" : "ies"} in the last hour.`;
    const list = $("anomaly-list");
    if (!list) return;
    list.replaceChildren(...(data.anomalies || []).slice(0, 8).map((a) => {
      const li = document.createElement("li");
      const unit = (fs.catalog[a.metric] || {}).unit || "";
      li.textContent = `${window.foresightTime.when(a.timestamp)} ` +
        `${a.metric} = ${fs.format(a.value, unit)} (score ${a.score.toFixed(2)})`;
      return li;
    }));
    const none = $("anomaly-none");
    if (none) none.hidden = (data.anomalies || []).length > 0;
  }

  function durationWords(seconds) {
    if (seconds <= 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    if (seconds >= 172800 && seconds % 86400 === 0) return `${seconds / 86400} days`;
    return `${Number((seconds / 3600).toFixed(1))} h`;
  }

  // Episodes (GET /api/anomalies): consecutive anomalous points across metrics, newest first.
  function listEpisodes(body) {
    const list = $("episode-list");
    if (!list) return;
    const episodes = body.episodes || [];
    list.replaceChildren(...episodes.slice(0, 10).map((e) => {
      const li = document.createElement("li");
      li.className = "episode";
      const peak = (e.details || []).map((d) => {
        const unit = (fs.catalog[d.metric] || {}).unit || "";
        const expected = d.expected === null ? "" : ` vs ${fs.format(d.expected, unit)} expected`;
        return `${d.metric} ${fs.format(d.value, unit)}${expected}`;
      }).join("; ");
      li.textContent = `${window.foresightTime.dateTime(e.start)} · ` +
        `${durationWords(e.duration_s)}${e.closed ? "" : " (ongoing)"} · ` +
        `${e.metrics.join(", ")} · peak ${e.peak_score.toFixed(2)} — ${peak}`;
      return li;
    }));
    const none = $("episode-none");
    if (none) none.hidden = episodes.length > 0;
  }

  async function refreshEpisodes() {
    try {
      listEpisodes(await fs.api("/api/anomalies?since=-86400&limit=20"));
    } catch (err) {
      const el = $("forecast-error");
      if (el) { el.hidden = false; el.textContent = `Episodes unavailable: ${err.message}`; }
    }
  }

  async function refresh() {
    refreshEpisodes();
    const mine = ++seq;
    const [, query] = futureOf(fs.range);
    try {
      const data = await fs.api(`/api/predictions?${query}`);
      if (mine !== seq) return; // the range changed while we waited
      last = data;
      draw(data);
      const err = $("forecast-error");
      if (err) err.hidden = true;
    } catch (err) {
      const el = $("forecast-error");
      if (el) { el.hidden = false; el.textContent = `Forecasts unavailable: ${err.message}`; }
    }
  }

  // Every tick: the divider moves to now, and the forecast lines and bands are cut there.
  // No redraw here: the dashboard redraws every chart right after its onTick hooks (a
  // second update per chart per tick doubled the drawing of every live second).
  function moveNow() {
    const nowMs = fs.nowS() * 1000;
    for (const chart of Object.values(fs.charts)) {
      const divider = chart.data.datasets.find((d) => d.foresightRole === "now");
      if (!divider) continue;
      divider.data[0].x = nowMs;
      divider.data[1].x = nowMs;
      for (const ds of chart.data.datasets) {
        if (ds.foresightRole === "forecast" || ds.foresightRole === "forecast-band") ds.data = fromNow(ds.data, nowMs);
      }
    }
  }

  function applyRange() {
    fs.setFutureS(futureOf(fs.range)[0]);
    if (last) draw(last); // datasets of the new range, then fresh numbers
    refresh();
  }

  function schedule() {
    setTimeout(() => { refresh().finally(schedule); }, fs.range.live ? 15000 : 60000);
  }

  fs.drawnPoint = drawnPoint; // where an anomaly's mark goes (tests check it)

  fs.ready.then(() => {
    const box = $("forecast-show");
    if (box) {
      box.checked = shown();
      box.addEventListener("change", () => {
        localStorage.setItem(SHOW_KEY, box.checked ? "1" : "0");
        applyRange();
      });
    }
    fs.setFutureS(futureOf(fs.range)[0]);
    fs.onRangeChange.push(applyRange);
    fs.onTick.push(moveNow); // live ticks, and a long range's refresh
    refresh();
    schedule();
  });
})();
