"""Online adaptive conformal bands (issue 8): live outcomes move each step's miss rate
(Gibbs & Candès 2021), the bands stay around their point and in bounds, and the learned
state is saved with the model."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.live.models import EXTRAS_KEY, SHORT_TIER, LiveModels
from foresight.live.online_bands import OnlineBands
from foresight.models.aci import GAMMA0, step_size
from foresight.models.bands import Forecast
from foresight.models.conformal import ConformalState, aci_step
from tests.live.test_live_models import seed_history


def state(horizon: int = 3, gamma: float = 0.01) -> ConformalState:
    pool = np.tile(np.arange(1.0, 101.0)[:, None], (1, horizon))  # scores 1..100 per step
    alpha = {80: np.full(horizon, 0.2), 95: np.full(horizon, 0.05)}
    return ConformalState(pool=pool, alpha=alpha, offset=1.0, gamma=gamma)


def test_one_outcome_is_one_aci_step_at_its_own_step():
    s = state().observe(np.array([0, 1]), {80: np.array([1.0, 0.0]), 95: np.array([0.0, 0.0])})
    # The first outcome at a step is taken with ACI's first step size, GAMMA0 / sqrt(1).
    assert s.alpha[80][0] == pytest.approx(0.2 + GAMMA0 * (0.2 - 1.0))  # a miss: wider
    assert s.alpha[80][1] == pytest.approx(0.2 + GAMMA0 * 0.2)  # a hit: narrower
    assert s.alpha[80][2] == 0.2  # no outcome at step 3 yet
    assert s.online == {80: (2, 1), 95: (2, 2)} and s.online_coverage(80) == 0.5


def test_misses_widen_the_band_and_alpha_stays_bounded():
    s = state()
    before = s.half_widths()[80].copy()
    for _ in range(200):
        s = s.observe(np.array([0]), {80: np.array([1.0]), 95: np.array([1.0])})
    assert s.half_widths()[80][0] > before[0] and s.half_widths()[80][1] == before[1]
    assert s.alpha[80][0] == pytest.approx(-s.gamma)  # Gibbs & Candès' bound
    assert aci_step(np.array([1.45]), np.array([0.0]), 80, 0.5)[0] == 1.5  # 1 + gamma


def forecast(mean: float, half: float, horizon: int = 3) -> Forecast:
    m = np.full(horizon, mean)
    return Forecast(
        timestamps=None,
        step_s=10.0,
        mean=m,
        lower_80=m - half,
        upper_80=m + half,
        lower_95=m - 2 * half,
        upper_95=m + 2 * half,
    )


def test_each_step_is_scored_once_when_its_bucket_completes():
    bands = OnlineBands()
    bands.remember(("cpu", "5m"), 100.0, forecast(50.0, 5.0))  # steps aim at 110, 120, 130
    ts = np.array([100.0, 110.0, 120.0])
    steps, misses, errors = bands.outcomes(("cpu", "5m"), ts, np.array([50.0, 52.0, 70.0]), 10.0)
    assert steps.tolist() == [0, 1] and misses[80].tolist() == [0.0, 1.0]
    assert errors.tolist() == [2.0, 20.0]  # |actual - forecast|: the live residuals
    assert misses[95].tolist() == [0.0, 1.0]  # 70 is outside 50 +- 10 too
    again, _, _ = bands.outcomes(("cpu", "5m"), ts, np.array([50.0, 52.0, 70.0]), 10.0)
    assert len(again) == 0  # never twice
    ts = np.array([110.0, 120.0, 130.0])
    steps, misses, _ = bands.outcomes(("cpu", "5m"), ts, np.array([52.0, 70.0, np.nan]), 10.0)
    assert len(steps) == 0  # a gap gives no outcome, and the forecast is done
    assert bands.outcomes(("cpu", "5m"), ts, np.array([1.0, 1.0, 1.0]), 10.0)[0].size == 0


def test_live_misses_widen_the_served_band_and_survive_a_restart(services, clock):
    live = services.extras[EXTRAS_KEY]
    live.metrics = lambda: ["cpu_percent"]
    live.tiers = (SHORT_TIER,)
    live.refit_every_s = 3600.0  # no refit in the ten minutes below
    seed_history(services.store, clock(), hours=3, step_s=5.0)
    first = live.refit("cpu_percent", SHORT_TIER, clock())
    assert first.status == "ok" and not first.accuracy["fast_start"]
    width0 = first.forecast.upper_80 - first.forecast.lower_80
    alpha0 = live._models[("cpu_percent", "5m")].conformal.alpha[80].copy()
    rng = np.random.default_rng(5)
    start = clock()
    for k in range(60):  # ten minutes of wild swings the model never saw
        t0 = start + 10 * k
        services.store.append_many(
            (t0 + i, {"cpu_percent": float(np.clip(50 + rng.normal(0, 30), 0, 100))})
            for i in range(10)
        )
        clock.advance(10)
        live.run(clock())
        fc = live.state("cpu_percent", SHORT_TIER).forecast
        assert np.all(fc.lower_80 <= fc.mean) and np.all(fc.mean <= fc.upper_80)
        assert np.all(fc.lower_95 <= fc.lower_80) and np.all(fc.upper_80 <= fc.upper_95)
        assert fc.lower_95.min() >= 0 and fc.upper_95.max() <= 100
    assert live.wait_idle(120)
    now = live.state("cpu_percent", SHORT_TIER)
    assert now.fitted_at == first.fitted_at  # no refit: the bands learned online
    acc = now.accuracy
    assert acc["live_outcomes"] > 100 and acc["live_coverage_80"] < 0.8
    assert "online" in acc["interval_method"]
    served = live._models[("cpu_percent", "5m")]
    assert served.conformal.alpha[80].mean() < alpha0.mean()  # misses: a lower miss rate aimed for
    width = now.forecast.upper_80 - now.forecast.lower_80
    assert np.median(width) > np.median(width0)
    live.close()  # shutdown saves the live band state with the model
    fresh = LiveModels(services.store, lambda: ["cpu_percent"], data_dir=services.settings.data_dir)
    loaded = fresh._models[("cpu_percent", "5m")].conformal
    assert np.array_equal(loaded.alpha[80], served.conformal.alpha[80])
    assert loaded.online == served.conformal.online


class LoopBands:
    """The per-forecast loop the vectorised OnlineBands replaced (the reference)."""

    def __init__(self) -> None:
        self.queue: list[list] = []  # [origin_ts, lower, upper, scored]

    def remember(self, origin_ts: float, f: Forecast) -> None:
        if self.queue and self.queue[-1][0] >= origin_ts:
            self.queue.pop()
        lower = {80: np.asarray(f.lower_80), 95: np.asarray(f.lower_95)}
        upper = {80: np.asarray(f.upper_80), 95: np.asarray(f.upper_95)}
        self.queue.append([origin_ts, lower, upper, np.zeros(len(f.mean), dtype=bool)])

    def outcomes(self, ts: np.ndarray, vals: np.ndarray, step_s: float):
        first, last = float(ts[0]), float(ts[-1])
        steps, misses, keep = [], {80: [], 95: []}, []
        for origin, lower, upper, scored in self.queue:
            targets = origin + step_s * np.arange(1, len(scored) + 1)
            idx = np.rint((targets - first) / step_s).astype(np.int64)
            arrived = ~scored & (targets <= last + 1e-6) & (idx >= 0)
            pos = np.flatnonzero(arrived)
            actual = vals[idx[pos]]
            scored[pos] = True
            seen = ~np.isnan(actual)
            pos, actual = pos[seen], actual[seen]
            steps.append(pos)
            for level in (80, 95):
                misses[level].append(
                    ((actual < lower[level][pos]) | (actual > upper[level][pos])).astype(float)
                )
            if not (scored.all() or targets[-1] < first):
                keep.append([origin, lower, upper, scored])
        self.queue = keep
        return np.concatenate(steps or [np.empty(0)]), {
            lv: np.concatenate(m or [np.empty(0)]) for lv, m in misses.items()
        }


def test_one_pass_over_every_forecast_scores_as_the_per_forecast_loop():
    # The job scores every remembered forecast of a key at once; outcomes, their order
    # (oldest forecast first) and what stays remembered must be the loop's, with gaps,
    # a forecast replaced from the same bucket, late reads and reads that skip buckets.
    rng = np.random.default_rng(5)
    step, horizon, key = 10.0, 30, ("cpu", "5m")
    fast, loop = OnlineBands(), LoopBands()
    series = 50.0 + rng.normal(0, 4, 2000)
    series[rng.random(2000) < 0.05] = np.nan
    bucket = 100
    for _ in range(300):
        bucket += int(rng.choice([0, 1, 1, 2, 3]))
        ts = step * np.arange(bucket - 40, bucket + 1)
        vals = series[bucket - 40 : bucket + 1]
        got, want = fast.outcomes(key, ts, vals, step), loop.outcomes(ts, vals, step)
        assert got[0].tolist() == want[0].tolist()
        assert all(got[1][lv].tolist() == want[1][lv].tolist() for lv in (80, 95))
        f = forecast(float(rng.normal(50, 2)), float(rng.uniform(1, 8)), horizon)
        fast.remember(key, step * bucket, f)
        loop.remember(step * bucket, f)
        assert len(fast._pending[key].origin_ts) == len(loop.queue)


def test_the_aci_step_decays_from_gamma0_to_gamma_with_the_outcomes_seen():
    assert step_size(0.01, 1) == pytest.approx(GAMMA0)
    assert step_size(0.01, 25) == pytest.approx(GAMMA0 / 5)
    assert step_size(0.01, 10_000) == 0.01  # the fixed step chosen for the long run
    assert step_size(0.0, 1) == 0.0  # plain split conformal never moves
    s = state()
    for _ in range(3):
        s = s.observe(np.array([0]), {80: np.array([1.0]), 95: np.array([0.0])})
    assert s.seen is not None and s.seen.tolist() == [3.0, 0.0, 0.0]
    steps = GAMMA0 / np.sqrt([1.0, 2.0, 3.0])
    assert s.alpha[80][0] == pytest.approx(0.2 - 0.8 * steps.sum())


def test_live_errors_join_a_short_pool_so_the_band_outgrows_the_first_errors():
    pool = np.ones((5, 2))  # five errors of 1 at each step: the 80 % band is 1 wide
    s = ConformalState(
        pool=pool,
        alpha={80: np.full(2, 0.2), 95: np.full(2, 0.05)},
        offset=1.0,
        spread_window=0,
    )
    assert s.half_widths()[80].tolist() == [1.0, 1.0]
    for _ in range(20):  # errors of 10 at step 1 (outside the band), none at step 2
        s = s.observe(np.array([0]), {80: np.array([1.0]), 95: np.array([1.0])}, np.array([10.0]))
    assert s.pool.shape == (25, 2) and np.isnan(s.pool[:20, 1]).all()
    assert s.half_widths()[80][0] == 10.0 and s.half_widths()[80][1] == 1.0
