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


def test_a_spent_time_budget_stops_training_keeps_the_best_epoch_and_says_so():
    from foresight.evaluation.lstm import LstmForecaster
    from foresight.models.numpy_lstm import NumpyLstm

    v = tiny(400)
    # A budget spent by the first batch: training stops after it, whatever ``epochs`` says.
    cut = LstmForecaster(horizon=6, epochs=50, time_budget_s=1e-3).fit(v)
    record = cut.training_
    assert record["stopped_by_budget"] and record["epochs_run"] < 50
    assert record["budget_s"] == 1e-3 and np.isfinite(cut.final_loss_)
    full = LstmForecaster(horizon=6, epochs=3, time_budget_s=600.0).fit(v)
    assert not full.training_["stopped_by_budget"] and full.training_["epochs_run"] == 3
    assert full.final_loss_ == pytest.approx(min(full.net_.history.history["loss"]))
    # The record is part of the served model's JSON, and survives saving.
    served = full.to_numpy()
    again = NumpyLstm.from_parts(served.params(), served.arrays())
    assert again.training_ == full.training_


def test_the_compilation_cache_is_written_where_configured(tmp_path):
    # In a child interpreter, as in the fit worker: JAX reads its cache settings once.
    import subprocess
    import sys

    from foresight.evaluation import lstm

    cache = tmp_path / "jax-cache"
    code = (
        "import numpy as np\n"
        "from foresight.evaluation import lstm\n"
        f"lstm.configure(compile_cache_dir={str(cache)!r})\n"
        "v = 10 + np.sin(np.arange(300) / 8)\n"
        "lstm.LstmForecaster(horizon=6, epochs=1).fit(v)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert any(cache.iterdir())  # compiled programs kept on disk for the next fit
    with pytest.raises(ValueError, match="-1"):
        lstm.configure(fit_budget_s=-1)
