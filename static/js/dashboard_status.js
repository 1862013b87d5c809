/* The header and the stress test of the dashboard (static/js/dashboard.js): host facts
 * and sampler health (GET /api/system/health), the age of the newest sample, the
 * "lost contact" line and the greyed tiles, the CPU stress test (POST/GET/DELETE
 * /api/stress-test) and the API token box. Loaded with `defer` after dashboard.js;
 * shares its internals through window.foresightDashboard (D).
 */
(() => {
  "use strict";

  const D = window.foresightDashboard;
  const { fs, $, T, api } = D;
  const { formatDuration, formatBytes } = window.foresightFormat;
  const TOKEN_KEY = D.TOKEN_KEY;
  let lastSampleS = null; // the newest sample's time (from the live feed or health)
  let lostSinceS = null;  // browser time the monitor stopped answering (null: in contact)

  // The live feed (dashboard.js poll) reports what it saw.
  function sawSamples(newestS) {
    if (newestS != null) lastSampleS = Math.max(lastSampleS ?? 0, newestS);
  }
  function inContact() {
    if (lostSinceS !== null) { lostSinceS = null; $("connection-error").hidden = true; }
    $("tiles").classList.remove("stale"); // back in contact: the values are live again
  }

  function showConnectionError(err) {
    if (lostSinceS === null) lostSinceS = Date.now() / 1000;
    const el = $("connection-error");
    el.textContent = `Lost contact with the monitor at ${T.time(lostSinceS)} (${err.message}); retrying…`;
    el.hidden = false;
    $("tiles").classList.add("stale"); // grey, not green: these values are no longer current
    const badge = $("health-status");
    badge.textContent = "unreachable";
    badge.className = "badge level-critical";
    showAge();
  }

  // "Last sample … ago" counts up every second from the newest sample the page has seen,
  // so it keeps ageing (and the tiles grey) when the monitor stops answering.
  function showAge() {
    const el = $("health-age");
    if (lastSampleS === null) { el.textContent = lostSinceS === null ? "none yet" : "none (monitor unreachable)"; return; }
    const age = Math.max(0, fs.nowS() - lastSampleS);
    const text = age < 10 ? `${age.toFixed(1)} s ago` : `${formatDuration(age)} ago`;
    el.textContent = lostSinceS === null ? text : `${text} (monitor unreachable)`;
    const staleAfter = Math.max(3 * fs.intervalS, 5);
    el.classList.toggle("stale", lostSinceS !== null || age > staleAfter);
    if (age > staleAfter) $("tiles").classList.add("sampler-stale");
  }
  async function ageLoop() {
    await fs.whenVisible();
    showAge();
    setTimeout(ageLoop, 1000);
  }

  // ── header: host facts + sampler health ───────────────────────────────
  const STATUS_LEVEL = { ok: "ok", healthy: "ok", running: "ok", starting: "warning",
    degraded: "warning", warning: "warning", stale: "critical", stopped: "critical",
    error: "critical", down: "critical", critical: "critical" };

  async function pollHealth() {
    try {
      const h = await api("/api/system/health");
      const host = h.host || {};
      $("host-name").textContent = host.hostname || "This host";
      document.title = `Foresight — ${host.hostname || "host"}`;
      $("host-platform").textContent = host.platform || "–";
      $("host-cpus").textContent = host.cpu_count ?? "–";
      $("host-uptime").textContent = host.boot_time ? formatDuration(fs.nowS() - host.boot_time) : "–";
      $("health-uptime").textContent = formatDuration(h.uptime_s);
      $("health-interval").textContent = `${h.interval_s ?? fs.intervalS} s`;
      if (h.last_sample_age_s != null) lastSampleS = Math.max(lastSampleS ?? 0, fs.nowS() - h.last_sample_age_s);
      showAge();
      $("health-jitter").textContent = h.jitter_ms?.p99 == null ? "–" : `${h.jitter_ms.p99.toFixed(1)} ms`;
      $("health-missed").textContent = h.ticks == null ? String(h.missed_ticks ?? "–") : `${h.missed_ticks ?? 0} of ${h.ticks}`;
      const store = h.store || {};
      $("health-store").textContent = store.size_bytes == null ? "–"
        : `${formatBytes(store.size_bytes)}${store.samples != null ? `, ${Number(store.samples).toLocaleString()} samples` : ""}`;
      if (store.ok === false) $("health-store").textContent += ` — not storing: ${store.error}`;
      const badge = $("health-status");
      const status = String(h.status || "unknown");
      badge.textContent = `sampler ${status}`;
      badge.className = `badge level-${STATUS_LEVEL[status.toLowerCase()] || "unknown"}`;
      const reasons = Array.isArray(h.reasons) && status !== "ok" ? h.reasons : [];
      $("health-reasons").textContent = reasons.length ? `Why ${status}: ${reasons.join("; ")}.` : "";
      $("health-reasons").hidden = reasons.length === 0;
      // Grey the tiles only when samples stop coming (a store fault keeps them live).
      const staleAfter = Math.max(3 * (h.interval_s ?? fs.intervalS), 5);
      const stale = status === "stopped" || h.last_sample_age_s == null ||
        h.last_sample_age_s > staleAfter;
      $("tiles").classList.toggle("sampler-stale", stale);
      if (host.cpu_count) $("stress-cores").max = String(host.cpu_count);
    } catch (err) {
      showConnectionError(err);
    }
    // Host facts and the sampler's state change slowly; the sample age and the greying
    // of the tiles come from the live feed every second (showAge), not from here.
    setTimeout(pollHealth, Math.max(10000, fs.intervalS * 10000));
  }

  // ── stress test (POST/GET/DELETE /api/stress-test) ────────────────────
  let stressTimer = null;
  function showStress(st) {
    const el = $("stress-status");
    const running = Boolean(st && st.running);
    if (running) {
      const cores = st.cores === 1 ? "1 core" : `${st.cores} cores`;
      el.textContent = `Burning ${cores}, ${Math.max(0, Math.ceil(st.remaining_s ?? 0))} s left.`;
    } else {
      el.textContent = "Idle.";
    }
    el.classList.toggle("running", running);
    $("stress-start").disabled = running;
    $("stress-cancel").disabled = !running;
    return running;
  }
  function showStressError(err) {
    const el = $("stress-error");
    if (!err) { el.hidden = true; el.textContent = ""; return; }
    let text = `${err.status ? `HTTP ${err.status}: ` : ""}${err.message}`;
    if (err.status === 401 || err.status === 403) {
      $("token-box").hidden = false;
      text += " Paste the server's FORESIGHT_TOKEN below.";
    }
    el.textContent = text;
    el.hidden = false;
  }
  async function pollStress() {
    clearTimeout(stressTimer);
    let running = false;
    try { running = showStress(await api("/api/stress-test")); } catch (_) { /* shown by health */ }
    stressTimer = setTimeout(pollStress, running ? 1000 : 15000); // idle: the form re-polls on start
  }

  function initStress() {
    $("stress-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showStressError(null);
      const body = { seconds: Number($("stress-seconds").value), cores: Number($("stress-cores").value) };
      $("stress-start").disabled = true;
      try {
        const st = await api("/api/stress-test", { method: "POST", body });
        if (st && "running" in st) showStress(st);
      } catch (err) {
        showStressError(err);
        $("stress-start").disabled = false;
      }
      pollStress();
    });
    $("stress-cancel").addEventListener("click", async () => {
      showStressError(null);
      try { await api("/api/stress-test", { method: "DELETE" }); } catch (err) { showStressError(err); }
      pollStress();
    });
    const stateText = () => {
      $("token-state").textContent = sessionStorage.getItem(TOKEN_KEY) ? "A token is set for this tab." : "No token set.";
    };
    $("token-save").addEventListener("click", () => {
      const v = $("token-input").value.trim();
      if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY);
      $("token-input").value = "";
      stateText();
    });
    stateText();
  }


  function startStatus() {
    initStress();
    pollHealth();
    pollStress();
    ageLoop();
  }

  Object.assign(D, { sawSamples, inContact, showConnectionError, startStatus });
})();
