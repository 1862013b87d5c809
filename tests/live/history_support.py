"""A seeded cpu_percent history for the live model tests."""

from __future__ import annotations

import numpy as np


def seed_history(store, now: float, hours: float, step_s: float = 30.0) -> None:
    """A two-hour cycle with noise for cpu_percent, one value every ``step_s``."""
    rng = np.random.default_rng(0)
    times = np.arange(now - hours * 3600.0, now, step_s)
    cpu = 40 + 20 * np.sin(2 * np.pi * times / 7200.0) + rng.normal(0, 2, len(times))
    store.append_many((float(t), {"cpu_percent": float(v)}) for t, v in zip(times, cpu))
