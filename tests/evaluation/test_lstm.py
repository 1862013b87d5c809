"""The optional LSTM candidate: trained on a tiny series when Keras 3 and JAX are installed."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.evaluation.backtest import backtest
from foresight.evaluation.selection import make_model
from foresight.live.lstm_rounds import NOT_INSTALLED, lstm_installed

# not importorskip("keras"): Keras must be imported on the jax backend, by foresight's code
pytestmark = pytest.mark.skipif(not lstm_installed(), reason=NOT_INSTALLED)


def tiny(n: int = 600) -> np.ndarray:
    t = np.arange(n)
    return 10 + 5 * np.sin(2 * np.pi * t / 48) + np.random.default_rng(0).normal(0, 0.3, n)


def test_lstm_learns_a_cycle_better_than_the_last_value():
    v = tiny()
    model = make_model("lstm", 12, step_s=300.0)
    model.epochs = 25
    model.fit(v[:500])
    origins = np.arange(500, 580)
    mean = model.predict_mean(v, origins)
    actual = v[origins[:, None] + np.arange(1, 13)[None, :]]
    last = np.repeat(v[origins][:, None], 12, axis=1)
    assert mean.shape == (80, 12) and np.all(np.isfinite(mean))
    assert np.abs(mean - actual).mean() < np.abs(last - actual).mean()


def test_lstm_fits_repeat_with_the_same_seed():
    v = tiny(300)
    a = make_model("lstm", 6, step_s=300.0).fit(v).predict_mean(v, np.array([299]))
    b = make_model("lstm", 6, step_s=300.0).fit(v).predict_mean(v, np.array([299]))
    assert np.allclose(a, b)


def test_lstm_enters_the_backtest_when_asked():
    r = backtest(tiny(900), horizon=6, model="lstm", n_refits=2).to_dict()
    assert r["model"] == "lstm" and "lstm" in r["candidates"] and r["mase"] > 0
