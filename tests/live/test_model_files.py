"""Saved models (issue 8): JSON + numpy arrays under the data dir, loaded at start, no pickle."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from foresight.evaluation.selection import make_model
from foresight.live import model_files
from foresight.live.forecasting import fit_served
from foresight.live.models import EXTRAS_KEY, SHORT_TIER, TIERS, LiveModels
from tests.live.test_live_models import seed_history

STEP_S = 60.0


def daily(n: int) -> tuple[np.ndarray, np.ndarray]:
    t = 1_700_000_000.0 + STEP_S * np.arange(n)
    rng = np.random.default_rng(0)
    return t, 30 + 10 * np.sin(2 * np.pi * np.arange(n) / 120) + rng.normal(0, 1, n)


@pytest.mark.parametrize("name", ["last", "seasonal", "lags", "ridge", "robust", "ridge-log"])
def test_every_model_kind_round_trips_to_identical_forecasts(tmp_path, name):
    ts, v = daily(3000)
    model = make_model(name, 12, step_s=STEP_S).fit(v, ts)
    served = fit_served("cpu_percent", v, ts, horizon=12, step_s=STEP_S, min_observed=20, now=5.0)
    served = type(served)(**{**{f: getattr(served, f) for f in served.__slots__}, "model": model})
    model_files.save_served(tmp_path, "cpu_percent", "1h", served)
    metric, tier, again = model_files.load_served(tmp_path / "models" / "cpu_percent@1h.json")
    assert (metric, tier) == ("cpu_percent", "1h")
    origins = np.array([2500, 2999])
    assert np.array_equal(
        again.model.predict_mean(v, origins, ts), model.predict_mean(v, origins, ts)
    )
    assert np.array_equal(again.conformal.pool, served.conformal.pool, equal_nan=True)
    # The band's scale is part of the calibration: the same widths after a restart.
    assert again.conformal.spread_window == served.conformal.spread_window
    assert np.array_equal(again.conformal.scale(v, origins), served.conformal.scale(v, origins))
    assert again.candidates == served.candidates and again.fitted_at == 5.0


def test_models_survive_a_restart(services, clock):
    live = services.extras[EXTRAS_KEY]
    seed_history(services.store, clock(), hours=8)
    before = live.refit("cpu_percent", TIERS[0], clock())
    assert (services.settings.data_dir / "models" / "cpu_percent@1h.npz").is_file()
    fresh = LiveModels(services.store, lambda: ["cpu_percent"], data_dir=services.settings.data_dir)
    loaded = fresh.state("cpu_percent", TIERS[0])
    assert loaded.status == "ok" and loaded.model == before.model
    assert loaded.fitted_at == before.fitted_at and loaded.accuracy == before.accuracy
    fresh.run(clock())  # not due for a refit: forecasts from the loaded model only
    fresh.wait_idle()  # the fit worker answers on its own thread
    again = fresh.state("cpu_percent", TIERS[0])
    assert again.fitted_at == before.fitted_at
    assert np.allclose(again.forecast.mean, before.forecast.mean)


def test_live_outcomes_per_step_survive_a_restart_and_old_files_still_load(tmp_path):
    ts, v = daily(3000)
    served = fit_served("cpu_percent", v, ts, horizon=12, step_s=STEP_S, min_observed=20, now=5.0)
    steps = np.array([0, 0, 0, 1, 5, 0])  # uneven: the even estimate would differ
    misses = {lv: np.array([1.0, 0.0, 1.0, 0.0, 1.0, 1.0]) for lv in (80, 95)}
    conformal = served.conformal.observe(steps, misses)
    served = type(served)(
        **{**{f: getattr(served, f) for f in served.__slots__}, "conformal": conformal}
    )
    path = model_files.save_served(tmp_path, "cpu_percent", "1h", served)
    again = model_files.load_served(path)[2].conformal
    assert again.seen is not None and again.seen_per_step().tolist() == conformal.seen.tolist()
    assert again.seen_per_step()[:2].tolist() == [4.0, 1.0]
    more = np.array([0]), {lv: np.array([1.0]) for lv in (80, 95)}
    for level in (80, 95):  # the next ACI step is the one it would have been without a restart
        assert np.array_equal(
            again.observe(*more).alpha[level], conformal.observe(*more).alpha[level]
        )
    # a file from before ``seen`` was saved still loads, the count estimated as before
    with np.load(path.with_suffix(".npz")) as arrays:
        old = {k: arrays[k] for k in arrays.files if k != "seen"}
    np.savez(path.with_suffix(".npz"), **old)
    estimated = model_files.load_served(path)[2].conformal
    assert estimated.seen is None and estimated.seen_per_step().tolist() == [0.5] * 12


def test_unreadable_or_pickled_files_are_skipped_not_loaded(tmp_path, caplog):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "broken@1h.json").write_text("{not json")
    doc = {"format": 1, "metric": "evil", "tier": "1h", "model": {"kind": "last", "horizon": 3}}
    (folder / "evil@1h.json").write_text(json.dumps(doc))
    np.save(folder / "evil@1h.npy", np.array([object()], dtype=object), allow_pickle=True)
    (folder / "evil@1h.npy").rename(folder / "evil@1h.npz")  # object arrays need pickle
    with caplog.at_level(logging.WARNING):
        assert model_files.load_all(tmp_path) == {}
    assert "broken@1h.json" in caplog.text and "evil@1h.json" in caplog.text


def test_series_keys_with_devices_and_targets_are_saved_inside_the_models_folder(tmp_path):
    ts, v = daily(400)
    served = fit_served(
        "x", v, ts, horizon=SHORT_TIER.horizon_steps, step_s=10.0, min_observed=6, now=1.0
    )
    keys = [
        "net_sent_bytes_per_s:eth0",
        "cpu_percent@host:9100",
        "cpu_percent@host_9100",  # must not collide with the key above
        "../etc/passwd",
        "q" * 300 + "@" + "t" * 300,  # longer than a file name may be
    ]
    for key in keys:
        path = model_files.save_served(tmp_path, key, "5m", served)
        assert path.parent == tmp_path / "models" and len(path.name) < 255
    assert not (tmp_path / "etc").exists()
    loaded = model_files.load_all(tmp_path)
    assert sorted(loaded) == sorted((key, "5m") for key in keys)
    with pytest.raises(ValueError, match="cannot name"):
        model_files.save_served(tmp_path, "cpu_percent", "../5m", served)


def test_the_notes_say_why_the_last_value_is_served(tmp_path):
    """Honest reasons: a flat series has nothing to learn; alone, the last value beat nothing."""
    ts, v = daily(400)
    flat = fit_served(
        "swap_percent", np.full(60, 3.0), ts[:60], horizon=6, step_s=10.0, min_observed=6, now=1.0
    )
    assert flat.fast_start and "has not changed" in flat.accuracy(10.0)["summary"]
    short = fit_served(
        "cpu_percent", v[:16], ts[:16], horizon=6, step_s=10.0, min_observed=6, now=1.0
    )
    assert set(short.candidates) == {"last"}  # the others could not be fitted yet
    assert "nothing else could be tried yet" in short.accuracy(10.0)["summary"]
    # the restart keeps the reason
    model_files.save_served(tmp_path, "swap_percent", "5m", flat)
    again = model_files.load_all(tmp_path)[("swap_percent", "5m")]
    assert "has not changed" in again.accuracy(10.0)["summary"]
