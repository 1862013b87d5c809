"""The ``median`` candidate served live (issue 8): fitted, forecast inside its bands and
the metric's bounds, named in plain words, refitted with the same members, saved as plain
arrays + JSON and served again after a restart."""

from __future__ import annotations

import numpy as np

from foresight.evaluation.selection import model_words
from foresight.live import model_files
from foresight.live.fit_worker import FitJob, run_job
from foresight.live.forecasting import choose_served, fit_served, forecast_now, reuse_choice
from foresight.live.models import LiveModels
from foresight.live.tiers import Tier
from foresight.models.combination import MedianOf

STEP_S = 3600.0
HORIZON = 6
# The naive candidates: on noise around a level their median wins validation.
NAIVE = ("last", "seasonal", "seasonal-week", "median")
TIER = Tier("6h", STEP_S, HORIZON, 24 * 40)


def noise(n: int = 24 * 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return 1_700_000_000.0 + STEP_S * np.arange(n), 50 + rng.normal(0, 5, n)


def test_served_in_plain_words_inside_its_bands_and_bounds():
    ts, v = noise()
    served = choose_served(
        "cpu_percent", v, ts, horizon=HORIZON, step_s=STEP_S, min_observed=20, now=5.0, names=NAIVE
    )
    assert served.name == "median" and isinstance(served.model, MedianOf)
    assert served.model.names == served.members
    assert set(served.members) == {"last", "seasonal", "seasonal-week"}
    # It reads a week back: the history it is forecast from holds the widest member's.
    assert served.history_steps >= 168
    acc = served.accuracy(STEP_S)
    assert acc["model"] == "median" and acc["members"] == list(served.members)
    assert acc["model_words"].startswith("the median of repeating")
    assert acc["summary"].startswith(acc["model_words"] + ": error ")
    assert "below repeating the last value" in acc["summary"]
    assert acc["mase"] == served.candidates["median"] < served.candidates["last"]
    tail = slice(len(v) - served.history_steps, len(v))
    fc = forecast_now(served, v[tail], ts[tail], STEP_S)
    assert np.all(fc.lower_80 <= fc.mean) and np.all(fc.mean <= fc.upper_80)
    assert np.all(fc.lower_95 <= fc.lower_80) and np.all(fc.upper_80 <= fc.upper_95)
    assert np.all(fc.lower_95 >= 0) and np.all(fc.upper_95 <= 100)  # a percent
    expected = served.model.predict_mean(v[tail], np.array([len(v[tail]) - 1]), ts[tail])[0]
    assert np.allclose(fc.mean, np.clip(expected, 0, 100))


def test_words_name_the_members_in_order():
    ts, v = noise()
    served = choose_served(
        "cpu_percent", v, ts, horizon=HORIZON, step_s=STEP_S, min_observed=20, now=5.0, names=NAIVE
    )
    order = {
        "last": "repeating the last value",
        "seasonal": "repeating the same time one day before",
        "seasonal-week": "repeating the same time one week before",
    }
    a, b, c = (order[m] for m in served.members)
    assert served.words() == f"the median of {a}, {b} and {c}"


def test_refits_keep_the_members_in_process_and_in_the_fit_worker():
    ts, v = noise()
    first = choose_served(
        "cpu_percent", v, ts, horizon=HORIZON, step_s=STEP_S, min_observed=20, now=5.0, names=NAIVE
    )
    ts2, v2 = noise(24 * 41)
    again = fit_served(
        "cpu_percent",
        v2,
        ts2,
        horizon=HORIZON,
        step_s=STEP_S,
        min_observed=20,
        now=65.0,
        previous=first,
    )
    assert again.name == "median" and again.members == first.members
    assert again.fitted_at == 65.0 and again.selected_at == 5.0
    reuse = reuse_choice(first, 65.0)
    assert reuse is not None and reuse["members"] == list(first.members)
    job = FitJob("cpu_percent", "6h", v2, ts2, HORIZON, STEP_S, 20, 65.0, reuse=reuse)
    outcome = run_job(job)
    assert outcome.kind == "model" and outcome.doc is not None
    assert outcome.doc["kind"] == "median"
    model = model_files.model_from_payload(outcome.doc, outcome.arrays)
    origins = np.array([len(v2) - 1])
    assert np.array_equal(
        model.predict_mean(v2, origins, ts2), again.model.predict_mean(v2, origins, ts2)
    )


def test_survives_a_restart_through_the_model_files(store, tmp_path):
    ts, v = noise()
    store.append_many((float(t), {"cpu_percent": float(x)}) for t, x in zip(ts, v))
    now = float(ts[-1]) + STEP_S + 1.0
    live = LiveModels(store, lambda: ["cpu_percent"], tiers=(TIER,), data_dir=tmp_path)
    before = live.refit("cpu_percent", TIER, now, names=NAIVE)
    assert before.status == "ok" and before.model == "median"
    doc = (tmp_path / "models" / "cpu_percent@6h.json").read_text(encoding="utf-8")
    assert '"kind": "median"' in doc
    with np.load(tmp_path / "models" / "cpu_percent@6h.npz", allow_pickle=False) as arrays:
        assert "pool" in arrays  # the median's own band pool; its members keep no arrays
    fresh = LiveModels(store, lambda: ["cpu_percent"], tiers=(TIER,), data_dir=tmp_path)
    loaded = fresh.state("cpu_percent", TIER)
    assert loaded.status == "ok" and loaded.model == "median"
    assert loaded.accuracy == before.accuracy
    row = next(r for r in fresh.overview() if r["tier"] == "6h")
    assert row["model"] == "median" and len(row["members"]) == 3
    assert row["model_words"] == model_words("median", None, tuple(row["members"]))
    assert set(row["members"]) == {"last", "seasonal", "seasonal-week"}
    fresh.run(now)  # not due for a refit: forecasts from the loaded model
    fresh.wait_idle()
    again = fresh.state("cpu_percent", TIER)
    assert again.model == "median" and again.fitted_at == before.fitted_at
    assert np.allclose(again.forecast.mean, before.forecast.mean)
