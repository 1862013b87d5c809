"""The streaming anomaly detector and its likelihood stage: invariants and behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight.models.anomaly import AnomalyDetector, nearest_distances
from foresight.models.likelihood import AnomalyLikelihood


def noisy(n: int, seed: int = 0, period: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = 50.0 + (10 * np.sin(2 * np.pi * np.arange(n) / period) if period else 0.0)
    return base + rng.normal(0, 1, n)


def brute_nearest(series: np.ndarray, t: int, d: int, w: int) -> float:
    """The definition, written out: RMS distance to the nearest non-overlapping past vector."""
    query = series[t - d + 1 : t + 1]
    ends = [e for e in range(max(d - 1, t - d - w + 1), t - d + 1)]
    return min(math.sqrt(np.mean((series[e - d + 1 : e + 1] - query) ** 2)) for e in ends)


def test_nearest_distances_match_the_definition():
    series = noisy(400, seed=1) * 1e6 + 3e9  # a large offset must not cost precision
    d, w = 4, 50
    got = nearest_distances(series, 2 * d - 1, d, w, block=37)
    want = [brute_nearest(series, t, d, w) for t in range(2 * d - 1, len(series))]
    assert np.allclose(got, want, rtol=1e-9)
    with pytest.raises(ValueError, match="first must be"):
        nearest_distances(series, 2, d, w)


def test_warmup_scores_zero():
    values = noisy(600)
    values[10] = 1e6  # a huge value inside the warm-up is not scored
    scores = AnomalyDetector(warmup=100).score_many(values)
    assert (scores[:100] == 0).all()


def test_constant_series_scores_zero_without_dividing_by_zero():
    detector = AnomalyDetector(warmup=50)
    scores = detector.score_many(np.full(500, 7.0))  # warnings are errors in pytest
    assert (scores == 0).all()
    # One odd point alone is not news (HTM's lower bounds); a change that lasts is.
    assert detector.score_one(8.0) < 0.5
    assert detector.score_one(8.0) > 0.5


def test_scores_in_unit_interval_and_gaps_score_zero():
    rng = np.random.default_rng(3)
    values = rng.standard_cauchy(3000)
    values[::97] = np.nan
    scores = AnomalyDetector().score_many(values)
    assert scores.shape == values.shape
    assert ((scores >= 0) & (scores <= 1)).all()
    assert (scores[np.isnan(values)] == 0).all()


def test_spike_scores_high_and_decision_is_separate():
    values = noisy(1000, seed=4)
    values[800] = 80.0
    detector = AnomalyDetector(threshold=0.3)
    scores = detector.score_many(values)
    # Flagged within a few points: the likelihood judges the mean of the last 10 raw scores.
    peak = 800 + int(np.argmax(scores[800:810]))
    assert scores[peak] > 0.5 and scores[peak] == scores.max()
    assert scores[400:800].max() < 0.3  # Gaussian noise alone does not alert
    assert detector.is_anomaly(scores[peak]) and not detector.is_anomaly(0.29)
    assert detector.threshold == 0.3  # scoring never moves the threshold


def test_level_shift_alerts_at_its_start_not_on_every_point():
    values = noisy(2000, seed=5)
    values[1000:] += 15.0
    detector = AnomalyDetector()
    scores = detector.score_many(values)
    flagged = np.flatnonzero(detector.is_anomaly(scores))
    assert flagged.size and 1000 <= flagged[0] <= 1005
    assert flagged.size <= 5  # one episode, not a wall of alerts


def test_min_change_silences_moves_below_it():
    values = np.full(1000, 42.0)
    values[600:] += 0.1  # a 0.1-point move of a near-constant percentage
    assert AnomalyDetector(min_change=1.0).score_many(values).max() == 0.0
    assert AnomalyDetector().score_many(values).max() > 0.5  # without it: news
    jump = np.full(1000, 42.0)
    jump[600:] += 5.0
    assert AnomalyDetector(min_change=1.0).score_many(jump).max() > 0.5


def test_score_many_equals_score_one_loop_across_chunks_and_gaps():
    values = noisy(2500, seed=6, period=60)
    values[1500] += 30
    values[300:305] = np.nan
    one = AnomalyDetector(reference_size=200)
    many = AnomalyDetector(reference_size=200)
    looped = np.array([one.score_one(float(v)) for v in values])
    chunked = np.concatenate([many.score_many(values[:777]), many.score_many(values[777:])])
    assert np.allclose(looped, chunked, atol=1e-9)
    assert one.n_seen_ == many.n_seen_ == int(np.sum(~np.isnan(values)))


def test_quiet_runs_skip_the_search_and_score_exactly_as_the_full_search():
    # Host series sit still most seconds: score_one skips the neighbour search while the
    # last 2 * lag_dims values span less than min_change. score_many always searches, so
    # equal scores and states prove the skip never changes a score; the moves after each
    # plateau are still scored (and the step is news).
    rng = np.random.default_rng(11)
    parts = [
        np.full(700, 40.0),
        40.0 + rng.uniform(-0.4, 0.4, 300),  # jitter inside min_change
        np.full(200, 55.0),  # a step
        np.linspace(55.0, 65.0, 300),  # a drift: each step < min_change, the span is not
        np.full(200, 65.0),
        65.0 + rng.normal(0, 3, 300),  # noisy: searched every time
    ]
    values = np.concatenate(parts)
    values[1500:1503] = np.nan
    one = AnomalyDetector(min_change=1.0, confirm_window=60)
    many = AnomalyDetector(min_change=1.0, confirm_window=60)
    looped, raws, confirms = [], [], []
    for v in values:
        looped.append(one.score_one(float(v)))
        raws.append(one.raw_)
        confirms.append(one.confirm_)
    chunked = np.concatenate([many.score_many(values[:1000]), many.score_many(values[1000:])])
    assert np.array_equal(np.array(looped), chunked)
    assert (one.level_, one.step_spread_, one.confirm_) == (
        many.level_,
        many.step_spread_,
        many.confirm_,
    )
    assert one.quiet_skips_ > 1000  # the plateaus and the jitter skipped the search
    assert one.quiet_skips_ < len(values) - 300  # the noisy part never did
    assert raws[1000] > 0.5  # the step to 55 is scored, not skipped
    assert max(looped[1000:1010]) > 0.5 or max(confirms[1000:1100]) > 0.0


def test_no_min_change_never_skips_the_search():
    detector = AnomalyDetector()
    for _ in range(500):
        detector.score_one(3.0)
    assert detector.quiet_skips_ == 0


def test_seasonal_cycle_does_not_fire():
    scores = AnomalyDetector().score_many(noisy(4000, seed=7, period=100))
    assert scores[1000:].max() < 0.5


def test_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="lag_dims"):
        AnomalyDetector(lag_dims=0)
    with pytest.raises(ValueError, match="min_change"):
        AnomalyDetector(min_change=-1)
    with pytest.raises(ValueError, match="short_window"):
        AnomalyLikelihood(short_window=20, long_window=10)
    assert AnomalyDetector().score_one(float("nan")) == 0.0


def test_likelihood_is_calibrated_on_each_metrics_own_history():
    rng = np.random.default_rng(8)
    for spread in (0.01, 0.3):  # a quiet and a noisy raw score both settle near 0
        lik = AnomalyLikelihood(min_history=100)
        out = [lik.update(float(np.clip(0.3 + spread * rng.normal(), 0, 1))) for _ in range(3000)]
        assert np.mean(np.array(out[200:]) >= 0.5) < 0.01
    lik = AnomalyLikelihood(min_history=100)
    for _ in range(1000):
        lik.update(0.2 + 0.01 * rng.normal())
    assert max(lik.update(0.9) for _ in range(10)) > 0.9  # a run of bad predictions


def bursty_raw_scores(n: int, seed: int) -> list[float]:
    """Raw scores of a bursty metric: quiet, with a 3-point burst every ~150 points."""
    rng = np.random.default_rng(seed)
    raw = np.clip(0.05 + 0.01 * rng.normal(size=n), 0, 1)
    for start in rng.choice(n - 3, size=n // 150, replace=False):
        raw[start : start + 3] = 0.9
    return raw.tolist()


def test_the_empirical_floor_keeps_a_recurring_burst_from_being_a_tail_event():
    raw = bursty_raw_scores(6000, seed=11)
    gaussian = AnomalyLikelihood(min_history=300)
    floored = AnomalyLikelihood(min_history=300, empirical_floor=True)
    plain = np.array([gaussian.update(r) for r in raw][2000:])
    kept = np.array([floored.update(r) for r in raw][2000:])

    # The Gaussian calls bursts 1e-5 events; the floor knows they happen (only a burst
    # bigger than all before it in the history, two overlapping, can still alert).
    def onsets(scores: np.ndarray) -> int:
        return int(np.sum(np.diff((scores >= 0.5).astype(int)) == 1))

    assert onsets(plain) >= 3 and onsets(kept) <= 1
    # A burst larger and longer than any in the history is still news.
    assert max(floored.update(1.0) for _ in range(8)) >= 0.5


def test_the_slow_scale_confirms_a_lasting_change_and_not_one_odd_value():
    values = noisy(1500, seed=12)
    values[1000] = 90.0  # one odd value, 40 sd out
    values[1300:] = 60.0 + np.random.default_rng(12).normal(0, 1, 200)  # a lasting shift
    detector = AnomalyDetector(confirm_window=60)
    confirm = []
    for v in values:
        detector.score_one(float(v))
        confirm.append(detector.confirm_)
    confirm_ = np.array(confirm)
    assert (confirm_[:600] == 0).all()  # its warm-up: 2 x 300 values
    assert confirm_[1000:1100].max() < 0.5
    assert (confirm_[1300:1320] >= 0.5).any()  # within 20 samples
    with pytest.raises(ValueError, match="confirm_window"):
        AnomalyDetector(confirm_window=-1)


def _nearest_distances_with_sliding_window_view(series, first, lag_dims, reference_size, block=256):
    """nearest_distances as it was written with numpy's sliding_window_view (the reference)."""
    d, w = lag_dims, reference_size
    out = np.empty(len(series) - first)
    for q0 in range(first, len(series), block):
        q1 = min(q0 + block, len(series))
        lo = max(d - 1, q0 - d - w + 1)
        span = series[lo - d + 1 : q1]
        centred = span - span.mean()
        windows = np.lib.stride_tricks.sliding_window_view(centred, d)
        queries = windows[q0 - lo :]
        refs = windows[: q1 - 1 - d - lo + 1]
        gram = queries @ (-2.0 * refs.T)
        gram += np.einsum("ij,ij->i", refs, refs)[None, :]
        if q1 - q0 > 1:
            ends = np.arange(q0, q1)[:, None] - d
            ref_ends = np.arange(lo, q1 - d)[None, :]
            outside = (ref_ends > ends) | (ref_ends <= ends - w)
            gram += np.where(outside, np.inf, 0.0)
        nearest = refs[np.argmin(gram, axis=1)]
        exact = np.einsum("ij,ij->i", queries - nearest, queries - nearest)
        out[q0 - first : q1 - first] = np.sqrt(exact / d)
    return out


@pytest.mark.parametrize("n, first, d, w", [(610, 609, 5, 600), (900, 9, 5, 600), (300, 50, 3, 40)])
def test_nearest_distances_bit_for_bit_as_with_sliding_window_view(n, first, d, w):
    rng = np.random.default_rng(n)
    series = 1e6 + np.cumsum(rng.normal(0, 1, n))  # a large offset: the centring matters
    np.testing.assert_array_equal(
        nearest_distances(series, first, d, w),
        _nearest_distances_with_sliding_window_view(series, first, d, w),
    )
