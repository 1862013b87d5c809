"""``MedianOf``: the per-step median of its members' forecasts (issue 8's ``median``)."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.evaluation.selection import make_model
from foresight.live import model_files
from foresight.models.baselines import LastValue, SeasonalNaive
from foresight.models.combination import MedianOf, median_of

STEP_S = 3600.0


def series(n: int = 24 * 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = 50 + 10 * np.sin(2 * np.pi * t / 24) + np.cumsum(rng.normal(0, 1, n))
    return 1_700_000_000.0 + STEP_S * t, v


def test_the_forecast_is_the_per_step_median_of_the_members():
    ts, v = series()
    members = [
        LastValue(6),
        SeasonalNaive(6, 24),
        make_model("ridge", 6, step_s=STEP_S),
    ]
    model = MedianOf(members, names=["last", "seasonal", "ridge"]).fit(v[:600], ts[:600])
    origins = np.array([600, 650, 700])
    each = np.stack([m.predict_mean(v, origins, ts) for m in members])
    got = model.predict_mean(v, origins, ts)
    assert got.shape == (3, 6)
    assert np.array_equal(got, np.median(each, axis=0))
    # Not the mean, nor any one member (the three disagree on this series).
    assert not np.allclose(got, each.mean(axis=0))
    for one in each:
        assert not np.array_equal(got, one)
    # Every step lies between the members' smallest and largest forecast.
    assert np.all(each.min(axis=0) <= got) and np.all(got <= each.max(axis=0))


def test_a_missing_member_forecast_leaves_a_gap():
    stack = np.array([[[1.0, 2.0]], [[3.0, np.nan]], [[2.0, 5.0]]])
    assert np.array_equal(median_of(stack), np.array([[2.0, np.nan]]), equal_nan=True)


def test_members_must_agree_on_the_horizon():
    with pytest.raises(ValueError, match="different horizons"):
        MedianOf([LastValue(6), LastValue(12)])
    with pytest.raises(ValueError, match="at least one"):
        MedianOf([])
    with pytest.raises(ValueError, match="members"):
        make_model("median", 6, step_s=STEP_S)


def test_saved_as_plain_arrays_and_loaded_back_to_the_same_forecast():
    ts, v = series()
    model = make_model(
        "median",
        6,
        step_s=STEP_S,
        members=(("ridge", None), ("seasonal", None), ("robust", None)),
    ).fit(v[:600], ts[:600])
    doc, arrays = model_files.model_payload(model)
    assert doc["kind"] == "median" and [m["kind"] for m in doc["members"]] == [
        "lag",
        "seasonal",
        "lag",
    ]
    # Each member's arrays under its own prefix, nothing unprefixed, no object arrays.
    assert {"m0_coef", "m2_coef"} <= set(arrays) and all(k[0] == "m" for k in arrays)
    assert all(a.dtype != object for a in arrays.values())
    again = model_files.model_from_payload(doc, arrays)
    assert isinstance(again, MedianOf) and again.names == ("ridge", "seasonal", "robust")
    origins = np.array([600, 719 - 6])
    assert np.array_equal(again.predict_mean(v, origins, ts), model.predict_mean(v, origins, ts))
    # The two lag members are told apart by their prefix: swapping them changes the model.
    swapped = {**arrays, "m0_coef": arrays["m2_coef"] * 0}
    assert not np.array_equal(
        model_files.model_from_payload(doc, swapped).members[0].coef_, again.members[0].coef_
    )
