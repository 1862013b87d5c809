"""A history with no finite value gets no forecast and says why; inf is never served."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from foresight.live.forecasting import (
    choose_served,
    fast_start_served,
    fit_served,
    forecast_now,
)

STEP_S = 10.0
TS = 1_796_000_000.0 + STEP_S * np.arange(200)
KW = dict(horizon=30, step_s=STEP_S, min_observed=40, now=TS[-1] + STEP_S)


@pytest.mark.parametrize(
    ("values", "what"),
    [
        (np.full(200, math.inf), "all are +-inf"),
        (np.full(200, -math.inf), "all are +-inf"),
        (np.r_[np.full(150, math.inf), np.full(50, math.nan)], "150 are +-inf and 50 NaN"),
        (np.full(200, math.nan), "all are NaN"),
    ],
)
def test_no_finite_value_is_refused_in_words(values, what):
    expected = f"none of the 200 values in the history is a finite number ({what})"
    for fit in (
        lambda: choose_served("x", values, TS, **KW),
        lambda: fit_served("x", values, TS, **KW),
        lambda: fast_start_served("x", values, 30, KW["now"]),
    ):
        with pytest.raises(ValueError, match=re.escape(expected)):
            fit()  # before: the last value, serving inf (NaN: a warning and NaN bands)


def test_an_infinite_stretch_is_a_gap_and_the_forecast_stays_finite():
    rng = np.random.default_rng(4)
    values = 40 + rng.normal(0, 2, 200)
    values[120:140] = math.inf
    values[-1] = -math.inf  # even as the newest bucket
    served = choose_served("x", values, TS, **KW)
    forecast = forecast_now(served, values, TS, STEP_S)
    for band in (forecast.mean, forecast.lower_80, forecast.upper_80, forecast.upper_95):
        assert np.isfinite(band).all()
    assert 30 < float(forecast.mean[0]) < 50
    assert np.isinf(values[-1])  # the caller's array is left as it was
