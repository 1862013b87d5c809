"""The shared SMD files load as the risk pipeline expects (skips without ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foresight.risk import alarms
from foresight.risk.data import read_metric_file
from foresight.risk.features import build_features, max_z_score
from foresight.risk.model import pr_auc


def test_an_smd_machine_reads_from_gzip_and_gives_finite_causal_features(
    shared_data: Path,
) -> None:
    f = read_metric_file(shared_data / "smd" / "machine-1-2_test.csv.gz", "label", "t_s")
    assert f.step_s == 60.0 and len(f.metrics) == 38 and f.incident is not None
    assert 0 < f.incident.mean() < 0.2
    feats = build_features(f.values, list(f.metrics), f.step_s)
    assert np.isfinite(feats.matrix).all()
    assert feats.matrix.shape == (len(f.values), 7 * 38 + 13)
    # the unsupervised rule ranks incident minutes above the base rate (no labels used)
    target = alarms.window_labels(f.incident, 30)
    assert (pr_auc(target, max_z_score(f.values, f.step_s)) or 0) > 1.5 * target.mean()
