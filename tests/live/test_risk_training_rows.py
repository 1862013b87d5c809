"""risk_training.read_history's rows are whole buckets inside the request's window.

``store.series`` counts a grid's last bucket whole, so a grid that ends on the bucket of
the newest sample made that bucket, still filling (or reaching past ``until``), the last
training row: a mean of a few seconds, or of values the request did not ask for.
"""

from __future__ import annotations

import numpy as np
import pytest

from foresight.live import risk_training

START = 1_800_000_000.0  # a whole hour
STEP_S = 60.0
HOURS = 13  # 780 minutes: past MIN_ROWS (720)
QUIET, LOUD = 10.0, 100.0


def _request(until: float) -> risk_training.TrainRequest:
    return risk_training.TrainRequest(
        label_metric="incident",
        alert_rule=None,
        use_alerts=False,
        since=START - 86_400.0,
        until=until,
        step_s=STEP_S,
        horizon_s=1800.0,
        models=("lr",),
    )


def _fill(store, end: float, loud_from: float) -> None:
    """cpu_percent every 5 s from START to ``end`` (inclusive): QUIET, LOUD from
    ``loud_from`` on; incident minutes in the fourth hour."""
    ts = np.arange(START, end + 1e-9, 5.0)
    store.append_many(
        (
            float(t),
            {
                "cpu_percent": LOUD if t >= loud_from else QUIET,
                "incident": float(3 * 3600 <= t - START < 3 * 3600 + 600),
            },
        )
        for t in ts
    )


def test_the_newest_still_filling_minute_is_not_a_row(store) -> None:
    newest = START + HOURS * 3600 + 10.0  # 10 s into a minute: 3 of its 12 samples so far
    _fill(store, newest, loud_from=START + HOURS * 3600)
    now = newest + 1.0  # the request's until (POST /api/risk/train: until = now)
    history = risk_training.read_history(store, _request(now), now)
    last_end = history.timestamps[-1] + STEP_S
    assert last_end <= now, "the last row's minute has not ended yet"
    assert history.timestamps[-1] == START + HOURS * 3600 - STEP_S  # the last whole minute
    cpu = history.values[:, history.metrics.index("cpu_percent")]
    assert cpu[-1] == QUIET  # not the three samples of the unfinished minute
    assert len(history.timestamps) == len(history.incident) == HOURS * 60


@pytest.mark.parametrize("into_minute_s", [0.0, 30.0, 59.0])
def test_no_value_after_until_counts_in_the_last_row(store, into_minute_s: float) -> None:
    until = START + HOURS * 3600 + into_minute_s  # a window ending before the store does
    _fill(store, until + 600.0, loud_from=until + 1e-3)  # every value past until is LOUD
    history = risk_training.read_history(store, _request(until), until + 600.0)
    assert history.timestamps[-1] + STEP_S <= until
    cpu = history.values[:, history.metrics.index("cpu_percent")]
    assert np.all(cpu[np.isfinite(cpu)] == QUIET), cpu[-3:]
