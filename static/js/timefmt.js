/* One time format for every panel: the browser's locale (Intl.DateTimeFormat), with the
 * locale's own 12 h / 24 h choice applied to EVERY formatter (so no panel shows "6:02 PM"
 * next to another's "18:02"), and dates added when a time is not from today or a range
 * spans days. Loaded first in templates/base.html (no `defer` needed: it only defines).
 *
 *   foresightTime.time(epochS)           "18:02:19"       (seconds shown)
 *   foresightTime.time(epochS, false)    "18:02"
 *   foresightTime.dateTime(epochS)       "Dec 1, 18:02:19"
 *   foresightTime.when(epochS)           time() if today, else dateTime()
 *   foresightTime.tick(epochMs, spanS, index, ticks)   an axis label: "18:02",
 *                                        "Dec 1 18:00", "Dec 1" (Chart.js callback args)
 *   foresightTime.hour12                 true when the locale uses a 12-hour clock
 * Timestamps are epoch seconds (UTC) unless the name says ms; display is local time.
 */
(() => {
  "use strict";

  const DAY_S = 86400;
  // The locale's clock, resolved once and then forced on every formatter.
  const probe = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions();
  const hour12 = probe.hourCycle ? probe.hourCycle.startsWith("h1") : Boolean(probe.hour12);
  const clock = { hourCycle: hour12 ? "h12" : "h23" };
  const make = (opts) => new Intl.DateTimeFormat(undefined, { ...clock, ...opts });
  const F = {
    hms: make({ hour: "numeric", minute: "2-digit", second: "2-digit" }),
    hm: make({ hour: "numeric", minute: "2-digit" }),
    dhms: make({ month: "short", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit" }),
    dhm: make({ month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }),
    d: make({ month: "short", day: "numeric" }),
    ydhm: make({ year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }),
  };
  const dayKey = (ms) => { const d = new Date(ms); return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`; };
  const valid = (s) => s !== null && s !== undefined && Number.isFinite(Number(s));

  function time(epochS, seconds = true) {
    if (!valid(epochS)) return "–";
    return (seconds ? F.hms : F.hm).format(new Date(epochS * 1000));
  }
  function dateTime(epochS, seconds = true) {
    if (!valid(epochS)) return "–";
    const ms = epochS * 1000;
    if (new Date(ms).getFullYear() !== new Date().getFullYear()) return F.ydhm.format(new Date(ms));
    return (seconds ? F.dhms : F.dhm).format(new Date(ms));
  }
  function when(epochS, seconds = true) {
    if (!valid(epochS)) return "–";
    return dayKey(epochS * 1000) === dayKey(Date.now()) ? time(epochS, seconds) : dateTime(epochS, seconds);
  }
  // Axis labels: seconds only when ticks are under a minute apart; on ranges over 6 h, a date
  // on the first tick and on every tick of a later day (so a range that is not today always
  // names its day; Chart.js labels every tick before its auto-skip hides some, so "the day
  // changed since the tick before" lost the date whenever the midnight tick was the one
  // hidden: "Nov 30, 6:00 PM | 6:00 AM"); over 2 days, dates at midnight and on every other
  // tick. ``index`` and ``ticks`` are Chart.js's tick callback arguments.
  function tick(epochMs, spanS, index = 0, ticks = null) {
    const d = new Date(epochMs);
    const midnight = d.getHours() === 0 && d.getMinutes() === 0;
    if (spanS > 2 * DAY_S) return midnight ? F.d.format(d) : F.dhm.format(d);
    if (spanS > 6 * 3600) {
      const first = ticks && ticks.length && index > 0 ? ticks[0].value : null;
      return first === null || dayKey(first) !== dayKey(epochMs) ? F.dhm.format(d) : F.hm.format(d);
    }
    return underAMinute(epochMs, ticks) ? F.hms.format(d) : F.hm.format(d);
  }
  // Seconds on a label only where they say something: ticks under a minute apart, or (no
  // tick list) a tick off the whole minute. A 5-minute view's ticks are whole minutes,
  // which "8:04:00 PM" only made longer (and the capacity and device charts, whose span
  // is just under 6 min, showed them while the History charts beside them did not).
  function underAMinute(epochMs, ticks) {
    if (ticks && ticks.length > 1) return Math.abs(ticks[1].value - ticks[0].value) < 60000;
    return new Date(epochMs).getSeconds() !== 0;
  }
  // The tooltip/crosshair title: the date only when the range spans days.
  function hover(epochMs, spanS) {
    return spanS > 6 * 3600 ? dateTime(epochMs / 1000) : time(epochMs / 1000);
  }

  window.foresightTime = { time, dateTime, when, tick, hover, hour12 };
})();
