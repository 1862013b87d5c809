"""Re-forecasting between new buckets reuses the accuracy figures already computed for
the same served model, and they always equal a fresh ``Served.accuracy``."""

from __future__ import annotations

from foresight.live.models import EXTRAS_KEY, SHORT_TIER, TIERS
from tests.live.history_support import seed_history


def test_reforecast_accuracy_equals_a_fresh_one_and_is_reused_between_buckets(services, clock):
    live = services.extras[EXTRAS_KEY]
    seed_history(services.store, clock(), hours=8, step_s=5.0)
    for tier in (SHORT_TIER, TIERS[0]):
        assert live.refit("cpu_percent", tier, clock()).status == "ok"
    reused = recomputed = 0
    for tick in range(90):
        clock.advance(5.0)
        services.store.append_many([(clock() - 1.0, {"cpu_percent": 40.0 + tick % 7})])
        for tier in (SHORT_TIER, TIERS[0]):
            key = ("cpu_percent", tier.name)
            before = live.state("cpu_percent", tier).accuracy
            live.reforecast("cpu_percent", tier, clock())
            state = live.state("cpu_percent", tier)
            assert state.accuracy == live._models[key].accuracy(tier.step_s), (tick, tier)
            if state.accuracy is before:
                reused += 1
            else:
                recomputed += 1
    assert reused > 0 and recomputed > 0  # both paths compared
