"""The per-tick crash risk (``risk.CrashMemo``) recomputes only when its inputs change,
and always equals a fresh ``crash_risk_now``: ticks between forecasts, new forecasts,
and steps leaving the horizon window as time moves on."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.live.models import EXTRAS_KEY, TIERS
from foresight.live.risk import CrashMemo, crash_risk_now
from foresight.risk import crash


def seed_near_critical(store, now: float, hours: float = 8.0) -> None:
    """cpu_percent cycling around its crash level (90 %): the bands reach it."""
    rng = np.random.default_rng(3)
    times = np.arange(now - hours * 3600.0, now, 30.0)
    cpu = 84 + 8 * np.sin(2 * np.pi * times / 7200.0) + rng.normal(0, 2, len(times))
    store.append_many((float(t), {"cpu_percent": float(min(v, 100.0))}) for t, v in zip(times, cpu))


@pytest.mark.parametrize("horizon_s", [3600.0, 1500.0])
def test_memo_equals_a_fresh_crash_risk_every_tick(services, clock, horizon_s, monkeypatch):
    live = services.extras[EXTRAS_KEY]
    seed_near_critical(services.store, clock())
    assert live.refit("cpu_percent", TIERS[0], clock()).status == "ok"
    computed = []
    real = crash.crash_risk

    def counting(*args, **kwargs):
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("foresight.live.risk.crash_risk", counting)
    memo = CrashMemo()
    nonzero = 0
    for tick in range(400):
        now = clock()
        got = memo.get(services, horizon_s, now)
        before = len(computed)
        want = crash_risk_now(services, horizon_s, now)
        assert len(computed) == before + 1
        assert got.to_dict() == want.to_dict(), tick
        nonzero += got.score > 0
        if tick % 97 == 96:  # the job's re-forecast: a new forecast object
            services.store.append_many([(now, {"cpu_percent": 88.0})])
            live.reforecast("cpu_percent", TIERS[0], now + 61.0)
        clock.advance(5.0)
    assert nonzero > 0  # the factor path was compared, not only the empty one
    memo_calls = len(computed) - 400  # the fresh ones counted once per tick
    assert 4 <= memo_calls < 400 / 2  # recomputed on each change, else reused
