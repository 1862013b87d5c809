/* Number and duration formats of the dashboard (window.foresightFormat), shared by
 * static/js/dashboard*.js; extensions use window.foresight.format / formatTick.
 * Loaded with `defer` before static/js/dashboard.js.
 *
 *   format(value, unit)       human units: 1234567 "B/s" → "1.2 MB/s"
 *   formatTick(value, unit)   an axis label: 1250000 "B/s" → "1.25 MB/s"
 *   formatDuration(s)         "2 h 5 min", "3 d 4 h", "12 s"
 *   formatBytes(v)            "1.2 MB"
 */
(() => {
  "use strict";

  function formatBytes(v) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
    return `${v.toFixed(i === 0 || Math.abs(v) >= 100 ? 0 : 1)} ${units[i]}`;
  }
  function format(v, unit) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    switch (unit) {
      case "%": return `${v.toFixed(1)} %`;
      case "B/s": return `${formatBytes(v)}/s`;
      case "B": return formatBytes(v);
      case "GB": return `${v.toFixed(v >= 100 ? 0 : 1)} GB`;
      case "ms": return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 2 : 1)} ms`;
      default: return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
    }
  }
  // An axis label: three significant digits in the scaled unit, so neighbours never read
  // alike (formatBytes rounds 0.5 B/s up to "1 B/s", the label of the tick above it).
  function tickBytes(v) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
    return `${Number(v.toPrecision(3))} ${units[i]}`;
  }
  function formatTick(v, unit) {
    v = Number(v.toPrecision(6)); // 0.30000000000000004 → 0.3
    if (unit === "B/s") return `${tickBytes(v)}/s`;
    if (unit === "B") return tickBytes(v);
    if (unit === "%") return `${v}%`;
    if (unit === "ms") return `${v} ms`;
    if (unit === "GB") return `${v} GB`;
    return String(v);
  }
  function formatDuration(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return "–";
    s = Math.max(0, Math.round(s));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return `${d} d ${h} h`;
    if (h) return m ? `${h} h ${m} min` : `${h} h`;
    if (m) return sec ? `${m} min ${sec} s` : `${m} min`;
    return `${sec} s`;
  }

  window.foresightFormat = { format, formatTick, formatDuration, formatBytes };
})();
