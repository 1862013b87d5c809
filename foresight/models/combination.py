"""A combination of fitted forecasters: the per-step median of their point forecasts.

``MedianOf`` holds its member models (anything with the candidates' interface: ``fit``
returns self, ``predict_mean(values, origins, timestamps)`` gives (len(origins),
horizon)); fitting fits every member on the same data, a forecast is the median, step by
step, of the members' forecasts from the same origin (NaN where any member's is). Pure
numpy; which members it holds is the caller's choice (``selection``: the three best other
candidates on validation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class MedianOf:
    """The per-step median of ``members``' forecasts (``names``: theirs, for the record)."""

    def __init__(self, members: Sequence[Any], names: Sequence[str] = ()) -> None:
        if not members:
            raise ValueError("a median needs at least one member")
        if names and len(names) != len(members):
            raise ValueError(f"{len(names)} names for {len(members)} members")
        self.members = list(members)
        self.names = tuple(names)
        horizons = {int(m.horizon) for m in self.members}
        if len(horizons) != 1:
            raise ValueError(f"members forecast different horizons: {sorted(horizons)}")
        self.horizon = horizons.pop()

    def fit(self, values: np.ndarray, timestamps: np.ndarray | None = None) -> MedianOf:
        for member in self.members:
            member.fit(values, timestamps)
        return self

    def predict_mean(
        self, values: np.ndarray, origins: np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        stack = np.stack(
            [np.asarray(m.predict_mean(values, origins, timestamps)) for m in self.members]
        )
        return median_of(stack)


def median_of(stack: np.ndarray) -> np.ndarray:
    """The median over the first axis; NaN wherever any member's value is NaN."""
    stack = np.asarray(stack, dtype=float)
    out = np.median(stack, axis=0)
    out[np.isnan(stack).any(axis=0)] = np.nan
    return out
