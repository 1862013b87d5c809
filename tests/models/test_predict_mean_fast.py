"""The mean-only prediction path (``LagForecaster.predict_mean``, what live re-forecasts
and backtests call) equals ``predict_batch``'s mean bit for bit, and ``take_or_nan``
equals its ``np.clip`` form."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.models.features import take_or_nan
from predictor import LagForecaster


def test_take_or_nan_equals_the_clip_gather():
    rng = np.random.default_rng(1)
    values = rng.normal(size=50)
    idx = rng.integers(-20, 70, size=(40, 9))
    want = np.where((idx >= 0) & (idx < 50), values[np.clip(idx, 0, 49)], np.nan)
    assert take_or_nan(values, idx).tobytes() == want.tobytes()
    assert np.isnan(take_or_nan(np.zeros(0), idx)).all()


@pytest.mark.parametrize("transform", [None, "log1p"])
def test_predict_mean_equals_predict_batch_mean(transform):
    rng = np.random.default_rng(2)
    t = np.arange(3000)
    values = np.abs(40 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 3, len(t)))
    values[rng.random(len(t)) < 0.02] = np.nan
    kwargs = {} if transform is None else {"transform": transform}
    model = LagForecaster(horizon=12, **kwargs).fit(values[:2500])
    origins = np.arange(2400, 3000, 7)
    batch = model.predict_batch(values, origins)
    assert model.predict_mean(values, origins).tobytes() == batch.mean.tobytes()
    assert (batch.lower_80 <= batch.upper_80).all()
