"""The ExtraTrees candidate (``et``): named on --models, ranks incidents, saved by skops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier

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
