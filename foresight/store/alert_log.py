"""Alert episodes and silences in the metric store's SQLite file (tables ``alert``, ``silence``).

One row per episode: it is written when the alert turns pending and updated as it fires
and resolves, so the history and the active alerts survive a restart. Silences are
Alertmanager-shaped: label matchers and a time window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from foresight.core.series import split_key
from foresight.store.metric_store import MetricStore

STATES = ("pending", "firing", "resolved")
ACTIVE_STATES = ("pending", "firing")
_COLUMNS = (
    "id, rule, metric, severity, state, value, threshold, since, fired_at, resolved_at, "
    "updated_at, labels, annotations"
)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert episode: pending since ``since``, maybe firing, maybe resolved."""

    rule: str
    metric: str
    severity: str
    state: str  # pending | firing | resolved
    value: float | None
    threshold: float | None
    since: float
    updated_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.metric

    def all_labels(self) -> dict[str, str]:
        """The labels a silence or Alertmanager sees: alertname, severity, metric, rule's.

        A series of another target (``NAME@TARGET``) adds ``target`` and keeps the whole
        key in ``metric``, so two targets' alerts never share a fingerprint.
        """
        labels = {
            **self.labels,
            "alertname": self.rule,
            "severity": self.severity,
            "metric": self.metric,
        }
        target = split_key(self.metric)[1]
        if target:
            labels["target"] = target
        return labels

    def with_(self, **changes: Any) -> AlertRecord:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.rule,
            "severity": self.severity,
            "state": self.state,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "since": self.since,
            "fired_at": self.fired_at,
            "resolved_at": self.resolved_at,
            "updated_at": self.updated_at,
            "labels": self.all_labels(),
            "annotations": dict(self.annotations),
        }


@dataclass(frozen=True, slots=True)
class Matcher:
    """``name = value`` (or ``=~`` regex, ``!=`` / ``!~`` when not ``is_equal``)."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        hit = bool(re.fullmatch(self.value, actual)) if self.is_regex else actual == self.value
        return hit == self.is_equal

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }


@dataclass(frozen=True, slots=True)
class Silence:
    """Suppress notifications of alerts matching every matcher, from starts_at to ends_at."""

    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float
    id: int | None = None

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def to_dict(self, now: float) -> dict[str, Any]:
        state = "active" if self.active(now) else "expired" if now >= self.ends_at else "pending"
        return {
            "id": self.id,
            "matchers": [m.to_dict() for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at": self.created_at,
            "state": state,
        }


def _record(row: tuple) -> AlertRecord:
    (rid, rule, metric, severity, state, value, threshold, since, fired, resolved, updated) = row[
        :11
    ]
    return AlertRecord(
        rule,
        metric,
        severity,
        state,
        value,
        threshold,
        since,
        updated,
        fired,
        resolved,
        json.loads(row[11]),
        json.loads(row[12]),
        rid,
    )


class AlertLog:
    """Read and write alert episodes and silences in one ``MetricStore``."""

    def __init__(self, store: MetricStore) -> None:
        self.store = store

    def save(self, records: Iterable[AlertRecord]) -> list[AlertRecord]:
        """Insert new episodes and update known ones in one transaction; return them with ids."""
        saved: list[AlertRecord] = []
        with self.store.transaction() as conn:
            for r in records:
                values = (
                    r.rule,
                    r.metric,
                    r.severity,
                    r.state,
                    r.value,
                    r.threshold,
                    r.since,
                    r.fired_at,
                    r.resolved_at,
                    r.updated_at,
                    json.dumps(dict(r.labels)),
                    json.dumps(dict(r.annotations)),
                )
                if r.id is None:
                    cur = conn.execute(
                        f"INSERT INTO alert ({_COLUMNS}) VALUES "
                        "(NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        values,
                    )
                    saved.append(r.with_(id=cur.lastrowid))
                else:
                    conn.execute(
                        "UPDATE alert SET rule=?, metric=?, severity=?, state=?, value=?, "
                        "threshold=?, since=?, fired_at=?, resolved_at=?, updated_at=?, "
                        "labels=?, annotations=? WHERE id=?",
                        (*values, r.id),
                    )
                    saved.append(r)
        return saved

    def delete(self, ids: Iterable[int]) -> None:
        """Forget episodes that never fired (pending, then cleared), as Prometheus does."""
        ids = list(ids)
        if ids:
            with self.store.transaction() as conn:
                conn.executemany("DELETE FROM alert WHERE id = ?", [(i,) for i in ids])

    def query(
        self,
        *,
        states: Iterable[str] = STATES,
        rule: str | None = None,
        metric: str | None = None,
        severity: str | None = None,
        since: float | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        """Episodes newest first; ``since`` keeps those active or resolved after it;
        ``before`` (an episode's id) those after that episode in this order (a page's
        next one: keyset paging, so a page never shifts as new episodes arrive)."""
        states = list(states)
        where = [f"state IN ({', '.join('?' * len(states))})"]
        args: list[Any] = list(states)
        for column, value in (("rule", rule), ("metric", metric), ("severity", severity)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("(resolved_at IS NULL OR resolved_at >= ?)")
            args.append(since)
        if before is not None:
            where.append(
                "(since < (SELECT since FROM alert WHERE id = ?) "
                "OR (since = (SELECT since FROM alert WHERE id = ?) AND id < ?))"
            )
            args.extend((before, before, before))
        sql = (
            f"SELECT {_COLUMNS} FROM alert WHERE {' AND '.join(where)} "
            "ORDER BY since DESC, id DESC LIMIT ?"
        )
        rows = self.store.reader().execute(sql, (*args, limit)).fetchall()
        return [_record(row) for row in rows]

    def by_ids(self, ids: Iterable[int]) -> list[AlertRecord]:
        """The stored episodes of these ids (missing ones are left out)."""
        wanted = sorted(set(ids))
        out: list[AlertRecord] = []
        for start in range(0, len(wanted), 500):  # SQLite's bound on parameters
            chunk = wanted[start : start + 500]
            sql = f"SELECT {_COLUMNS} FROM alert WHERE id IN ({', '.join('?' * len(chunk))})"
            out.extend(_record(row) for row in self.store.reader().execute(sql, chunk))
        return out

    def active(self) -> list[AlertRecord]:
        return self.query(states=ACTIVE_STATES, limit=1_000_000)

    def add_silence(self, silence: Silence) -> Silence:
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO silence (matchers, starts_at, ends_at, created_by, comment, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    json.dumps([m.to_dict() for m in silence.matchers]),
                    silence.starts_at,
                    silence.ends_at,
                    silence.created_by,
                    silence.comment,
                    silence.created_at,
                ),
            )
        return replace(silence, id=cur.lastrowid)

    def silences(self, *, ends_after: float | None = None) -> list[Silence]:
        """Silences newest first; ``ends_after`` drops those that ended before it."""
        sql = (
            "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at FROM silence"
        )
        args: tuple = ()
        if ends_after is not None:
            sql += " WHERE ends_at > ?"
            args = (ends_after,)
        out = []
        for sid, matchers, starts, ends, by, comment, created in self.store.reader().execute(
            sql + " ORDER BY id DESC", args
        ):
            parsed = tuple(
                Matcher(m["name"], m["value"], m["isRegex"], m["isEqual"])
                for m in json.loads(matchers)
            )
            out.append(Silence(parsed, starts, ends, by, comment, created, sid))
        return out
