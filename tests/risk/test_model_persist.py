"""RiskModel on synthetic incidents: selection, alarms, skops round trip, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.exceptions import NotFittedError

from foresight.core.errors import InputError
from foresight.risk import alarm_rule, alarms, persist
from foresight.risk.model import LabelledFile, RiskModel
from foresight.risk.synth import COLUMNS, synth

T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def frames() -> tuple[LabelledFile, LabelledFile]:
    a = synth(6, T0, seed=1)
    b = synth(4, T0, seed=2)
    return (
        LabelledFile("a", a.values, a.incident, 60.0),
        LabelledFile("b", b.values, b.incident, 60.0),
    )


@pytest.fixture(scope="module")
def fitted(frames: tuple[LabelledFile, LabelledFile]) -> RiskModel:
    return RiskModel(1800, ("lr", "rf"), refit_all=True).fit([frames[0]], list(COLUMNS))


def test_fit_selects_by_validation_and_beats_the_base_rate(fitted: RiskModel) -> None:
    assert fitted.validation_pr_auc_ >= max(v or 0 for v in fitted.validation_.values())
    assert fitted.validation_pr_auc_ > 3 * fitted.validation_base_rate_
    assert set(fitted.fitted_) == {"lr", "rf"}
    assert set(fitted.alarm_rules_) == {"lr", "rf"}


def test_the_alarm_rule_is_chosen_within_the_budget_on_validation_rows(
    fitted: RiskModel,
) -> None:
    rule, seen = fitted.alarm_rule_, fitted.alarm_training_
    assert rule.threshold_z in alarm_rule.THRESHOLDS_Z and rule.min_rows in alarm_rule.MIN_ROWS
    assert seen["false_alarms_per_day"] <= fitted.max_false_alarms_per_day
    assert seen["alarm_time_ratio"] <= fitted.max_alarm_ratio
    assert fitted.alarm_share_ == seen["alarm_time_ratio"]
    # the synthetic incidents are plain: the rule catches some of them in validation
    assert (seen["event_recall"] or 0) > 0


def test_scores_are_probabilities_and_rank_unseen_incidents(
    fitted: RiskModel, frames: tuple[LabelledFile, LabelledFile]
) -> None:
    other = frames[1]
    p = fitted.predict_proba(other.values, 60.0)
    assert p.shape == (len(other.values),) and ((p >= 0) & (p <= 1)).all()
    target = alarms.window_labels(other.incident, 30)
    assert p[target].mean() > 2 * p[~target].mean()


def test_unfitted_model_raises() -> None:
    with pytest.raises(NotFittedError):
        RiskModel(1800).predict_proba(np.zeros((10, 2)), 60.0)


def test_a_file_without_incidents_cannot_train() -> None:
    quiet = LabelledFile(
        "q", np.random.default_rng(0).normal(size=(900, 2)), np.zeros(900, bool), 60.0
    )
    with pytest.raises(ValueError, match="both incident and quiet"):
        RiskModel(1800, ("lr",)).fit([quiet], ["x", "y"])


def test_save_load_round_trip_gives_the_same_scores(
    fitted: RiskModel, frames: tuple[LabelledFile, LabelledFile], tmp_path: Path
) -> None:
    card = persist.model_card(fitted, {"files": ["a"]}, "2026-12-01T00:00:00Z")
    out = persist.save(fitted, tmp_path / "model", card)
    assert sorted(p.name for p in out.iterdir()) == ["model.skops", "model_card.json"]
    loaded, read_card = persist.load(out)
    assert read_card["features"] == fitted.feature_names_
    assert read_card["note"].startswith("alerts at onset")
    values = frames[1].values
    assert np.allclose(
        loaded.predict_proba(values, 60.0), fitted.predict_proba(values, 60.0), atol=1e-12
    )
    assert loaded.alarm_rule_ == fitted.alarm_rule_
    score = fitted.predict_proba(values, 60.0)
    assert (loaded.alarms(score, 60.0) == fitted.alarms(score, 60.0)).all()
    # saving again replaces the directory whole
    persist.save(fitted, out, card)
    assert len(list(tmp_path.iterdir())) == 1


def test_a_card_from_before_the_alarm_rule_keeps_its_share_rule(
    fitted: RiskModel, frames: tuple[LabelledFile, LabelledFile], tmp_path: Path
) -> None:
    card = persist.model_card(fitted, {}, "2026-12-01T00:00:00Z")
    del card["alarm_rule"], card["alarm_training"]
    card["alarm_share"] = 0.01
    loaded, _ = persist.load(persist.save(fitted, tmp_path / "old", card))
    score = fitted.predict_proba(frames[1].values, 60.0)
    warm = loaded.warmup_rows(len(score), 60.0)
    assert (loaded.alarms(score, 60.0) == alarms.relative_alarms(score, 0.01, warm)).all()


class Gadget:
    """A type no risk model contains: loading it would run code of the file's choosing."""

    def __init__(self) -> None:
        self.x = 1


def test_load_refuses_unknown_types_and_foreign_folders(fitted: RiskModel, tmp_path: Path) -> None:
    card = persist.model_card(fitted, {}, "2026-12-01T00:00:00Z")
    out = persist.save(fitted, tmp_path / "m", card)
    sio.dump({"estimator": Gadget()}, out / "model.skops")
    with pytest.raises(InputError, match="refusing to load unknown type"):
        persist.load(out)
    with pytest.raises(InputError, match="not a risk model directory"):
        persist.load(tmp_path / "nowhere")


def test_xgb_is_skipped_cleanly_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from foresight.risk import zoo

    monkeypatch.setattr(zoo, "xgboost_available", lambda: False)
    assert zoo.parse_model_names("lr,xgb") == ("lr",)
    with pytest.raises(InputError, match="xgboost-cpu"):
        zoo.parse_model_names("xgb")
    with pytest.raises(InputError, match="--models must be"):
        zoo.parse_model_names("lr,lstm")
