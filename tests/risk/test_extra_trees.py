"""The ExtraTrees candidates (``et``, the bagged ``etb`` and its vote with lr, ``etlr``):
named on --models, rank incidents, saved by skops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.pipeline import Pipeline

from foresight.core.errors import InputError
from foresight.risk import alarms, persist, zoo
from foresight.risk.model import LabelledFile, RiskModel
from foresight.risk.synth import COLUMNS, synth

T0 = 1_800_000_000.0


def test_et_is_a_candidate_by_name() -> None:
    assert zoo.parse_model_names("lr,et") == ("lr", "et")
    assert "et" in zoo.DEFAULT_MODELS
    model = zoo.make_model("et", ["a", "b"], 10.0, seed=3)
    assert isinstance(model, ExtraTreesClassifier) and model.random_state == 3


def test_et_ranks_unseen_incidents_and_survives_a_skops_round_trip(tmp_path: Path) -> None:
    a, b = synth(6, T0, seed=1), synth(4, T0, seed=2)
    train = LabelledFile("a", a.values, a.incident, 60.0)
    model = RiskModel(1800, ("et",), validation="blocked").fit([train], list(COLUMNS))
    assert model.model_name_ == "et"
    p = model.predict_proba(b.values, 60.0)
    target = alarms.window_labels(b.incident, 30)
    assert ((p >= 0) & (p <= 1)).all()
    assert p[target].mean() > 2 * p[~target].mean()
    card = persist.model_card(model, {"files": ["a"]}, "2026-12-01T00:00:00Z")
    loaded, _ = persist.load(persist.save(model, tmp_path / "et", card))
    assert np.allclose(loaded.predict_proba(b.values, 60.0), p, atol=1e-12)


def test_etb_bags_many_trees_and_etlr_votes_it_with_lr() -> None:
    assert zoo.parse_model_names("etb,etlr") == ("etb", "etlr")
    etb = zoo.make_model("etb", ["a", "agg:max_z"], 10.0, seed=2)
    assert isinstance(etb, ExtraTreesClassifier) and etb.bootstrap and etb.max_samples == 0.25
    assert etb.n_estimators == 4 * zoo.make_model("et", ["a"], 10.0).n_estimators
    vote = zoo.make_model("etlr", ["a", "agg:max_z"], 10.0, seed=2)
    assert isinstance(vote, zoo.SoftVote)
    first, second = vote.members
    assert isinstance(first, ExtraTreesClassifier) and first.random_state == 2
    assert isinstance(second, Pipeline) and "lr" in second.named_steps


def test_a_vote_over_etb_and_etlr_ranks_unseen_incidents_and_round_trips(
    tmp_path: Path,
) -> None:
    a, b = synth(6, T0, seed=1), synth(4, T0, seed=2)
    train = LabelledFile("a", a.values, a.incident, 60.0)
    model = RiskModel(1800, ("etb", "etlr"), validation="blocked").fit([train], list(COLUMNS))
    assert set(model.chosen_) <= {"etb", "etlr"}
    p = model.predict_proba(b.values, 60.0)
    target = alarms.window_labels(b.incident, 30)
    assert ((p >= 0) & (p <= 1)).all()
    assert p[target].mean() > 2 * p[~target].mean()
    # the etlr member is the mean of its own two members' probabilities
    etlr = zoo.make_model("etlr", model.feature_names_, 10.0).fit(
        model.features(a.values, 60.0).matrix, alarms.window_labels(a.incident, 30)
    )
    x = model.features(b.values, 60.0).matrix
    parts = [m.predict_proba(x)[:, 1] for m in etlr.members]
    assert np.allclose(etlr.predict_proba(x)[:, 1], np.mean(parts, axis=0))
    card = persist.model_card(model, {"files": ["a"]}, "2026-12-02T00:00:00Z")
    loaded, _ = persist.load(persist.save(model, tmp_path / "etb", card))
    assert np.allclose(loaded.predict_proba(b.values, 60.0), p, atol=1e-12)


def test_etb_is_fitted_once_when_etb_and_etlr_are_both_candidates() -> None:
    """etlr's bagged ExtraTrees is the etb candidate's own fit (fold by fold and at the
    end), not a second forest fitted on the same rows; the scores are the same."""
    a = synth(6, T0, seed=1)
    train = LabelledFile("a", a.values, a.incident, 60.0)
    model = RiskModel(1800, ("etb", "etlr", "lr"), validation="blocked", refit_all=True).fit(
        [train], list(COLUMNS)
    )
    etb, etlr, lr = (model.fitted_[n] for n in ("etb", "etlr", "lr"))
    assert etlr.members[0] is etb and etlr.members[1] is lr
    oof = model.oof_.scores
    rows = model.oof_.scored
    assert np.allclose(oof["etlr"][rows], (oof["etb"][rows] + oof["lr"][rows]) / 2)
    # the same forest as fitting etlr whole (make_model builds its members alike)
    x = model.features(a.values, 60.0).matrix
    whole = zoo.make_model("etlr", model.feature_names_, 10.0).fit(
        x, alarms.window_labels(a.incident, 30)
    )
    assert np.allclose(whole.predict_proba(x), etlr.predict_proba(x), atol=1e-12)


def test_a_vote_of_etb_and_etlr_predicts_etb_once_and_round_trips(tmp_path: Path) -> None:
    a, b = synth(6, T0, seed=1), synth(4, T0, seed=2)
    train = LabelledFile("a", a.values, a.incident, 60.0)
    model = RiskModel(1800, ("etb", "etlr"), validation="blocked", refit_all=True).fit(
        [train], list(COLUMNS)
    )
    etb, etlr = model.fitted_["etb"], model.fitted_["etlr"]
    nested = zoo.SoftVote([etb, etlr])
    flat = zoo.flat_vote([etb, etlr])
    assert isinstance(flat, zoo.SoftVote) and len(flat.members) == 2
    assert flat.members[0] is etb and flat.members[1] is etlr.members[1]
    assert np.allclose(flat.weights, [0.75, 0.25])
    x = model.features(b.values, 60.0).matrix
    assert np.allclose(flat.predict_proba(x), nested.predict_proba(x), atol=1e-12)
    assert zoo.flat_vote([etb]) is etb and zoo.flat_vote([etb, etb]) is etb
    # the chosen vote is saved flattened and loads with its weights
    model.estimator_ = flat
    card = persist.model_card(model, {"files": ["a"]}, "2026-12-02T00:00:00Z")
    # a Foresight before the weights would average the members equally: it refuses v2
    assert card["card_version"] == 2
    loaded, _ = persist.load(persist.save(model, tmp_path / "vote", card))
    assert np.allclose(loaded.estimator_.weights, [0.75, 0.25])
    assert np.allclose(loaded.predict_proba(b.values, 60.0), nested.predict_proba(x)[:, 1])
    card_path = tmp_path / "vote" / persist.CARD_FILE
    card_path.write_text(json.dumps({**json.loads(card_path.read_text()), "card_version": 3}))
    with pytest.raises(InputError, match="unknown model card version 3"):
        persist.load(tmp_path / "vote")
    # a vote saved before weights existed (no attribute) keeps equal weights
    old = zoo.SoftVote([etb, etlr.members[1]])
    del old.weights
    assert np.allclose(old.predict_proba(x), etlr.predict_proba(x), atol=1e-12)
    model.estimator_ = old
    assert persist.model_card(model, {}, "2026-12-02T00:00:00Z")["card_version"] == 1


def test_etlr_is_scored_from_the_fold_s_etb_scores_as_its_own_vote() -> None:
    """In a validation fold, etlr's score is the mean of the scores etb and lr already
    gave those rows (no second prediction of the forest): the vote's own figures."""
    a, b = synth(6, T0, seed=1), synth(4, T0, seed=2)
    model = RiskModel(1800, ("etb", "etlr"))
    model.metrics_ = list(COLUMNS)
    model.feature_names_ = list(model.features(a.values, 60.0).names)
    x, y = model.features(a.values, 60.0).matrix, alarms.window_labels(a.incident, 30)
    x_val = model.features(b.values, 60.0).matrix
    fits: dict[str, object] = {}
    scores: dict[str, np.ndarray] = {}
    etb = model._fit_once("etb", x, y, fits)
    etlr = model._fit_once("etlr", x, y, fits)
    assert etlr.members[0] is etb
    etb_score = model._score_once("etb", etb, x_val, scores)
    etlr_score = model._score_once("etlr", etlr, x_val, scores)
    assert scores["etb"] is etb_score and set(scores) == {"etb", "lr"}
    assert np.array_equal(etlr_score, (etb_score + scores["lr"]) / 2)
    # the vote predicting the rows itself: the same up to the forest threads' summing order
    assert np.allclose(etlr_score, etlr.predict_proba(x_val)[:, 1], rtol=0, atol=1e-12)
