"""How much history a lag model needs before selection can try it, for the chart notes.

Selection (``foresight.evaluation.selection``) validates a candidate by refitting it on
the history before the first validation origin, which sits ``1 - VALIDATION_FRACTION``
of the way into the usable range. A ``LagForecaster`` fits once it has
``history - 1 + horizon`` steps plus ``max(3 x features, 30)`` training rows (and
``2 x horizon + lags + 10`` observed values): one probe fit per (horizon, step) on a
noisy trend reads its history and feature count, so the note's "needs about N" is
selection's real need on a gap-free series, not a guess.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from foresight.evaluation.selection import VALIDATION_FRACTION, make_model


@functools.cache
def lag_model_steps(horizon: int, step_s: float) -> int:
    """Gap-free steps of history before ``ridge`` enters selection at this tier."""
    n = 2 * horizon + 200
    series = 100.0 + 0.5 * np.arange(n) + np.random.default_rng(0).normal(0.0, 1.0, n)
    model = make_model("ridge", horizon, step_s=step_s).fit(series)
    rows = max(3 * model.n_features_, 30)
    fits_on = max(model.spec_.history - 1 + horizon + rows, 2 * horizon + model.n_lags + 10)
    return math.ceil(fits_on / (1.0 - VALIDATION_FRACTION)) + horizon


SPARSE_FRACTION = 0.5  # under this share of steps observed, a tier is too fine


def duration_words(seconds: float) -> str:
    """A duration for people: '50 s', '24 min', '4.4 h', '3 days'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.2g} h"
    return f"{seconds / 86_400:.2g} days"


def step_words(step_s: float) -> str:
    """A sampling step as an adjective: '10-second', '1-minute', '15-minute', '1-hour'."""
    if step_s < 60:
        return f"{step_s:g}-second"
    if step_s < 3600:
        return f"{step_s / 60:g}-minute"
    return f"{step_s / 3600:g}-hour"


def why_only_the_last_value(horizon: int, step_s: float, observed: int, steps: int) -> str:
    """Why no lag model could be tried at this tier, in words: too sparse, or too short.

    ``observed`` of ``steps`` buckets of ``step_s`` have a value. A series pushed every
    minute fills one 10-second bucket in six: it will never have the history a lag model
    needs at that step, and saying "while history builds up" would promise what never
    comes.
    """
    if steps > 0 and observed / steps < SPARSE_FRACTION:
        every_s = steps / max(observed, 1) * step_s
        return (
            f"only {round(100 * observed / steps)} % of this range's {step_words(step_s)} steps "
            f"have a value (the series arrives about every {duration_words(every_s)}), too "
            "few for a model that learns a trend; a longer range, with coarser steps, can "
            "forecast it"
        )
    need = lag_model_steps(horizon, step_s)
    have = f"it had {duration_words(observed * step_s)} when last fitted"
    if observed >= need:
        have += ", but gaps left too few complete stretches"
    return (
        f"a model that learns a trend needs about {duration_words(need * step_s)} of "
        f"{step_words(step_s)} history ({have})"
    )
