"""The 5-minute tier is re-anchored at every job run only while its forecast is read (a
chart, an API call, a rule or the scaling engine asked for its state in the last
WATCHED_S); unread, at most every IDLE_REANCHOR_S, as often as the 1-hour tier's."""

from __future__ import annotations

from foresight.live.model_job import IDLE_REANCHOR_S, WATCHED_S
from foresight.live.models import EXTRAS_KEY, SHORT_TIER, TIERS
from tests.live.history_support import seed_history

JOB_S = 15.0


def _made_at(live, tier) -> float | None:
    state = live._states.get(("cpu_percent", tier.name))  # not live.state(): that is a read
    return None if state is None else state.forecast_made_at


def _runs(services, live, clock, runs: int, read: bool) -> dict[str, list[float]]:
    """Job runs every JOB_S with a new sample each; the times each tier re-anchored."""
    made: dict[str, list[float]] = {t.name: [] for t in (SHORT_TIER, TIERS[0])}
    for _ in range(runs):
        clock.advance(JOB_S)
        services.store.append_many([(clock() - 1.0, {"cpu_percent": 40.0 + clock() % 7})])
        if read:  # e.g. the dashboard's 5-minute view, asking every 15 s
            live.state("cpu_percent", SHORT_TIER)
        live.run(clock())
        for tier in (SHORT_TIER, TIERS[0]):
            at = _made_at(live, tier)
            if at is not None and (not made[tier.name] or made[tier.name][-1] != at):
                made[tier.name].append(at)
    return made


def test_an_unread_short_tier_reanchors_once_a_minute_and_a_read_one_every_run(services, clock):
    live = services.extras[EXTRAS_KEY]
    seed_history(services.store, clock(), hours=8, step_s=5.0)
    live.metrics = lambda: ["cpu_percent"]
    live.tiers = (SHORT_TIER, TIERS[0])
    live.refit_every_s = live.refit_steps = 1e12  # re-anchors only: no refit comes due
    for tier in live.tiers:
        assert live.refit("cpu_percent", tier, clock()).status == "ok"
    _runs(services, live, clock, round(WATCHED_S / JOB_S) + 1, read=False)  # settle
    idle = _runs(services, live, clock, 16, read=False)  # 4 minutes nobody reads it
    gaps = [b - a for a, b in zip(idle["5m"], idle["5m"][1:], strict=False)]
    assert len(idle["5m"]) in (4, 5) and all(
        IDLE_REANCHOR_S <= g < IDLE_REANCHOR_S + JOB_S for g in gaps
    )
    assert len(idle["1h"]) in (4, 5)  # the 1-h tier: a new 1-min bucket, as before
    watched = _runs(services, live, clock, 8, read=True)  # 2 minutes of a 5-minute view
    assert len(watched["5m"]) == 8  # every run: from the newest complete 10-s bucket
    state = live.state("cpu_percent", SHORT_TIER)
    assert state.forecast_made_at == clock()
    newest_bucket_end = (clock() // SHORT_TIER.step_s) * SHORT_TIER.step_s
    # the forecast's first step is the bucket after the newest complete one
    assert state.forecast.timestamps[0] == newest_bucket_end + SHORT_TIER.step_s / 2
    # the reads stop: after WATCHED_S the tier idles again
    after = _runs(services, live, clock, 12, read=False)
    assert len(after["5m"]) <= round(WATCHED_S / JOB_S) + 3


def test_a_read_of_an_unwatched_forecast_wakes_the_job_once(services, clock):
    live = services.extras[EXTRAS_KEY]
    seed_history(services.store, clock(), hours=8, step_s=5.0)
    live.metrics = lambda: ["cpu_percent"]
    live.tiers = (SHORT_TIER,)
    live.refit_every_s = live.refit_steps = 1e12
    assert live.refit("cpu_percent", SHORT_TIER, clock()).status == "ok"
    woken: list[float] = []
    live.wakeup = lambda: woken.append(clock())
    _runs(services, live, clock, round(WATCHED_S / JOB_S) + 2, read=False)  # unwatched
    assert woken == []  # the job's own runs wake nothing
    live.state("cpu_percent", SHORT_TIER)
    live.state("cpu_percent", SHORT_TIER)
    assert woken == [clock()]  # the first view after a quiet spell: once per run
    live.run(clock() + 1.0)  # the woken run re-anchors it from the newest bucket
    assert _made_at(live, SHORT_TIER) == clock() + 1.0
    _runs(services, live, clock, 3, read=True)  # watched now: reads wake nothing more
    assert woken == [clock() - 3 * JOB_S]
