"""Anomaly likelihood: how unusual are the recent raw scores, given the past ones?

After Ahmad, Lavin, Purdy & Agha (2017), "Unsupervised real-time anomaly detection for
streaming data" (the NAB/HTM paper): a raw score says how badly one point was
predicted, but a noisy metric mispredicts all the time. The likelihood instead asks
whether the *mean of the last few* raw scores is in the tail of a Gaussian fitted to the
means seen over a long window, so each metric is judged against its own history and
one threshold means the same tail probability on every metric. The tail probability
``p`` is reported on a log scale, ``log(p) / log(1e-10)`` in [0, 1] (0.5 is p = 1e-5),
as HTM's ``computeLogLikelihood`` does.

Two guards make the Gaussian safe on live host metrics, whose raw scores are neither
Gaussian nor ever quite still:
  * HTM's lower bounds on the fitted distribution (``estimateNormal`` in NuPIC's
    ``anomaly_likelihood.py``: mean at least 0.03, variance at least 0.0003). A metric
    predicted almost perfectly would otherwise turn one blip into a tail event; with
    them, one raw score alone (it moves the mean of 10 by at most 0.1) never reaches
    the default threshold, so it takes two bad points in a row.
  * An empirical floor (optional; the live monitor's slow scale uses it): the tail
    probability is never below the share of the history's means that were at least
    as high. A bursty metric (disk and network byte rates,
    probe latencies: heavy-tailed, not Gaussian) bursts this much every so often, and
    what happened to 1 % of the last ``long_window`` means is not a 1e-5 event. A mean
    higher than all of them gets the Gaussian's tail, as before.

O(1) per point: running sums over ring buffers, no re-estimation pass (with the
empirical floor, O(log n) search plus a memmove in one sorted copy of the history).
"""

from __future__ import annotations

import bisect
import logging
import math

logger = logging.getLogger(__name__)

_LOG_TINY = math.log(1e-10)
_SQRT2 = math.sqrt(2.0)


class AnomalyLikelihood:
    """Turn a stream of raw scores in [0, 1] into log tail probabilities in [0, 1].

    Parameters (stored unchanged):
      short_window: raw scores averaged into the recent mean (HTM: 10).
      long_window: recent means the Gaussian is fitted to (HTM uses thousands).
      min_history: recent means needed before anything but 0 is returned.
      sigma_floor: smallest standard deviation of the means, on the raw [0, 1] scale
        (a perfectly predicted metric would otherwise make any blip infinitely unlikely;
        HTM's sqrt(0.0003)).
      mean_floor: smallest mean of the fitted Gaussian (HTM's 0.03).
      empirical_floor: never report a tail probability below the share of the history's
        means at or above the current one.
    """

    def __init__(
        self,
        short_window: int = 10,
        long_window: int = 2000,
        *,
        min_history: int = 300,
        sigma_floor: float = math.sqrt(0.0003),
        mean_floor: float = 0.03,
        empirical_floor: bool = False,
    ) -> None:
        self.short_window = short_window
        self.long_window = long_window
        self.min_history = min_history
        self.sigma_floor = sigma_floor
        self.mean_floor = mean_floor
        self.empirical_floor = empirical_floor
        self.reset()

    def reset(self) -> AnomalyLikelihood:
        """Forget every score seen."""
        if not 1 <= self.short_window <= self.long_window:
            raise ValueError(
                f"need 1 <= short_window <= long_window "
                f"(got {self.short_window}, {self.long_window})"
            )
        if self.min_history < 2 or self.sigma_floor <= 0 or not 0 <= self.mean_floor < 1:
            raise ValueError(
                f"need min_history >= 2, sigma_floor > 0 and 0 <= mean_floor < 1 "
                f"(got {self.min_history}, {self.sigma_floor}, {self.mean_floor})"
            )
        self._short = [0.0] * self.short_window
        self._short_sum = 0.0
        self._long = [0.0] * self.long_window
        self._sum = 0.0
        self._sum_sq = 0.0
        self._sorted: list[float] = []  # the history's means, ascending
        self.n_seen_ = 0
        return self

    def update(self, raw: float) -> float:
        """Add one raw score; return the log tail probability of the recent mean."""
        n = self.n_seen_
        short, long_ = self.short_window, self.long_window
        i = n % short
        self._short_sum += raw - self._short[i]
        self._short[i] = raw
        mean = self._short_sum / min(n + 1, short)
        kept = min(n, long_)
        out = 0.0
        if kept >= self.min_history:
            mu = self._sum / kept
            var = self._sum_sq / kept - mu * mu
            sigma = math.sqrt(var) if var > self.sigma_floor**2 else self.sigma_floor
            z = (mean - max(mu, self.mean_floor)) / sigma
            if z > 0.0:
                tail = 0.5 * math.erfc(z / _SQRT2)
                if self.empirical_floor:
                    at_least = kept - bisect.bisect_left(self._sorted, mean)
                    tail = max(tail, at_least / kept)
                out = min(1.0, math.log(tail + 1e-10) / _LOG_TINY)
        j = n % long_
        old = self._long[j] if n >= long_ else 0.0
        if self.empirical_floor:
            if n >= long_:
                del self._sorted[bisect.bisect_left(self._sorted, old)]
            bisect.insort(self._sorted, mean)
        self._long[j] = mean
        self._sum += mean - old
        self._sum_sq += mean * mean - old * old
        self.n_seen_ = n + 1
        if self.n_seen_ % long_ == 0:  # re-add from scratch now and then: no float drift
            self._sum = math.fsum(self._long)
            self._sum_sq = math.fsum(m * m for m in self._long)
        return out
