"""The alert lifecycle: inactive → pending → firing → resolved, kept in the store.

``AlertEngine.evaluate(signals)`` runs every rule against one set of signals (the live
wiring calls it in the sampling cycle, off the request path):

* a breach with no active alert opens an episode: ``pending`` (``firing`` at once when
  the rule's ``for`` is 0);
* a pending alert whose condition has held for ``for`` seconds turns ``firing``;
* an active alert whose value is back past the rule's ``clear`` level (hysteresis)
  resolves; a pending one that clears is forgotten, as Prometheus does.

Every new episode and change of state is written to the ``alert`` table at once (one
transaction per evaluation), an active alert's latest value once per
``SAVE_EVERY_S`` window, so the history and the active alerts survive a restart. Firing and
resolved alerts are handed to the ``Notifier`` unless a silence matches; firing ones are
re-sent every ``resend_s`` so Alertmanager keeps them (each carries ``endsAt`` = now +
4 × ``resend_s``).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable
from typing import Any

from foresight.alerts.annotations import Rendered
from foresight.alerts.changes import ChangeLog
from foresight.alerts.conditions import Observation, Signals, observe
from foresight.alerts.notify import Notifier, Outgoing
from foresight.alerts.rules import Kind, Rule, RuleBook
from foresight.store.alert_log import ACTIVE_STATES, AlertLog, AlertRecord, Silence

logger = logging.getLogger(__name__)

RESEND_S = 60.0
SAVE_EVERY_S = 10.0  # an active alert's latest value reaches the store at least this often


class AlertEngine:
    """Evaluate rules, keep the episodes, notify; thread-safe."""

    def __init__(
        self,
        rules: RuleBook,
        log: AlertLog,
        notifier: Notifier | None = None,
        *,
        resend_s: float = RESEND_S,
        reuse: bool = True,
    ) -> None:
        self.rules = rules
        self.log = log
        self.notifier = notifier
        self.resend_s = resend_s
        self.evaluations = 0
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], AlertRecord] = {r.key: r for r in log.active()}
        self._notified_at: dict[tuple[str, str], float] = {}
        self._saved_at: dict[tuple[str, str], float] = {}
        self._silences: list[Silence] = log.silences()
        # reuse=False: every annotation rendered afresh (the tests' full evaluation)
        self._rendered = Rendered(reuse)
        self.changes = ChangeLog()

    # -- evaluation -------------------------------------------------------------------
    def evaluate(
        self,
        signals: Signals,
        kinds: Iterable[Kind] | None = None,
        scope: Callable[[str], bool] | None = None,
    ) -> list[AlertRecord]:
        """Run the rules (only those of ``kinds`` when given); return the changed episodes.

        ``scope`` (when given) says which active alerts' metrics this evaluation may
        observe: an active alert whose series is not in ``signals.values`` resolves, so
        the cycle leaves pushed series' alerts to the pushed samples' own evaluation.
        """
        wanted = None if kinds is None else set(kinds)
        with self._lock:
            if wanted is None:
                self.rules.refresh()
            rules = [r for r in self.rules.rules if wanted is None or r.kind in wanted]
            changed: list[AlertRecord] = []
            dropped: list[AlertRecord] = []
            by_rule: dict[str, list[str]] = {}  # the active alerts' metrics, per rule
            for name, m in self._active:
                if scope is None or scope(m):
                    by_rule.setdefault(name, []).append(m)
            metrics = tuple(signals.values)
            for rule in rules:
                for ob in observe(rule, signals, by_rule.get(rule.name, ()), metrics):
                    self._step(rule, ob, signals, changed, dropped)
            if wanted is None:  # rules removed by a reload: their alerts resolve
                names = {r.name for r in self.rules.rules}
                for record in list(self._active.values()):
                    if record.rule not in names:
                        if record.state == "pending":
                            dropped.append(record)
                        else:
                            changed.append(
                                record.with_(
                                    state="resolved",
                                    resolved_at=signals.now,
                                    updated_at=signals.now,
                                )
                            )
            saved = self._persist(changed, signals.now)
            self.log.delete(r.id for r in dropped if r.id is not None)
            previous = dict(self._active)
            for record in dropped:
                self._active.pop(record.key, None)
            for record in saved:
                if record.state in ACTIVE_STATES:
                    self._active[record.key] = record
                else:
                    self._active.pop(record.key, None)
            self._rendered.keep(self._active)
            self.changes.record([r.id for r in saved] + [r.id for r in dropped])
            self.evaluations += 1
            outgoing = self._to_notify(saved, previous, signals.now)
        if self.notifier is not None and outgoing:
            self.notifier.submit(outgoing)
        return saved

    def _step(
        self,
        rule: Rule,
        ob: Observation,
        s: Signals,
        changed: list[AlertRecord],
        dropped: list[AlertRecord],
    ) -> None:
        now = s.now
        current = self._active.get((rule.name, ob.metric))
        if current is None:
            if not ob.breach:
                return
            firing = rule.for_s <= 0
            changed.append(
                AlertRecord(
                    rule.name,
                    ob.metric,
                    rule.severity.value,
                    "firing" if firing else "pending",
                    ob.value,
                    ob.threshold,
                    now,
                    now,
                    now if firing else None,
                    None,
                    rule.labels,
                    self._rendered.annotations(rule, ob, s),
                )
            )
        elif not ob.hold:
            if current.state == "pending":
                dropped.append(current)
            else:
                # The resolved row's text describes the value it shows (the one it
                # resolved at), not the last firing value's.
                text = (
                    current.annotations
                    if ob.value is None
                    else self._rendered.annotations(rule, ob, s)
                )
                value = current.value if ob.value is None else ob.value
                changed.append(
                    _record(
                        current,
                        state="resolved",
                        resolved_at=now,
                        updated_at=now,
                        value=value,
                        annotations=text,
                    )
                )
        else:
            fire = current.state == "pending" and now - current.since >= rule.for_s
            changed.append(
                _record(
                    current,
                    updated_at=now,
                    value=current.value if ob.value is None else ob.value,
                    threshold=ob.threshold,
                    severity=rule.severity.value,
                    labels=rule.labels,
                    annotations=self._rendered.annotations(rule, ob, s),
                    state="firing" if fire else current.state,
                    fired_at=now if fire else current.fired_at,
                )
            )

    def _persist(self, changed: list[AlertRecord], now: float) -> list[AlertRecord]:
        """Write new episodes and state changes now; a mere new value once per
        ``SAVE_EVERY_S`` window of the clock (the API overlays the in-memory records, so
        it is never stale).

        The windows are the same for every alert: their value updates share one write
        transaction per window, not one per alert at its own phase of it.
        """
        write: list[AlertRecord] = []
        window = math.floor(now / SAVE_EVERY_S)
        for record in changed:
            known = self._active.get(record.key)
            moved = known is None or known.state != record.state or record.id is None
            saved_at = self._saved_at.get(record.key)
            if moved or saved_at is None or math.floor(saved_at / SAVE_EVERY_S) != window:
                write.append(record)
        if not write:  # most ticks: no write transaction for nothing
            return changed
        try:
            saved = {r.key: r for r in self.log.save(write)}
        except (sqlite3.Error, OSError) as exc:
            # The store reports its own fault (health, one log line); the alerts go on
            # in memory and are written once it can take them again.
            logger.debug("alert state not stored yet: %s", exc)
            return changed
        for key in saved:
            self._saved_at[key] = now
        return [saved.get(r.key, r) for r in changed]

    # -- notifications ------------------------------------------------------------------
    def silenced(self, record: AlertRecord, now: float) -> bool:
        if not self._silences:  # most ticks: no labels to build for no silence
            return False
        labels = record.all_labels()
        return any(s.active(now) and s.matches(labels) for s in self._silences)

    def _to_notify(
        self, saved: list[AlertRecord], previous: dict[tuple[str, str], AlertRecord], now: float
    ) -> list[Outgoing]:
        valid_until = now + 4 * self.resend_s
        out: list[Outgoing] = []
        for record in saved:
            key = record.key
            if record.state == "resolved":
                if self._notified_at.pop(key, None) is not None:
                    out.append(Outgoing(record, now))  # only what was announced is resolved
            elif record.state == "firing" and not self.silenced(record, now):
                was = previous.get(key)
                newly = was is None or was.state != "firing" or key not in self._notified_at
                if newly or now - self._notified_at[key] >= self.resend_s:
                    self._notified_at[key] = now
                    out.append(Outgoing(record, valid_until))
        return out

    # -- reads and silences -------------------------------------------------------------
    def add_silence(self, silence: Silence) -> Silence:
        saved = self.log.add_silence(silence)
        with self._lock:
            self._silences = self.log.silences()
        logger.info("silence %s added until %.0f", saved.id, saved.ends_at)
        return saved

    def silences(self, now: float, include_expired: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            found = list(self._silences)
        return [s.to_dict(now) for s in found if include_expired or now < s.ends_at]

    def alerts(self, now: float, **filters: Any) -> list[dict[str, Any]]:
        """Episodes newest first (AlertLog.query's filters), each with ``silenced``."""
        with self._lock:
            newer = {r.id: r for r in self._active.values()}
        out = []
        for stored in self.log.query(**filters):
            record = newer.get(stored.id, stored)
            item = record.to_dict()
            item["silenced"] = record.state != "resolved" and self.silenced(record, now)
            out.append(item)
        return out

    def cursor(self) -> str:
        """The change cursor now (take it before reading: a change in between comes twice)."""
        with self._lock:
            return self.changes.cursor()

    def changed(
        self, now: float, cursor: str, *, states: Iterable[str], limit: int, **filters: Any
    ) -> tuple[list[dict[str, Any]], list[int], str] | None:
        """Episodes changed after ``cursor`` (newest first, AlertLog.query's filters), the
        ids among them that are gone (a pending alert that cleared), and the next cursor;
        None when the cursor is of an earlier life or too old (ask for the whole list)."""
        with self._lock:
            ids = self.changes.since(cursor)
            if ids is None:
                return None
            nxt = self.changes.cursor()
            newer = {r.id: r for r in self._active.values() if r.id in ids}
            unsaved = [r for r in self._active.values() if r.id is None]
        records = [*newer.values(), *self.log.by_ids(ids - newer.keys()), *unsaved]
        gone = sorted(ids - {r.id for r in records})
        since = filters.get("since")
        wanted = set(states)
        keep = [
            r
            for r in records
            if r.state in wanted
            and all(
                filters.get(k) is None or getattr(r, k) == filters[k]
                for k in ("rule", "metric", "severity")
            )
            and (since is None or r.resolved_at is None or r.resolved_at >= since)
        ]
        keep.sort(key=lambda r: (r.since, r.id or 0), reverse=True)
        out = []
        for record in keep[:limit]:
            item = record.to_dict()
            item["silenced"] = record.state != "resolved" and self.silenced(record, now)
            out.append(item)
        return out, gone, nxt

    def active(self) -> list[AlertRecord]:
        with self._lock:
            return sorted(self._active.values(), key=lambda r: (r.rule, r.metric))

    def status(self) -> dict[str, Any]:
        with self._lock:
            states = [r.state for r in self._active.values()]
        return {
            "rules": self.rules.status(),
            "evaluations": self.evaluations,
            "pending": states.count("pending"),
            "firing": states.count("firing"),
            "notifications": None if self.notifier is None else self.notifier.status(),
        }


def _record(current: AlertRecord, **changes: Any) -> AlertRecord:
    """``current`` with ``changes`` (``dataclasses.replace`` costs more than the rest of
    an active alert's tick)."""
    return AlertRecord(
        rule=current.rule,
        metric=current.metric,
        severity=changes.get("severity", current.severity),
        state=changes.get("state", current.state),
        value=changes.get("value", current.value),
        threshold=changes.get("threshold", current.threshold),
        since=current.since,
        updated_at=changes.get("updated_at", current.updated_at),
        fired_at=changes.get("fired_at", current.fired_at),
        resolved_at=changes.get("resolved_at", current.resolved_at),
        labels=changes.get("labels", current.labels),
        annotations=changes.get("annotations", current.annotations),
        id=current.id,
    )
