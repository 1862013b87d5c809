"""The per-tick shortcuts of the alert path change nothing an alert does.

A long random trace drives two engines over the shipped rules plus rules that fire
easily: one as the monitor runs it (annotations reused while their inputs are unchanged,
templates compiled), one rendering every annotation afresh through the reference
renderer. Every tick both return the same episodes, keep the same active alerts and
store the same rows; the other shortcuts are each compared with the computation they
replace.
"""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path

import numpy as np
import pytest

from foresight.alerts import rules as rules_module
from foresight.alerts.conditions import Observation, Signals, observe
from foresight.alerts.engine import SAVE_EVERY_S, AlertEngine, _record
from foresight.alerts.rules import DEFAULT_RULES_PATH, Kind, RuleBook, parse_rules
from foresight.core.catalog import METRIC_CATALOG
from foresight.store.alert_log import AlertLog, AlertRecord
from foresight.store.metric_store import MetricStore
from predictor import Forecast

T0 = 1_800_000_003.0
EASY_RULES = """
  - name: EasyCpu
    kind: threshold
    metric: cpu_percent
    level: 40
    clear: 30
    for: 3s
    severity: info
    annotations:
      summary: "CPU {value:.0f} % from {threshold:g} (clear {clear}) on {cores} CPUs"
      raw: "{value} {value!r} {when} {in_s:.1f} {probability:.0%} {unit}"
  - name: EasyCore
    kind: threshold
    metric: cpu_core*_percent
    level: 50
    for: 0s
    severity: info
    annotations:
      summary: "{metric} at {value:.0f} % ({name}, {severity}, {for_s:g} s) {{literal}}"
  - name: EasyLoad
    kind: threshold
    metric: load1
    level: 0.5
    clear: 0.4
    per_core: true
    for: 2s
    severity: info
    annotations:
      summary: "Load {value:.2f} on {cores} CPUs (from {threshold:g})"
  - name: EasyDrift
    kind: threshold
    metric: scaling_drift_instances
    level: 0.5
    below: true
    for: 0s
    severity: info
    annotations:
      summary: "drift {value:.0f} {value:+.1f}"
  - name: EasyForecast
    kind: forecast
    metric: memory_percent
    level: 60
    within: 2m
    band: upper_80
    severity: warning
    annotations:
      summary: "in {in_s:.0f} s at {when}, chance {probability:.0%}, {value:.1f}"
  - name: EasyFilling
    kind: exhaustion
    metric: disk_percent
    limit: 100
    level: 30
    within: 1h
    window: 10m
    for: 2s
    severity: warning
    annotations:
      summary: "disk {value:.1f} full at {when} (in {in_s:.0f} s, floor {clear})"
  - name: EasyRisk
    kind: risk
    metric: crash_risk_score
    level: 0.4
    clear: 0.3
    for: 2s
    severity: warning
    annotations:
      summary: "risk {value:.2f}"
  - name: EasyMissed
    kind: missed_ticks
    window: 30s
    limit: 3
    clear: 1
    for: 2s
    severity: warning
    annotations:
      summary: "{value:.0f} missed ({threshold:g}, clear {clear:g})"
"""


class Trace:
    """Random but reproducible signals: values that sit still, wander and jump across
    the levels, forecasts that cross, anomalies, risk, missed ticks, other targets."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.names = [*METRIC_CATALOG, "cpu_core0_percent", "cpu_core1_percent"]
        self.names += ["cpu_percent@web1", "load1@web1", "load1@db2"]
        self.values = {n: self.rng.uniform(0, 100) for n in self.names}
        self.now = T0
        self.missed = 0
        self.anomalous: dict[str, float] = {}
        self.slope = 0.0

    def step(self) -> Signals:
        rng = self.rng
        self.now += rng.choice((1.0, 1.0, 1.0, 2.0, 7.0))
        for name in self.names:
            r = rng.random()
            if r < 0.5:
                continue  # unchanged: the annotation cache's hits
            if r < 0.9:
                self.values[name] = min(100.0, max(0.0, self.values[name] + rng.gauss(0, 4)))
            else:
                self.values[name] = rng.choice((0.0, -0.0, 1.0, 55.0, 99.5, rng.uniform(0, 100)))
        for load in ("load1", "load1@web1", "load1@db2"):
            self.values[load] = rng.choice((self.values[load] % 3.0, 0.0, -0.0, 1.2))
        self.values["scaling_drift_instances"] = rng.choice((0.0, -0.0, -2.0, 1.0))
        if rng.random() < 0.1:
            self.missed += rng.randint(1, 3)
        if rng.random() < 0.1:
            self.anomalous[rng.choice(self.names)] = self.now
        self.slope = rng.choice((self.slope, 0.0, 0.01, 0.5, -0.2))
        values = dict(self.values)
        if rng.random() < 0.05:
            values.pop("cpu_percent")  # a metric absent for a tick
        now, missed_total, anomalous = self.now, self.missed, dict(self.anomalous)
        crossing = rng.random() < 0.5
        slope = self.slope
        risk = {"crash_risk_score": rng.choice((0.1, 0.35, 0.45, 0.9))}

        def forecast(metric: str, horizon_s: float) -> Forecast:
            stamps = now + 10.0 * np.arange(1, 25)
            mean = np.linspace(50.0, 70.0 if crossing else 52.0, 24)
            return Forecast(10.0, mean, mean - 5, mean + 5, mean - 9, mean + 9, stamps)

        def anomalies(metric: str, since: float) -> list[dict]:
            at = anomalous.get(metric)
            return [] if at is None or at < since else [{"timestamp": at, "score": 6.5}]

        def series(metric: str, since: float, until: float):
            ts = np.arange(since, until, 30.0)
            return ts, 20.0 + slope * (ts - since)

        return Signals(
            now=now,
            values=values,
            sample_at=now,
            cores=2,
            forecast=forecast,
            series=series,
            anomalies=anomalies,
            missed_since=lambda since: missed_total if since > T0 else 0,
            risk=lambda: risk,
            target_cores=lambda target: 8 if target == "web1" else None,
        )


def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(DEFAULT_RULES_PATH.read_text().rstrip() + "\n" + EASY_RULES)
    return path


@pytest.mark.parametrize("seed", [1, 2])
def test_the_monitors_evaluation_equals_the_full_one_tick_by_tick(tmp_path: Path, seed):
    path = rules_file(tmp_path)
    stores = [MetricStore(tmp_path / f"{name}.db") for name in ("fast", "full")]
    try:
        fast = AlertEngine(RuleBook(path), AlertLog(stores[0]))
        full = AlertEngine(RuleBook(path), AlertLog(stores[1]), reuse=False)
        trace = Trace(seed)
        states: set[str] = set()
        reused = 0
        for tick in range(500):
            s = trace.step()
            before = dict(fast._rendered._known)
            a = [r.to_dict() for r in fast.evaluate(s)]
            b = [r.to_dict() for r in full.evaluate(s)]
            assert a == b
            assert fast.active() == full.active()
            if tick % 20 == 0:  # the API's list: the in-memory records over the stored rows
                assert fast.alerts(s.now, limit=1000) == full.alerts(s.now, limit=1000)
            states.update(r["state"] for r in a)
            reused += sum(1 for k, v in fast._rendered._known.items() if before.get(k) is v)
        assert states == {"pending", "firing", "resolved"}
        assert reused > 100  # the cache was exercised, not bypassed
        fired = {r["name"] for r in fast.alerts(trace.now, limit=10_000)}
        assert {"EasyCpu", "EasyCore", "EasyLoad", "EasyDrift", "EasyForecast"} <= fired
        assert {"EasyFilling", "EasyRisk", "EasyMissed", "MetricAnomaly"} <= fired
    finally:
        for store in stores:
            store.close()


def test_observe_with_the_callers_names_equals_observe_alone() -> None:
    trace = Trace(5)
    for _ in range(15):
        s = trace.step()
        names = tuple(s.values)
        for rule in RuleBook().rules:
            for active in ((), ("gone_metric",), ("cpu_percent", "zz@t")):
                assert observe(rule, s, active, names) == observe(rule, s, active)


def test_a_remembered_threshold_equals_a_fresh_one() -> None:
    rules = RuleBook().rules + parse_rules("rules:" + EASY_RULES, "easy")
    keys = [*METRIC_CATALOG, "cpu_core3_percent", "load1@web1", "disk_percent@x", "other_ms"]
    fresh = rules_module._threshold.__wrapped__
    for _ in range(2):  # the second pass answers from the cache
        for rule in rules:
            for metric in keys:
                for cores in (None, 1, 2, 16):
                    got = rule.threshold(metric, cores)
                    assert got == fresh(rule.kind, rule.level, rule.per_core, metric, cores)


def test_record_copies_equal_dataclasses_replace() -> None:
    rng = random.Random(3)
    base = AlertRecord(
        "R", "m", "warning", "pending", 1.0, 2.0, T0, T0, None, None, {"a": "b"}, {"s": "x"}, 7
    )
    fields = {
        "state": ["firing", "resolved"],
        "value": [None, -0.0, 3.5],
        "threshold": [None, 9.0],
        "severity": ["critical"],
        "updated_at": [T0 + 5],
        "fired_at": [None, T0 + 1],
        "resolved_at": [T0 + 2],
        "labels": [{}, {"team": "ops"}],
        "annotations": [{}, {"summary": "y"}],
    }
    for _ in range(200):
        changes = {k: rng.choice(v) for k, v in fields.items() if rng.random() < 0.5}
        assert _record(base, **changes) == dataclasses.replace(base, **changes)


def test_exhaustion_below_its_floor_reads_no_trend_and_sees_the_same() -> None:
    (rule,) = [r for r in parse_rules("rules:" + EASY_RULES, "easy") if r.kind is Kind.EXHAUSTION]
    for value in (10.0, 29.9, 30.0, 70.0, 99.0):
        for slope in (-0.1, 0.0, 0.001, 0.5):
            reads: list[str] = []

            def trend(metric, since, until, slope=slope, reads=reads, value=value):
                reads.append(metric)
                return slope, value

            s = Signals(T0, {"disk_percent": value}, T0, series=lambda *a: None, trend=trend)
            (ob,) = observe(rule, s)
            floor = 30.0
            # the order of old: the trend first, then the floor
            if slope <= 0 or value < floor:
                old = Observation("disk_percent", False, False, value, 100.0, floor)
            else:
                in_s = max(0.0, (100.0 - value) / slope)
                breach = in_s <= rule.within_s
                assert ob.extra["in_s"] == in_s
                old = Observation(
                    "disk_percent", breach, breach, value, 100.0, floor, dict(ob.extra)
                )
            assert ob == old
            assert reads == ([] if value < floor else ["disk_percent"])


class CountingLog(AlertLog):
    """The real alert log, counting its write transactions and their rows."""

    def __init__(self, store: MetricStore) -> None:
        super().__init__(store)
        self.writes: list[int] = []

    def save(self, records):
        records = list(records)
        self.writes.append(len(records))
        return super().save(records)


def test_value_updates_share_one_write_per_window_and_are_never_older(tmp_path: Path) -> None:
    store = MetricStore(tmp_path / "f.db")
    try:
        path = tmp_path / "rules.yml"
        path.write_text(
            "rules:\n"
            + "".join(
                f"  - {{name: Hot{i}, kind: threshold, metric: cpu_percent, level: {i}, "
                "severity: info}\n"
                for i in range(5)
            )
        )
        log = CountingLog(store)
        engine = AlertEngine(RuleBook(path), log)
        stamps = [T0 + 1 + i for i in range(120)]
        for i, now in enumerate(stamps):
            # the rules start firing one a tick, at different phases of a window
            engine.evaluate(Signals(now, {"cpu_percent": min(i, 4) + 0.5 + i / 1000}, now))
            stored = {r.rule: r for r in log.active()}
            for record in engine.active():
                assert now - stored[record.rule].updated_at <= SAVE_EVERY_S
        # one insert a tick, then every alert's new value in one write per later window
        # (one write per alert at its own phase would be five a window)
        first = math.floor(stamps[0] / SAVE_EVERY_S)
        later = {math.floor(t / SAVE_EVERY_S) for t in stamps} - {first}
        assert all(math.floor(t / SAVE_EVERY_S) == first for t in stamps[:5])
        assert log.writes == [1] * 5 + [5] * len(later)
    finally:
        store.close()


def test_cores_for_a_local_series_without_a_split_equals_the_split() -> None:
    s = Signals(T0, {}, T0, cores=6, target_cores=lambda t: {"web1": 8, "": 99}.get(t))
    for key in ("cpu_percent", "load1", "load1@web1", "load1@db2", "load1@", "@web1", "x@y@z"):
        target = key.partition("@")[2]
        assert s.cores_for(key) == (6 if not target else s.target_cores(target))
