/* Failure-risk panel (templates/partials/risk_panel.html). Plain ES2020, no build step.
 *
 * Polls GET /api/risk/status every POLL_MS: the crash-risk level, score and factors from
 * the forecasts, and, with a trained model, its failure probability, recommendations and
 * its measured PR-AUC in plain words.
 */
(() => {
  "use strict";

  const POLL_MS = 10000; // the risk score follows the forecasts (refit every few minutes)
  const $ = (id) => document.getElementById(id);
  if (!$("risk-panel")) return;
  const fs = window.foresight;
  const api = (path) => (fs && fs.api ? fs.api(path) : fetch(path).then((r) => r.json()));

  function when(epochS) {
    return window.foresightTime.when(epochS); // the one time format (static/js/timefmt.js)
  }

  function level(factor) {
    const unit = fs && fs.catalog && fs.catalog[factor.metric] ? fs.catalog[factor.metric].unit : "";
    return fs && fs.format ? fs.format(factor.critical, unit) : `${factor.critical}`;
  }

  // A model whose held-back PR-AUC is no better than the base rate's (guessing) has not
  // shown it can tell an incident minute from another: its probability is shown, but
  // never as a bare "100 % (CRITICAL)".
  function noBetterThanGuessing(model) {
    return model && model.pr_auc !== null && model.base_rate !== null &&
      model.pr_auc <= model.base_rate * 1.05;
  }

  function list(el, items, empty) {
    el.replaceChildren(...(items.length ? items : [empty]).map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      if (!items.length) li.className = "muted";
      return li;
    }));
  }

  function draw(data) {
    const crash = data.crash_risk;
    if (crash) {
      // No metric with a crash level has a forecast for the horizon yet (a fresh store):
      // nothing was checked, so the panel says that rather than a reassuring "Low".
      const checked = crash.metrics_checked || [];
      $("risk-level").textContent = checked.length ? crash.level : "not checked";
      $("risk-level").dataset.level = checked.length ? crash.level : "unknown";
      $("risk-score").textContent = checked.length ? `score ${crash.score.toFixed(2)} of 1` : "score –";
      // The level in the metric's unit ("reaching 90 %", "400 ms"): a bare 90 read as
      // anything, and the crash levels differ in unit from one factor to the next.
      list($("risk-factors"), crash.factors.map((f) =>
        `${f.metric}: ${(100 * f.probability).toFixed(0)} % chance of reaching ${level(f)}` +
        ` (possible from ${when(f.earliest_at)}` +
        (f.crossing_at ? `, expected at ${when(f.crossing_at)})` : ")")),
        checked.length ? `none (checked: ${checked.join(", ")})`
          : "none checked yet: no metric with a crash level has a forecast this far ahead yet");
    }
    if (data.model) $("risk-model").textContent = data.model.summary;
    const training = data.training;
    $("risk-training").hidden = !training || training.state === "idle";
    if (training && training.state !== "idle") {
      $("risk-training").textContent = `Training (${training.state}): ${training.message}`;
    }
    const failure = data.failure;
    if (failure) {
      $("risk-failure").textContent =
        `Failure probability ${(100 * failure.failure_probability).toFixed(0)} % ` +
        `(${failure.failure_risk})` + (noBetterThanGuessing(data.model)
          ? ": not evidence, the model did no better than guessing on held-back data" : "");
      list($("risk-recommendations"), failure.recommendations, "");
    } else if (data.model) {
      $("risk-failure").textContent =
        `This host does not report the metrics the model was trained on ` +
        `(${data.model.metrics.slice(0, 6).join(", ")}…): no failure probability here.`;
    }
  }

  async function refresh() {
    try {
      draw(await api("/api/risk/status"));
      $("risk-error").hidden = true;
    } catch (err) {
      $("risk-error").hidden = false;
      $("risk-error").textContent = `Risk unavailable: ${err.message}`;
    }
  }

  // A chain, not setInterval: fs.api parks GETs while the tab is hidden, and an interval
  // would pile up a request per period to fire all at once on return.
  const loop = () => refresh().finally(() => setTimeout(loop, POLL_MS));
  // After the charts exist: the catalog (each metric's unit) is filled by then.
  (fs && fs.ready ? fs.ready : Promise.resolve()).then(loop, loop);
})();
