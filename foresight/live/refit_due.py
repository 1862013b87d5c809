"""When one live model is due for a refit, and which kind: the model job's schedule.

A refit of a kept choice (same model, same features) on a history a few buckets longer
changes almost nothing: the 1-hour tier's fit reads 5,760 one-minute buckets, and five
minutes add five. Every forecast is re-anchored from the newest bucket anyway, so a
model is refit for one of these reasons only:

- ``first`` / ``warming``: no model yet; look again once a new bucket has completed;
- ``fast-start``: the last value is served while history builds up; try the others
  every minute (a richer model may win);
- ``grown``: the last value was served because no other candidate could be tried on the
  history the fit had (``history_need``), and the tier has since added enough buckets for
  a lag model: chosen afresh then, not up to ``reselect_s`` (12 h at the 7-day tier) later;
- ``reselect``: its choice is as old as ``reselect_s(tier)`` (an hour, or 12 of the tier's
  buckets when longer): every candidate is validated afresh, as before;
- ``drift``: its live bands miss: fewer than ``DRIFT_COVERAGE_80`` of at least
  ``DRIFT_MIN_OUTCOMES`` live actuals since it was chosen fell inside the 80 % band
  (adaptive conformal inference could not keep up), and the choice is older than
  ``refit_every_s``: it is chosen afresh (new validation, new band pool);
- ``age``: the fit is ``refit_steps`` of the tier's buckets old, and at least
  ``refit_every_s`` (``FORECAST_REFIT_STEPS`` = 30: the 5-minute tier every 300 s,
  the 1-hour tier every 30 min; the 24-hour and 7-day tiers reach their reselection
  first). ``refit_steps`` = 0 gives the former rule: every ``refit_every_s``, but not
  before the tier has a new bucket.

Pure: time is passed in.
"""

from __future__ import annotations

from foresight.live.forecasting import Served, reselect_s
from foresight.live.history_need import lag_model_steps
from foresight.live.records import ModelState
from foresight.live.tiers import Tier

FAST_START_RECHECK_S = 60.0
REFIT_STEPS = 30  # Settings.forecast_refit_steps
DRIFT_COVERAGE_80 = 0.65  # live share inside the 80 % band below which a model drifted
DRIFT_MIN_OUTCOMES = 100  # live actuals scored before the share is trusted


def drifted(served: Served) -> bool:
    """True when the served model's live 80 % coverage since its choice is too low."""
    n, inside = served.conformal.online.get(80, (0, 0))
    return n >= DRIFT_MIN_OUTCOMES and inside / n < DRIFT_COVERAGE_80


def grown_enough(served: Served, tier: Tier, age_s: float) -> bool:
    """Whether the last value, served as the only candidate the fit could try, may now
    have company: the fit saw fewer observed buckets than a lag model needs, and with a
    new bucket every step since, the count would have reached it (a sparse series gets
    there later: its refit learns the real count, and the next check waits for the rest)."""
    if served.name != "last" or set(served.candidates) - {"last"}:
        return False
    need = lag_model_steps(tier.horizon_steps, tier.step_s)
    return served.n_observed < need <= served.n_observed + age_s / tier.step_s


def refit_reason(
    state: ModelState | None,
    served: Served | None,
    tier: Tier,
    now: float,
    *,
    refit_every_s: float,
    refit_steps: float = REFIT_STEPS,
) -> str | None:
    """Why the model of ``state`` should be refit at ``now`` (epoch s), or None: not yet."""
    if state is None:
        return "first"
    age_s = now - state.checked_at
    if state.status != "ok":
        return "warming" if age_s >= min(tier.step_s, refit_every_s) else None
    if (state.accuracy or {}).get("fast_start") or served is None or served.fast_start:
        wait_s = min(max(FAST_START_RECHECK_S, tier.step_s), refit_every_s)
        return "fast-start" if age_s >= wait_s else None
    if age_s < tier.step_s:
        return None  # nothing new to learn before the tier's next bucket
    if grown_enough(served, tier, age_s):
        return "grown"
    chosen_s = now - (served.selected_at or served.fitted_at)
    if chosen_s >= reselect_s(tier):
        return "reselect"
    if age_s >= refit_every_s and chosen_s >= refit_every_s and drifted(served):
        return "drift"
    if age_s >= max(refit_every_s, refit_steps * tier.step_s):
        return "age"
    return None
