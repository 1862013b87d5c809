"""Alert rules (the YAML file), each kind's condition, and the lifecycle in the store."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from foresight.alerts.conditions import Signals, exceed_probability, first_crossing, observe
from foresight.alerts.engine import AlertEngine
from foresight.alerts.rules import Kind, RuleBook, parse_rules
from foresight.core.catalog import METRIC_CATALOG
from foresight.core.errors import InputError
from foresight.store.alert_log import AlertLog, Matcher, Silence
from foresight.store.metric_store import MetricStore
from predictor import Forecast

T0 = 1_800_000_000.0

CPU_RULE = """
rules:
  - name: CpuCritical
    kind: threshold
    metric: cpu_percent
    level: critical
    clear: 85
    for: 30s
    severity: critical
    labels: {team: ops}
    annotations:
      summary: "CPU at {value:.0f} % (critical from {threshold:g} %)"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def signals(now: float, **values: float) -> Signals:
    return Signals(now=now, values=values, sample_at=now, cores=2)


# -- the rules file ------------------------------------------------------------------
def test_default_rules_cover_the_catalog_and_page_fast_on_cpu() -> None:
    rules = RuleBook().rules
    by_name = {r.name: r for r in rules}
    assert by_name["CpuCritical"].for_s <= 60
    assert by_name["CpuCritical"].severity.value == "critical"
    kinds = {r.kind for r in rules}
    assert kinds == set(Kind)  # every kind has a default rule
    with_levels = {n for n, m in METRIC_CATALOG.items() if m.critical is not None}
    covered = {
        m for m in with_levels if any(r.matches(m) and r.kind is Kind.THRESHOLD for r in rules)
    }
    assert covered == with_levels
    assert any(r.matches("cpu_core7_percent") for r in rules)
    # anomaly rules cover every metric, thresholded or not
    assert all(any(r.kind is Kind.ANOMALY and r.matches(m) for r in rules) for m in METRIC_CATALOG)
    # load is per core, as Glances: 0.7 / 1.0 / 5.0
    load = sorted(r.threshold("load1", 4) for r in rules if r.metric == "load1")
    assert load == [2.8, 4.0, 20.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: 3", "list under 'rules:'"),
        ("rules: [{name: X, kind: nope}]", "kind must be one of"),
        ("rules: [{name: X, kind: threshold}]", "needs a level"),
        ("rules: [{name: X, kind: threshold, level: 5, for: soon}]", "for must be a duration"),
        ("rules: [{name: X, kind: threshold, level: 5, colour: red}]", "unknown key"),
        ("rules: [{name: X, kind: forecast, level: 5}]", "needs within"),
        (
            "rules: [{name: X, kind: threshold, level: 5, annotations: {s: '{nope}'}}]",
            "does not render",
        ),
        ("rules: [{name: 'bad name', kind: stale, window: 1m}]", "identifier"),
        ("rules: [{name: X, kind: exhaustion, within: 4h, window: 1h}]", "needs limit"),
        ("rules: [", "not valid YAML"),
        ("rules: [{name: X, kind: threshold, level: 5, per_core: 'false'}]", "true or false"),
        (
            "rules: [{name: X, kind: threshold, level: 5}, {name: X, kind: threshold, level: 6}]",
            "twice",
        ),
    ],
)
def test_bad_rules_files_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_rules(text, "rules.yml")


def test_rulebook_reloads_on_change_and_keeps_rules_when_the_new_file_is_bad(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "rules.yml", CPU_RULE)
    book = RuleBook(path)
    assert [r.name for r in book.rules] == ["CpuCritical"] and not book.refresh()
    write(path, CPU_RULE.replace("for: 30s", "for: 5s"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    assert book.refresh() and book.rules[0].for_s == 5.0
    write(path, "rules: [")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000_000))
    assert not book.refresh()
    assert book.rules[0].for_s == 5.0 and "not valid YAML" in (book.error or "")
    write(path, CPU_RULE)
    book.request_reload()  # what SIGHUP does, even when the stamp looks unchanged
    assert book.refresh() and book.error is None and book.rules[0].for_s == 30.0


# -- conditions ------------------------------------------------------------------------
def test_forecast_crossing_and_its_probability() -> None:
    steps = np.arange(1, 16)
    mean = 60.0 + 2.0 * steps  # reaches 90 at step 15
    forecast = Forecast(
        mean=mean,
        lower_80=mean - 5,
        upper_80=mean + 5,
        lower_95=mean - 8,
        upper_95=mean + 8,
        timestamps=T0 + 60.0 * steps,
        step_s=60.0,
    )
    upper = first_crossing(forecast, "cpu_percent", 90.0, T0, 900.0, "upper_80")
    assert upper is not None and upper.when == T0 + 60.0 * 13  # 86 + 5 >= 90
    assert 0.1 < upper.probability < 0.5  # the band's edge crosses, the mean does not yet
    mean_cross = first_crossing(forecast, "cpu_percent", 90.0, T0, 900.0, "mean")
    assert mean_cross is not None and mean_cross.probability == pytest.approx(0.5)
    assert first_crossing(forecast, "cpu_percent", 90.0, T0, 600.0, "mean") is None
    assert exceed_probability(50.0, 55.0, 55.0) == pytest.approx(0.1, abs=1e-9)


def test_exhaustion_from_a_linear_trend() -> None:
    rule = parse_rules(
        "rules: [{name: DiskFull, kind: exhaustion, metric: disk_percent, limit: 100, "
        "within: 4h, window: 1h}]",
        "x",
    )[0]
    ts = T0 - 3600 + 30.0 * np.arange(121)
    rising = 50 + (ts - ts[0]) * (10 / 3600)  # +10 % an hour: full in 4 h from 60 %
    s = Signals(
        now=T0, values={"disk_percent": 61.0}, sample_at=T0, series=lambda m, a, b: (ts, rising)
    )
    (ob,) = observe(rule, s)
    assert ob.breach and ob.extra["in_s"] == pytest.approx(3.9 * 3600, rel=1e-6)
    slow = Signals(
        now=T0, values={"disk_percent": 50.0}, sample_at=T0, series=lambda m, a, b: (ts, rising)
    )
    assert not observe(rule, slow)[0].breach  # 5 h to go
    flat = Signals(
        now=T0,
        values={"disk_percent": 60.0},
        sample_at=T0,
        series=lambda m, a, b: (ts, np.full_like(ts, 60.0)),
    )
    assert not observe(rule, flat)[0].breach


# -- lifecycle ---------------------------------------------------------------------------
@pytest.fixture
def engine(tmp_path: Path):
    store = MetricStore(tmp_path / "f.db")
    yield AlertEngine(RuleBook(write(tmp_path / "rules.yml", CPU_RULE)), AlertLog(store))
    store.close()


def test_pending_firing_resolved_with_hysteresis(engine: AlertEngine) -> None:
    (a,) = engine.evaluate(signals(T0, cpu_percent=95.0))
    assert a.state == "pending" and a.since == T0 and a.threshold == 90.0
    assert a.annotations["summary"] == "CPU at 95 % (critical from 90 %)"
    (a,) = engine.evaluate(signals(T0 + 29, cpu_percent=88.0))  # below 90, above clear 85
    assert a.state == "pending"
    (a,) = engine.evaluate(signals(T0 + 30, cpu_percent=91.0))
    assert a.state == "firing" and a.fired_at == T0 + 30
    (a,) = engine.evaluate(signals(T0 + 40, cpu_percent=86.0))  # hysteresis holds it
    assert a.state == "firing"
    (a,) = engine.evaluate(signals(T0 + 41, cpu_percent=87.0))  # a new value, same state:
    assert engine.log.active()[0].value == 86.0  # stored at most every SAVE_EVERY_S,
    assert engine.alerts(T0 + 41)[0]["value"] == 87.0  # yet the API shows the latest
    (a,) = engine.evaluate(signals(T0 + 50, cpu_percent=84.0))
    assert a.state == "resolved" and a.resolved_at == T0 + 50
    assert engine.evaluate(signals(T0 + 60, cpu_percent=10.0)) == []
    assert a.all_labels() == {
        "team": "ops",
        "alertname": "CpuCritical",
        "severity": "critical",
        "metric": "cpu_percent",
    }


def test_a_pending_alert_that_clears_is_forgotten(engine: AlertEngine) -> None:
    engine.evaluate(signals(T0, cpu_percent=95.0))
    engine.evaluate(signals(T0 + 5, cpu_percent=50.0))
    assert engine.alerts(T0 + 5) == [] and engine.active() == []


def test_history_and_active_alerts_survive_a_restart(tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.yml", CPU_RULE)
    with MetricStore(tmp_path / "f.db") as store:
        first = AlertEngine(RuleBook(rules), AlertLog(store))
        for dt, cpu in ((0, 95), (30, 95), (40, 50), (50, 95), (80, 95)):
            first.evaluate(signals(T0 + dt, cpu_percent=cpu))
    with MetricStore(tmp_path / "f.db") as store:
        again = AlertEngine(RuleBook(rules), AlertLog(store))
        assert [(r.state, r.since) for r in again.active()] == [("firing", T0 + 50)]
        history = again.alerts(T0 + 90)
        assert [(a["state"], a["since"]) for a in history] == [
            ("firing", T0 + 50),
            ("resolved", T0),
        ]
        (a,) = again.evaluate(signals(T0 + 90, cpu_percent=10.0))  # the lifecycle goes on
        assert a.state == "resolved" and a.since == T0 + 50


def test_a_rule_removed_by_a_reload_resolves_its_alerts(
    engine: AlertEngine, tmp_path: Path
) -> None:
    engine.evaluate(signals(T0, cpu_percent=95.0))
    engine.evaluate(signals(T0 + 30, cpu_percent=95.0))
    write(tmp_path / "rules.yml", "rules: [{name: Stale, kind: stale, window: 30s}]")
    engine.rules.request_reload()
    (a,) = engine.evaluate(signals(T0 + 31, cpu_percent=95.0))
    assert (a.rule, a.state) == ("CpuCritical", "resolved")


def test_silences_match_labels_like_alertmanager(engine: AlertEngine) -> None:
    engine.evaluate(signals(T0, cpu_percent=95.0))
    (a,) = engine.evaluate(signals(T0 + 30, cpu_percent=95.0))
    assert not engine.silenced(a, T0 + 30)
    engine.add_silence(
        Silence(
            (Matcher("alertname", "Cpu.*", is_regex=True), Matcher("team", "ops")),
            T0 + 30,
            T0 + 60,
            "test",
            "maintenance",
            T0 + 30,
        )
    )
    assert engine.silenced(a, T0 + 31) and not engine.silenced(a, T0 + 60)
    assert not Matcher("team", "ops", is_equal=False).matches(a.all_labels())
    assert [s["state"] for s in engine.silences(T0 + 31)] == ["active"]
    assert engine.silences(T0 + 61) == []


def test_anomaly_probe_and_missed_tick_rules() -> None:
    rules = {r.name: r for r in RuleBook().rules}
    seen = [{"timestamp": T0 - 10, "metric": "cpu_percent", "value": 99.0, "score": 7.5}]
    s = Signals(
        now=T0,
        values={"cpu_percent": 99.0, "memory_percent": 40.0, "api_success": 0.0},
        sample_at=T0,
        anomalies=lambda metric, since: [a for a in seen if a["metric"] == metric],
        missed_since=lambda since: 12 if since >= T0 - 300 else 0,
    )
    anomalies = {o.metric: o for o in observe(rules["MetricAnomaly"], s)}
    assert anomalies["cpu_percent"].breach and anomalies["cpu_percent"].value == 7.5
    assert not anomalies["memory_percent"].breach
    (probe,) = observe(rules["ApiProbeFailing"], s)
    assert probe.breach and probe.value == 0.0
    (missed,) = observe(rules["SamplerMissedTicks"], s)
    assert missed.breach and missed.value == 12.0 and missed.metric == "sampler"
    fine = Signals(now=T0, values={"api_success": 1.0}, sample_at=T0)
    assert not observe(rules["ApiProbeFailing"], fine)[0].breach
    assert not observe(rules["SamplerMissedTicks"], fine)[0].breach
