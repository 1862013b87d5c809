"""A risk level as an alert rule: the rules file, the condition, and the live engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dashboard import create_app
from foresight.alerts.conditions import Signals, observe
from foresight.alerts.rules import Kind, parse_rules
from foresight.core.errors import InputError
from foresight.core.settings import Settings
from foresight.live import models as live_models
from foresight.live.services import build_services, run_cycle, stop

T0 = 1_800_000_000.0

RISK_RULES = """
rules:
  - name: FailureRiskCritical
    kind: risk
    metric: failure_probability
    level: critical
    clear: 0.7
    for: 2m
    severity: critical
  - name: CrashRiskElevated
    kind: risk
    metric: crash_risk_score
    level: 0.2
    severity: warning
    annotations:
      summary: "crash risk {value:.2f} (alerts from {threshold:g})"
"""


def test_risk_rules_parse_with_named_or_numeric_levels() -> None:
    failure, crash = parse_rules(RISK_RULES, "t")
    assert failure.kind is Kind.RISK and failure.threshold("failure_probability", 1) == 0.8
    assert crash.threshold("crash_risk_score", 1) == 0.2
    high = parse_rules(
        "rules: [{name: R, kind: risk, metric: crash_risk_score, level: warning}]", "t"
    )[0]
    assert high.threshold("crash_risk_score", 1) == 0.5  # the High level's lower edge


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{name: R, kind: risk, metric: cpu_percent, level: 0.5}", "must be crash_risk_score"),
        ("{name: R, kind: risk, metric: crash_risk_score, level: 1.5}", "in [0, 1]"),
        ("{name: R, kind: risk, metric: crash_risk_score}", "needs a level"),
    ],
)
def test_bad_risk_rules_are_refused(rule: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(f"rules: [{rule}]", "t")


def test_the_condition_reads_the_risk_signal_with_hysteresis() -> None:
    failure = parse_rules(RISK_RULES, "t")[0]

    def seen(p: float | None, active: tuple[str, ...] = ()) -> list:
        risk = {} if p is None else {"failure_probability": p}
        return observe(failure, Signals(T0, {}, T0, risk=lambda: risk), active)

    assert seen(None) == []  # no model: nothing to observe
    (o,) = seen(0.85)
    assert o.breach and o.hold and o.threshold == 0.8 and o.clear == 0.7
    (o,) = seen(0.75, ("failure_probability",))
    assert not o.breach and o.hold  # above clear: an active alert stays
    (o,) = seen(0.5, ("failure_probability",))
    assert not o.hold


def test_a_crash_risk_rule_fires_through_the_live_engine(tmp_path: Path, clock) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RISK_RULES)
    settings = Settings(data_dir=tmp_path / "data", alert_rules_path=rules)
    svc = build_services(settings, now=clock())
    svc.clock = clock
    try:
        client = create_app({"TESTING": True}, services=svc).test_client()
        # a CPU ramp whose forecast crosses 90 % within the hour: crash risk > 0.25
        times = np.arange(clock() - 8 * 3600.0, clock(), 30.0)
        ramp = np.clip(40 + 55 * (times - times[0]) / (times[-1] - times[0]), 0, 100)
        rng = np.random.default_rng(1)
        svc.store.append_many(
            (float(t), {"cpu_percent": float(v + rng.normal(0, 1))})
            for t, v in zip(times, ramp, strict=True)
        )
        live = svc.extras[live_models.EXTRAS_KEY]
        live.refit("cpu_percent", live_models.TIERS[0], clock())
        run_cycle(svc, clock.advance(1.0))
        score = client.get("/api/risk/status").get_json()["crash_risk"]["score"]
        assert score > 0.2
        alerts = client.get("/api/alerts").get_json()["alerts"]
        crash = [a for a in alerts if a["name"] == "CrashRiskElevated"]
        assert crash and crash[0]["metric"] == "crash_risk_score"
        assert crash[0]["state"] == "firing" and crash[0]["value"] == pytest.approx(score)
        assert crash[0]["annotations"]["summary"] == f"crash risk {score:.2f} (alerts from 0.2)"
        # no failure-risk model: its rule observes nothing and raises nothing
        assert not [a for a in alerts if a["name"] == "FailureRiskCritical"]
    finally:
        stop(svc)
