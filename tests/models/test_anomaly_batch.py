"""The batched per-tick scoring (``anomaly_batch.score_each``) against ``score_one``:
the same scores and the same detector states, value for value, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.models.anomaly import AnomalyDetector, nearest_distances
from foresight.models.anomaly_batch import newest_nearest, score_each


def _series(rng: np.random.Generator, n: int, kind: int) -> np.ndarray:
    """Host-like series: noisy, quantised (ties), flat with steps, spiky, huge offset."""
    if kind == 0:
        return np.round(40 + rng.normal(0, 4, n), 3)
    if kind == 1:
        return np.round(rng.normal(0, 1, n)).astype(float)  # few levels: many exact ties
    if kind == 2:
        out = np.full(n, 20.0)
        out[n // 3 :] = 35.0
        out[rng.random(n) < 0.02] += 30.0
        return out
    if kind == 3:
        return np.abs(rng.standard_cauchy(n)) * 1e5
    return 3e9 + rng.normal(0, 1e3, n)


def test_newest_nearest_equals_nearest_distances_of_the_newest_vector():
    rng = np.random.default_rng(5)
    for d, w in ((5, 600), (3, 40), (1, 7)):
        rows = np.stack([_series(rng, w + 2 * d, kind) for kind in range(5)])
        want = [nearest_distances(row, len(row) - 1, d, w)[0] for row in rows]
        assert np.array_equal(newest_nearest(rows, d, w), np.array(want))
    with pytest.raises(ValueError, match="columns"):
        newest_nearest(np.zeros((2, 10)), 5, 600)


def _newest_nearest_with_temporaries(windows: np.ndarray, d: int, w: int) -> np.ndarray:
    """``newest_nearest`` as it was before its passes wrote into buffers (a new array per
    operation): the reference the buffered passes must equal bit for bit."""
    k = len(windows)
    span = windows[:, 1:]
    centred = span - span.mean(axis=1, keepdims=True)
    queries = centred[:, -d:]
    squared = np.zeros((k, w))
    for j in range(d):
        diff = centred[:, j : j + w] - queries[:, j : j + 1]
        squared += diff * diff
    lags = np.lib.stride_tricks.sliding_window_view(centred, d, axis=1)
    nearest = lags[np.arange(k), np.argmin(squared, axis=1)]
    diff = queries - nearest
    return np.sqrt(np.einsum("ij,ij->i", diff, diff) / d)


def test_newest_nearest_equals_its_unbuffered_passes_bit_for_bit():
    rng = np.random.default_rng(11)
    for d, w in ((5, 600), (3, 40), (1, 7), (2, 1)):
        for _ in range(20):
            rows = np.stack([_series(rng, w + 2 * d, kind) for kind in range(5)] * 3)
            got = newest_nearest(rows, d, w)
            want = _newest_nearest_with_temporaries(rows, d, w)
            assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("confirm_window", [0, 60])
def test_score_each_equals_score_one_bit_for_bit(confirm_window):
    rng = np.random.default_rng(2)
    n = 2600  # past warm-up, the history window fills at 610 and wraps several times
    kinds = [0, 1, 2, 3, 4, 0, 2]
    series = [_series(rng, n, kind) for kind in kinds]
    series[0][rng.random(n) < 0.01] = np.nan  # gaps: scored 0, change nothing
    series[3][1000:1010] = np.nan

    def make() -> list[AnomalyDetector]:
        # a mix of min_change (quiet skips), and one smaller detector (its own group)
        return [
            AnomalyDetector(
                min_change=[0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.0][i],
                confirm_window=confirm_window,
                **({"reference_size": 100} if i == 6 else {}),
            )
            for i in range(len(kinds))
        ]

    one, batch = make(), make()
    peak = 0.0
    for t in range(n):
        values = [float(s[t]) for s in series]
        want = [d.score_one(v) for d, v in zip(one, values, strict=True)]
        got = score_each(batch, values)
        assert got == want, t
        peak = max(peak, *got)
    for a, b in zip(one, batch, strict=True):
        assert (a.n_seen_, a.level_, a.step_spread_, a.raw_, a.surprise_, a.confirm_) == (
            b.n_seen_,
            b.level_,
            b.step_spread_,
            b.raw_,
            b.surprise_,
            b.confirm_,
        )
        assert a.quiet_skips_ == b.quiet_skips_
    assert max(d.quiet_skips_ for d in batch) > 0  # the skip was exercised
    assert peak >= 0.5  # and something was news


def test_score_each_refuses_a_detector_twice_and_a_length_mismatch():
    detector = AnomalyDetector()
    with pytest.raises(ValueError, match="once"):
        score_each([detector, detector], [1.0, 2.0])
    with pytest.raises(ValueError, match="one value per detector"):
        score_each([detector], [1.0, 2.0])
