"""The ``median`` candidate (issue 8): the per-step median of the three best other
candidates on the same validation origins, chosen by the same rule as any candidate,
scored on the test origins by ``backtest``'s own loop, forced by ``--model median``."""

from __future__ import annotations

import json
import math

import numpy as np

import main
from foresight.evaluation.backtest import backtest, point_forecasts
from foresight.evaluation.metrics import mase_on
from foresight.evaluation.selection import (
    DEFAULT_CANDIDATES,
    TOLERANCE,
    make_model,
    rolling_means,
    select,
)

STEP_S = 3600.0
# The naive candidates only: on iid noise around a level each repeats one past noisy
# value (the last, a day back, a week back), and the median of three cancels some noise.
NAIVE = ("last", "seasonal", "seasonal-week", "median")


def stamps(n: int) -> np.ndarray:
    return 1_700_000_000.0 + STEP_S * np.arange(n)


def noise(n: int = 24 * 40, seed: int = 0) -> np.ndarray:
    return 100 + np.random.default_rng(seed).normal(0, 5, n)


def walk(n: int = 24 * 40, seed: int = 0) -> np.ndarray:
    return 100 + np.cumsum(np.random.default_rng(seed).normal(0, 1, n))


def test_median_is_a_default_candidate_and_forcible():
    assert "median" in DEFAULT_CANDIDATES
    v = noise()
    chosen = select(v, stamps(len(v)), horizon=6, step_s=STEP_S, force="median")
    assert chosen.model == "median" and len(chosen.members) == 3
    # Forced alone, its members are still the best of the default candidates.
    assert set(chosen.members) <= set(DEFAULT_CANDIDATES) - {"median"}
    assert chosen.to_dict()["members"] == list(chosen.members)


def test_its_validation_forecast_is_the_median_of_the_three_best_others():
    v = noise()
    ts = stamps(len(v))
    chosen = select(v, ts, horizon=6, step_s=STEP_S)
    others = {k: s for k, s in chosen.candidates.items() if k != "median"}
    best3 = sorted(others, key=lambda k: others[k])[:3]
    assert list(chosen.members) == best3
    # Recompute each member's validation forecasts with the same loop: the median of
    # them is scored on the same pairs as the others.
    forced = select(v, ts, horizon=6, step_s=STEP_S, force="median")
    assert forced.candidates == chosen.candidates
    origins = forced.validation_origins
    assert origins is not None and forced.validation_mean is not None
    each = []
    for name, spec in forced.member_choice():
        mean, failed, _, _ = rolling_means(
            v,
            ts,
            origins,
            lambda name=name, spec=spec: make_model(name, 6, step_s=STEP_S, features=spec),
            6,
            3,
        )
        assert failed == 0
        each.append(mean)
    assert np.allclose(forced.validation_mean, np.median(np.stack(each), axis=0))


def test_chosen_on_a_series_where_it_wins_validation():
    v = noise()
    chosen = select(v, stamps(len(v)), horizon=6, step_s=STEP_S, names=NAIVE)
    assert chosen.model == "median"
    assert set(chosen.members) == {"last", "seasonal", "seasonal-week"}
    best_other = min(s for k, s in chosen.candidates.items() if k != "median")
    assert chosen.candidates["median"] * (1 + TOLERANCE) < best_other
    # backtest chooses it on the span before its test origins and scores it there.
    r = backtest(v, stamps(len(v)), horizon=6, candidates=NAIVE).to_dict()
    assert r["model"] == "median" and "median" in r["candidates"]
    assert r["mase"] < r["naive_mase"]


def test_never_served_when_it_loses_to_the_last_value_on_validation():
    v = walk()
    chosen = select(v, stamps(len(v)), horizon=6, step_s=STEP_S, names=NAIVE)
    c = chosen.candidates
    # The median is the runner-up (better than a day or a week back) but loses to the
    # last value: the last value is served.
    assert c["median"] < min(c["seasonal"], c["seasonal-week"])
    assert c["median"] > c["last"]
    assert chosen.model == "last"


def test_within_the_tolerance_the_simpler_single_model_is_served():
    # The lag models nearly agree here, so their median ties with the middle one, within
    # the tolerance of the best: a single model wins the tie (median is the last in order).
    v = noise()
    names = ("last", "seasonal", "ridge", "robust", "ridge-log", "median")
    chosen = select(v, stamps(len(v)), horizon=6, step_s=STEP_S, names=names)
    c = chosen.candidates
    assert set(chosen.members) == {"ridge", "robust", "ridge-log"}
    assert c["median"] <= min(c.values()) * (1 + TOLERANCE)
    assert chosen.model == "ridge"


def test_backtest_scores_the_members_refitted_on_every_test_chunk():
    v = noise()
    ts = stamps(len(v))
    f = point_forecasts(v, ts, horizon=6, model="median")
    assert f.chosen.model == "median"
    each = []
    for name, spec in f.chosen.member_choice():
        mean, failed, _, _ = rolling_means(
            f.raw,
            ts,
            f.origins,
            lambda name=name, spec=spec: make_model(
                name, 6, step_s=STEP_S, features=spec, params={"season_length": "auto"}
            ),
            6,
            8,
        )
        assert failed == 0
        each.append(mean)
    assert np.array_equal(f.ours, np.median(np.stack(each), axis=0))
    r = backtest(v, ts, horizon=6, model="median").to_dict()
    expected = mase_on(np.clip(f.ours, 0, None) - f.actual, f.mask, f.scale)
    assert math.isclose(r["mase"], round(expected, 6), rel_tol=1e-9)


def test_backtest_cli_model_median(tmp_path, capsys):
    v = noise()
    path = tmp_path / "s.csv"
    path.write_text(
        "t,load\n" + "".join(f"{int(t)},{x:.6f}\n" for t, x in zip(stamps(len(v)), v)),
        encoding="utf-8",
    )
    code = main.main(
        [
            "backtest",
            "--csv",
            str(path),
            "--value-col",
            "load",
            "--time-col",
            "t",
            "--horizon",
            "6",
            "--model",
            "median",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["model"] == "median" and "median" in out["candidates"]
    assert out["mase"] <= out["naive_mase"]
