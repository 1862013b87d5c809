"""The LSTM as a live candidate (issue 8, item 5): opt-in, fitted only in the fit worker,
served as numpy arrays (its forward pass in numpy), on its own cadence and CPU budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest

import main
from foresight.live import model_files
from foresight.live.forecasting import fit_served
from foresight.live.lstm_rounds import NOT_INSTALLED, LstmRounds, lstm_installed
from foresight.live.models import EXTRAS_KEY, TIERS, LiveModels
from foresight.models.numpy_lstm import NumpyLstm
from tests.conftest import ROOT
from tests.live.test_live_models import seed_history


def need_lstm() -> None:
    """Skip, saying why, unless Keras and JAX are installed (not imported here: Keras must
    first be told its backend, which only ``foresight.evaluation.lstm`` does)."""
    if not lstm_installed():
        pytest.skip(NOT_INSTALLED)


def tiny(n: int = 400) -> np.ndarray:
    t = np.arange(n)
    return 10 + 5 * np.sin(2 * np.pi * t / 48) + np.random.default_rng(0).normal(0, 0.3, n)


def random_lstm(horizon: int, seed: int = 0, mean: float = 40.0, scale: float = 10.0) -> NumpyLstm:
    """A NumpyLstm with the seeds' shape (64 -> 32 -> 16 -> horizon) and random weights."""
    rng = np.random.default_rng(seed)
    layers, inputs = [], 1
    for hidden in (64, 32, 16):
        layers.append(
            (
                rng.normal(0, 0.3, (4 * hidden, inputs)),
                rng.normal(0, 0.3, (4 * hidden, hidden)),
                rng.normal(0, 0.1, 4 * hidden),
            )
        )
        inputs = hidden
    out_w, out_b = rng.normal(0, 0.3, (horizon, 16)), rng.normal(0, 0.1, horizon)
    return NumpyLstm(horizon, 24, layers, out_w, out_b, mean=mean, scale=scale, clip_at_zero=True)


def served_lstm(values, ts, horizon, now):
    """A served LSTM (as the worker sends it back), scored beside the default candidates."""
    base = fit_served(
        "cpu_percent", values, ts, horizon=horizon, step_s=60.0, min_observed=horizon + 10, now=now
    )
    candidates = {**base.candidates, "lstm": 0.5 * base.candidates["last"]}
    return replace(
        base,
        name="lstm",
        model=random_lstm(horizon),
        history_steps=54,
        candidates=candidates,
        selection={**base.selection, "model": "lstm", "features": None},
    )


# -- the numpy forward pass ----------------------------------------------------------------
def test_numpy_forward_pass_matches_keras_on_a_tiny_model():
    need_lstm()
    from foresight.evaluation.lstm import LstmForecaster

    v = tiny()
    model = LstmForecaster(6, epochs=2).fit(v)
    exported = model.to_numpy()
    # the network itself, on windows it never saw, and on the training windows' scale
    windows = np.random.default_rng(1).normal(0, 1.5, (50, 24))
    keras_out = model.keras_output(windows)
    assert keras_out.shape == (50, 6) and np.std(keras_out) > 1e-3  # not a constant output
    assert np.max(np.abs(exported.network(windows) - keras_out)) <= 1e-5
    # whole forecasts: Keras's output de-standardised as predict_mean does, at every origin
    origins = np.arange(len(v) - 100, len(v))
    z = (v - model.mean_) / model.scale_
    keras_mean = (
        model.keras_output(model._windows(z, origins)) + z[origins][:, None]
    ) * model.scale_ + model.mean_
    ours = model.predict_mean(v, origins)
    assert ours.shape == (100, 6)
    assert np.max(np.abs(ours - np.maximum(keras_mean, 0.0))) <= 1e-5 * model.scale_

    # the gate order matters (Keras: input, forget, cell, output, as NumpyLstm): with the
    # forget and cell blocks of the first layer swapped the output moves well past 1e-5
    w_ih, w_hh, b = exported.layers_[0]
    h = w_hh.shape[1]
    swap = np.r_[0:h, 2 * h : 3 * h, h : 2 * h, 3 * h : 4 * h]
    exported.layers_[0] = (w_ih[swap], w_hh[swap], b[swap])
    assert np.max(np.abs(exported.network(windows) - keras_out)) > 1e-3


def test_weights_that_do_not_chain_are_refused():
    good = random_lstm(4)
    w_ih, w_hh, b = good.layers_[1]
    with pytest.raises(ValueError, match="do not chain"):
        NumpyLstm(
            4,
            24,
            [good.layers_[0], (w_ih[:, :10], w_hh, b)],
            good.out_w_,
            good.out_b_,
            mean=0.0,
            scale=1.0,
            clip_at_zero=False,
        )
    with pytest.raises(ValueError, match="dense weights"):
        NumpyLstm(
            5, 24, good.layers_, good.out_w_, good.out_b_, mean=0.0, scale=1.0, clip_at_zero=False
        )


def test_a_served_lstm_is_saved_as_arrays_and_json_and_forecasts_the_same(tmp_path):
    ts = 1_800_000_000.0 + 60.0 * np.arange(1500)
    values = 40 + 10 * np.sin(2 * np.pi * np.arange(1500) / 120)
    served = served_lstm(values, ts, 12, now=5.0)
    path = model_files.save_served(tmp_path, "cpu_percent", "1h", served)
    doc = json.loads(path.read_text())
    assert doc["name"] == "lstm" and doc["model"]["kind"] == "lstm"
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as arrays:  # never pickle
        assert arrays["lstm_w_hh_0"].shape == (256, 64)
        assert arrays["lstm_out_w"].shape == (12, 16)
    _, _, again = model_files.load_served(path)
    assert isinstance(again.model, NumpyLstm) and again.name == "lstm"
    origins = np.array([30, 900, 1499])
    assert np.array_equal(
        again.model.predict_mean(values, origins), served.model.predict_mean(values, origins)
    )
    assert again.accuracy(60.0)["model_words"] == "an LSTM network on the last 24 values"
    assert again.accuracy(60.0)["summary"].startswith(
        "an LSTM network on the last 24 values: error 50 % below repeating the last value"
    )


# -- the cadence and the CPU budget ------------------------------------------------------
def test_rounds_run_one_at_a_time_oldest_first_and_within_the_cpu_budget():
    rounds = LstmRounds(refit_s=3600.0, cpu_s_per_min=1.0)
    a, b = ("cpu_percent", "1h"), ("memory_percent", "1h")
    rounds.remember(a, 0.0)
    assert rounds.take(100.0, [(a, 60.0), (b, 60.0)]) == b  # never tried: first
    assert rounds.take(100.0, [(a, 60.0)]) is None  # one round at a time
    rounds.finished(b, 100.0, cpu_s=30.0, chosen=True)  # 30 CPU-s at 1 per minute
    assert rounds.take(100.0 + 29 * 60, [(a, 60.0)]) is None  # still paying for it
    assert rounds.take(100.0 + 30 * 60 + 1, [(a, 60.0), (b, 3600.0)]) == a
    rounds.finished(a, 1900.0, cpu_s=0.5, chosen=False)
    # b's round was at t=100: not due again before refit_s
    assert rounds.take(2000.0, [(a, 3600.0), (b, 3600.0)]) is None
    assert rounds.take(3800.0, [(a, 3600.0), (b, 3600.0)]) == b
    stats = rounds.stats()
    assert stats["rounds"] == 2 and stats["lstm_chosen"] == 1 and stats["cpu_s"] == 30.5
    assert stats["running"] == "memory_percent@1h"


def test_unspent_budget_is_capped_and_a_short_history_is_retried_sooner():
    rounds = LstmRounds(refit_s=86_400.0, cpu_s_per_min=0.5)
    key = ("cpu_percent", "1h")
    assert rounds.take(0.0, []) is None  # starts the clock
    rounds.take(10 * 86_400.0, [])  # ten idle days save at most an hour's worth (30 CPU-s)
    assert rounds.stats()["credit_s"] == 30.0
    assert rounds.wait_s(TIERS[0], scored=True) == 86_400.0
    assert rounds.wait_s(TIERS[0], scored=False) == 3600.0  # the tier's reselection time
    assert rounds.take(10 * 86_400.0, [(key, 3600.0)]) == key
    with pytest.raises(ValueError, match="must be > 0"):
        LstmRounds(refit_s=0.0, cpu_s_per_min=1.0)


# -- the monitor: opt-in, a clear error without the extra ---------------------------------
@pytest.mark.parametrize("how", ["flag", "env"])
def test_monitor_without_the_extra_refuses_the_lstm_with_exit_2(how, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "keras", None)  # as if the extra were not installed
    assert not lstm_installed()
    argv = ["--monitor", "--port", "0", "--data-dir", str(tmp_path / "data")]
    if how == "flag":
        argv.append("--lstm")
    else:
        monkeypatch.setenv("FORESIGHT_LSTM", "1")
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert ("--lstm" if how == "flag" else "FORESIGHT_LSTM=1") in err[0]
    assert "pip install -e .[lstm]" in err[0]
    assert not (tmp_path / "data").exists()  # nothing was opened or written


def test_the_lstm_is_off_unless_asked_for(monkeypatch):
    from foresight.cli.monitor import settings_from_args

    monkeypatch.delenv("FORESIGHT_LSTM", raising=False)
    assert not settings_from_args(main.build_parser().parse_args(["--monitor"])).forecast_lstm
    on = settings_from_args(main.build_parser().parse_args(["--monitor", "--lstm"]))
    assert on.forecast_lstm and on.forecast_lstm_refit_s == 86_400.0
    monkeypatch.setenv("FORESIGHT_LSTM", "yes please")
    with pytest.raises(main.InputError, match="FORESIGHT_LSTM must be 1 or 0"):
        settings_from_args(main.build_parser().parse_args(["--monitor"]))


# -- a served LSTM in the monitor: kept, re-anchored, shown --------------------------------
def saved_lstm_models(services, clock) -> LiveModels:
    seed_history(services.store, clock(), hours=8)
    ts, values = services.store.series("cpu_percent", clock() - 8 * 3600.0, clock() - 60.0, 60.0)
    keep = ~np.isnan(values)
    served = served_lstm(values[keep], ts[keep], TIERS[0].horizon_steps, now=clock())
    model_files.save_served(services.settings.data_dir, "cpu_percent", "1h", served)
    return served


def test_a_served_lstm_is_re_anchored_not_refitted_and_listed(services, clock, client):
    saved = saved_lstm_models(services, clock)
    live = LiveModels(
        services.store,
        lambda: ["cpu_percent"],
        tiers=(TIERS[0],),
        data_dir=services.settings.data_dir,
        lstm=LstmRounds(refit_s=86_400.0, cpu_s_per_min=0.5),
    )
    services.extras[EXTRAS_KEY] = live
    clock.advance(900)  # past FORECAST_REFIT_S: any other model would be refitted
    live.run(clock())
    state = live.state("cpu_percent", TIERS[0])
    assert state.model == "lstm" and state.fitted_at == saved.fitted_at  # not refitted
    assert state.forecast is not None and state.forecast_made_at == clock()  # re-anchored
    assert (state.forecast.lower_80 <= state.forecast.mean).all()
    assert (state.forecast.mean <= state.forecast.upper_80).all()
    assert live.lstm_stats()["rounds"] == 0  # its round is not due for a day
    row = client.get("/api/models").get_json()["models"][0]
    assert row["model"] == "lstm" and row["candidates"]["lstm"] == saved.candidates["lstm"]
    assert row["model_words"] == "an LSTM network on the last 24 values"
    assert row["summary"].startswith("an LSTM network on the last 24 values: error")
    live.close()


def test_with_the_lstm_off_a_saved_lstm_is_replaced_at_its_refit(services, clock):
    saved_lstm_models(services, clock)
    live = LiveModels(
        services.store,
        lambda: ["cpu_percent"],
        tiers=(TIERS[0],),
        data_dir=services.settings.data_dir,
        refit_steps=0,  # due at the next FORECAST_REFIT_S (refit_due)
    )
    assert live.state("cpu_percent", TIERS[0]).model == "lstm"  # served until its refit
    clock.advance(900)
    live.run(clock())
    state = live.state("cpu_percent", TIERS[0])
    assert state.status == "ok" and state.model != "lstm" and state.fitted_at == clock()
    assert "lstm" not in state.accuracy["candidates"]


def test_in_process_rounds_score_the_lstm_and_wait_for_the_budget(services, clock):
    need_lstm()
    seed_history(services.store, clock(), hours=8)
    t = np.arange(clock() - 8 * 3600.0, clock(), 30.0)
    services.store.append_many((float(a), {"memory_percent": 50 + 5 * np.sin(a / 900)}) for a in t)
    rate = 0.5
    rounds = LstmRounds(refit_s=86_400.0, cpu_s_per_min=rate)
    metrics = ["cpu_percent", "memory_percent"]
    live = LiveModels(services.store, lambda: metrics, tiers=(TIERS[0],), lstm=rounds)
    live.budget_s = 600.0  # a busy test machine must not split the runs
    live.run(clock())  # both fitted in-process, then one LSTM round: cpu_percent's
    cpu = live.state("cpu_percent", TIERS[0]).accuracy["candidates"]
    assert {"last", "ridge", "robust", "lstm"} <= set(cpu) and cpu["lstm"] > 0
    assert "lstm" not in live.state("memory_percent", TIERS[0]).accuracy["candidates"]
    stats = live.lstm_stats()
    assert stats["rounds"] == 1 and stats["cpu_s"] > 0 and stats["credit_s"] < 0
    owed_s = -stats["credit_s"] / rate * 60.0
    clock.advance(0.9 * owed_s)
    live.run(clock())  # memory_percent's round is due, but the budget is still overdrawn
    assert live.lstm_stats()["rounds"] == 1
    clock.advance(0.1 * owed_s + 15.0)
    live.run(clock())
    assert live.lstm_stats()["rounds"] == 2
    assert "lstm" in live.state("memory_percent", TIERS[0]).accuracy["candidates"]


# -- the real monitor process: fits (with LSTM rounds) in the worker, none of the frameworks here
MONITOR_PROCESS = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    from foresight.core.settings import Settings
    from foresight.live.services import build_services, stop
    from foresight.live.models import EXTRAS_KEY, TIERS
    from dashboard import create_app

    now = float(sys.argv[2])
    settings = Settings(data_dir=sys.argv[1], forecast_lstm=True, forecast_lstm_cpu_s_per_min=60.0)
    services = build_services(settings, now=now)
    app = create_app(services=services)
    live = services.extras[EXTRAS_KEY]
    live.metrics = lambda: ["cpu_percent", "memory_percent"]
    live.tiers = (TIERS[0],)
    live.run(now)
    assert live.wait_idle(600)
    live.run(now + 15)  # the LSTM round: memory_percent@1h (cpu_percent serves the LSTM)
    assert live.wait_idle(600)
    models = {f"{r['metric']}@{r['tier']}": r for r in app.test_client().get("/api/models").get_json()["models"]}
    cpu = live.state("cpu_percent", TIERS[0])
    report = {
        "pid": os.getpid(),
        "worker": live.worker_stats(),
        "lstm": live.lstm_stats(),
        "models": models,
        "cpu_forecast": None if cpu.forecast is None else len(cpu.forecast.mean),
        "served_types": sorted({type(s.model).__name__ for s in live._models.values()}),
        "loaded": sorted(m for m in ("torch", "jax", "keras", "tensorflow") if m in sys.modules),
    }
    stop(services)
    print(json.dumps(report))
    """
)


@pytest.mark.slow
def test_the_monitor_process_fits_the_lstm_elsewhere_and_forecasts_with_numpy(
    services, clock, tmp_path
):
    need_lstm()
    saved = saved_lstm_models(services, clock)
    t = np.arange(clock() - 8 * 3600.0, clock(), 30.0)
    memory = 50 + 10 * np.sin(2 * np.pi * t / 7200) + np.random.default_rng(1).normal(0, 1, len(t))
    services.store.append_many((float(a), {"memory_percent": float(b)}) for a, b in zip(t, memory))
    env = {
        k: v for k, v in os.environ.items() if k not in ("FORESIGHT_RISK_MODEL", "FORESIGHT_LSTM")
    }
    done = subprocess.run(
        [sys.executable, "-c", MONITOR_PROCESS, str(services.settings.data_dir), str(clock())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []  # Keras and JAX ran only in the worker
    assert report["worker"]["last_worker_pid"] not in (None, report["pid"])
    assert report["lstm"]["rounds"] == 1 and report["lstm"]["cpu_s"] > 0
    memory_row = report["models"]["memory_percent@1h"]
    assert memory_row["status"] == "ok" and memory_row["candidates"]["lstm"] > 0
    assert memory_row["model"] in memory_row["candidates"]
    cpu_row = report["models"]["cpu_percent@1h"]  # the saved LSTM: loaded, kept, forecast
    assert cpu_row["model"] == "lstm" and cpu_row["fitted_at"] == saved.fitted_at
    assert report["cpu_forecast"] == TIERS[0].horizon_steps
    assert "NumpyLstm" in report["served_types"] and "LstmForecaster" not in report["served_types"]
