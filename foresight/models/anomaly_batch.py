"""Score one new value for each of many detectors: the neighbour searches batched.

The live monitor scores every metric every tick (``foresight.live.anomaly_stage``). Each
``AnomalyDetector.score_one`` searches the newest lag vector's nearest neighbour among
``reference_size`` past ones: a handful of tiny numpy calls, whose fixed cost (not the
arithmetic) was most of the anomaly stage's CPU. ``score_each`` records every value
first, then does the searches of all detectors with a full history window (the steady
state) as one stacked pass over a (detectors, references, lag_dims) array, then runs each
detector's O(1) recursions. The scores equal ``score_one``'s: the same candidate set, the
same centring, and the winner's distance recomputed exactly as there. The ranking here
sums the squared differences directly, where ``nearest_distances`` ranks by
``|r|^2 - 2 q.r`` (its rounding differs in the last bits), so only a near-tie (two
references equally near to ~1e-12 of the squared distance) can pick the other of the two
(``tests/models/test_anomaly_batch.py`` compares both paths).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from foresight.models.anomaly import AnomalyDetector, nearest_distances


def score_each(detectors: Sequence[AnomalyDetector], values: Sequence[float]) -> list[float]:
    """``[d.score_one(v) for d, v in zip(detectors, values)]``, the searches batched.

    Each detector must appear once (its value is recorded before any is scored).
    """
    if len(detectors) != len(values):
        raise ValueError(f"need one value per detector (got {len(values)} for {len(detectors)})")
    if len({id(d) for d in detectors}) != len(detectors):
        raise ValueError("each detector may appear only once in a batch")
    distances = [0.0] * len(detectors)
    full: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
    for i, (detector, value) in enumerate(zip(detectors, values, strict=True)):
        if value != value:
            continue  # a gap: scores 0 and changes nothing
        window = detector._record(value)
        if window is None:
            continue
        if len(window) == detector._history_size:
            full.setdefault((detector.lag_dims, detector.reference_size), []).append((i, window))
        else:  # still filling its history (the first minutes): searched alone
            distances[i] = float(
                nearest_distances(
                    window, len(window) - 1, detector.lag_dims, detector.reference_size
                )[0]
            )
    for (d, w), group in full.items():
        found = newest_nearest(np.stack([window for _, window in group]), d, w)
        for (i, _), distance in zip(group, found.tolist(), strict=True):
            distances[i] = distance
    return [
        0.0 if value != value else detector._step(value, distance)
        for detector, value, distance in zip(detectors, values, distances, strict=True)
    ]


def newest_nearest(windows: np.ndarray, lag_dims: int, reference_size: int) -> np.ndarray:
    """Per row of ``windows`` (k, reference_size + 2 * lag_dims): ``nearest_distances`` of
    its newest lag vector, i.e. ``nearest_distances(row, len(row) - 1, d, w)[0]``.

    That call, for a full window, compares the last lag vector with the ``w`` vectors
    ending at indices ``2d - 1 .. 2d + w - 2`` (``d`` or more points earlier), on the
    values from index 1 on, centred on their mean; so does this, for all rows at once.
    """
    d, w = lag_dims, reference_size
    k, length = windows.shape
    if length != w + 2 * d:
        raise ValueError(f"windows must have {w + 2 * d} columns (got {length})")
    span = windows[:, 1:]
    centred = span - span.mean(axis=1, keepdims=True)
    queries = centred[:, -d:]  # (k, d): the newest lag vector of each row
    # The squared distance to every reference, one lag at a time: d passes over a
    # (k, w) array (no gram trick: nothing to cancel, and fewer, larger numpy calls).
    # Into two buffers (``out=``): a new (k, w) temporary per operation cost more than
    # the arithmetic (freshly mapped pages; the passes took 0.44x the time this way).
    # The same operations in the same order: ``0 + x*x`` was ``x*x`` bit for bit.
    squared = np.empty((k, w))
    diff = np.empty((k, w))
    for j in range(d):
        np.subtract(centred[:, j : j + w], queries[:, j : j + 1], out=diff)
        if j == 0:
            np.multiply(diff, diff, out=squared)
        else:
            np.multiply(diff, diff, out=diff)
            squared += diff
    lags = np.lib.stride_tricks.sliding_window_view(centred, d, axis=1)  # (k, w + d, d)
    nearest = lags[np.arange(k), np.argmin(squared, axis=1)]  # (k, d)
    diff = queries - nearest
    exact = np.einsum("ij,ij->i", diff, diff)  # as nearest_distances recomputes it
    return np.sqrt(exact / d)
