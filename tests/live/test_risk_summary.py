"""The risk panel's words about a trained model: where it learned and, beside guessing,
whether its held-back PR-AUC means anything (a model trained on one alert with PR-AUC
0.03 against 0.03 for guessing was shown as "Failure probability 100 % (CRITICAL)")."""

from __future__ import annotations

from foresight.live.risk import LiveRisk


def _card(pr_auc: float, base_rate: float, data: dict) -> dict:
    return {
        "model": "lr",
        "validation": {"pr_auc": pr_auc, "base_rate": base_rate},
        "data": data,
        "metrics": ["cpu_percent"],
        "horizon_s": 1800.0,
    }


STORE = {"files": ["store"], "rows": [1804], "step_s": [60.0], "label_source": "alert history"}


def test_a_model_no_better_than_guessing_says_so() -> None:
    words = LiveRisk(None, None, _card(0.0266, 0.0266, STORE)).model_summary()["summary"]
    assert "no better than guessing: do not act on its probability" in words
    assert "alerts at onset" in words


def test_a_model_better_than_guessing_does_not_say_so() -> None:
    words = LiveRisk(None, None, _card(0.40, 0.03, STORE)).model_summary()["summary"]
    assert "PR-AUC was 0.40 against 0.03 for guessing" in words
    assert "no better than guessing" not in words


def test_a_model_trained_on_the_store_names_the_store_not_files() -> None:
    words = LiveRisk(None, None, _card(0.40, 0.03, STORE)).model_summary()["summary"]
    assert "file(s)" not in words
    assert "1,804 rows of this monitor's history (one per 60 s)" in words
    assert "labelled by the alert history" in words
    files = {"files": ["a.csv", "b.csv"]}
    assert (
        "trained on 2 file(s)"
        in LiveRisk(None, None, _card(0.4, 0.03, files)).model_summary()["summary"]
    )


def test_only_a_model_better_than_guessing_gives_alerts_its_probability() -> None:
    """The panel shows a guessing model's probability; the alert rules never see it (one
    trained on a single alert had fired FailureRiskHigh at "100 %")."""
    from types import SimpleNamespace

    from foresight.live import risk as live_risk
    from foresight.live.alerting import LiveAlerts

    def signals(pr_auc: float) -> dict[str, float]:
        live = LiveRisk(None, None, _card(pr_auc, 0.03, STORE))
        live._failure = {"failure_probability": 0.97}
        services = SimpleNamespace(extras={live_risk.EXTRAS_KEY: live})
        alerts = LiveAlerts.__new__(LiveAlerts)  # _risk reads the services only
        alerts.services = services
        assert live.latest()[1] == {"failure_probability": 0.97}  # still shown
        return alerts._risk()

    assert signals(0.40) == {"failure_probability": 0.97}
    assert signals(0.03) == {}
    assert signals(0.0315) == {}  # within 5 % of the base rate: guessing
    assert not LiveRisk(None, None, None).skilled
