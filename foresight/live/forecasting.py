"""The served forecaster of one metric and tier: choose, fit, forecast from the latest data.

``fit_served`` runs ``selection.select`` on the metric's own history (the same code as
``backtest``), fits the winner on all of it and keeps the winner's validation residuals
for adaptive conformal bands. With too little history for any validation (the first
minutes) it serves the last value with an empirical band: the last value's own past
errors at each step ahead (steps not yet measurable grow like a random walk, sqrt h).
``forecast_now`` re-anchors at every call: the forecast starts from the newest complete
bucket, and is clipped to the metric's bounds (percents to [0, 100], others >= 0).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from foresight.core.catalog import METRIC_CATALOG, metric_info
from foresight.core.series import metric_of
from foresight.evaluation.backtest import INTERVAL_METHOD  # the one served config
from foresight.evaluation.selection import (
    DEFAULT_CANDIDATES,
    MEDIAN,
    make_model,
    members_from_dict,
    model_words,
    select,
    spec_from_dict,
)
from foresight.live.history_need import why_only_the_last_value
from foresight.models.bands import Forecast
from foresight.models.baselines import LastValue
from foresight.models.combination import MedianOf
from foresight.models.conformal import (
    BANDS,
    ConformalState,
    bands_from,
    conformal_scores,
    typical_spread,
)

logger = logging.getLogger(__name__)

FAST_START_OBSERVED = 6  # buckets before the live tier's first (last-value) forecast
# Choose afresh (validate every candidate) at most this often; refits in between only
# refit the chosen model. Keeps the live refit cost near one fit per model.
RESELECT_EVERY_S = 3600.0
RESELECT_BUCKETS = 12  # ... and not before this many new buckets of the tier's step


def reselect_s(tier: Any) -> float:
    """How long a choice is kept at ``tier`` (anything with ``step_s``): an hour, or
    ``RESELECT_BUCKETS`` of its steps when longer (3 h at 15 min, 12 h at 1 h)."""
    return max(RESELECT_EVERY_S, RESELECT_BUCKETS * float(tier.step_s))


LIVE_COVERAGE_MIN = 30  # live outcomes before the note quotes the live coverage


def metric_bounds(metric: str, values: np.ndarray) -> tuple[float | None, float | None]:
    """The range a metric's forecast must stay in: [0, 100] for percents, >= 0 for the
    catalog's rates, counts, sizes and times; unknown metrics >= 0 when never negative."""
    info = metric_info(metric)
    if info.unit == "%":
        return 0.0, 100.0
    observed = values[~np.isnan(values)]
    if metric_of(metric) in METRIC_CATALOG or (len(observed) and observed.min() >= 0):
        return 0.0, None
    return None, None


def finite_history(values: np.ndarray) -> np.ndarray:
    """``values`` as floats with +-inf as gaps (NaN); ValueError when none is finite.

    An infinite value is no level to repeat or to learn from (the last value would
    serve inf, a lag model would fit NaN): no forecast, and the reason in words.
    """
    raw = np.array(values, dtype=float)  # a copy: the caller's array is left as it was
    infinite = np.isinf(raw)
    raw[infinite] = np.nan
    if len(raw) and np.isnan(raw).all():
        n_inf = int(infinite.sum())
        what = (
            f"{n_inf} are +-inf and {len(raw) - n_inf} NaN"
            if n_inf and n_inf < len(raw)
            else "all are +-inf"
            if n_inf
            else "all are NaN"
        )
        raise ValueError(
            f"no forecast: none of the {len(raw)} values in the history is a finite "
            f"number ({what}), so there is no level to forecast from"
        )
    return raw


@dataclass(frozen=True, slots=True)
class Served:
    """A fitted, chosen model with its band calibration and the accuracy it earned."""

    name: str
    # predict_mean: LagForecaster, LastValue, SeasonalNaive, LinearLags, NumpyLstm, MedianOf
    model: Any
    conformal: ConformalState
    lower: float | None
    upper: float | None
    history_steps: int  # buckets ``forecast_now`` needs
    fitted_at: float
    n_observed: int
    fast_start: bool
    candidates: dict[str, float] = field(default_factory=dict)
    selection: dict = field(default_factory=dict)
    selected_at: float | None = None  # when the choice was last made (None: fitted_at)

    @property
    def members(self) -> tuple[str, ...]:
        """A served median's members, best first (empty for any other model)."""
        if self.name != MEDIAN:
            return ()
        return tuple(self.selection.get("members") or ())

    def words(self) -> str:
        """The served model in plain words."""
        return model_words(self.name, getattr(self.model, "spec_", None), self.members)

    def accuracy(self, step_s: float) -> dict:
        """The figures the API and the chart note show (validation MASE, coverage)."""
        c = self.candidates
        season = getattr(getattr(self.model, "spec_", None), "season", None)
        season = season or getattr(self.model, "period", None)
        return {
            "model": self.name,
            "model_words": self.words(),
            "members": list(self.members),
            "fast_start": self.fast_start,
            "mase": c.get(self.name),
            "naive_mase": c.get("last"),
            "seasonal_naive_mase": c.get("seasonal"),
            "linear_lags_mase": c.get("lags"),
            "candidates": dict(c),
            "coverage_80": self.conformal.coverage.get(80),
            "coverage_95": self.conformal.coverage.get(95),
            "n_origins": int(self.selection.get("n_validation_origins", 0)),
            "season_length": season,
            "interval_method": INTERVAL_METHOD,
            "aci_gamma": self.conformal.gamma,
            "live_coverage_80": self.conformal.online_coverage(80),
            "live_outcomes": self.conformal.online.get(80, (0, 0))[0],
            "summary": describe(self, step_s),
        }


def _percent_diff(ours: float, other: float) -> str:
    ratio = ours / other
    return f"{round(100 * abs(1 - ratio))} % {'below' if ratio <= 1 else 'above'}"


def describe(served: Served, step_s: float) -> str:
    """Name the served model in plain words and its accuracy against the baselines."""
    c = served.candidates
    coverage = served.conformal.coverage.get(80)
    band = (
        f"; {round(100 * coverage)} % of actuals inside the 80 % band"
        if coverage is not None
        else "; band from its own past errors"
    )
    live_n = served.conformal.online.get(80, (0, 0))[0]
    live = served.conformal.online_coverage(80)
    if live is not None and live_n >= LIVE_COVERAGE_MIN:
        band += f" ({round(100 * live)} % of {live_n} live actuals inside it since it was chosen)"
    if served.fast_start:
        if served.selection.get("unchanged"):
            return "repeating the last value: the series has not changed, nothing to learn" + band
        return (
            f"repeating the last value: nothing else can be tried yet, as "
            f"{_short(served, step_s)}" + band
        )
    mine = c.get(served.name)
    if served.name == "last":
        others = {k: v for k, v in c.items() if k != "last"}
        why = (
            "nothing else beat it yet"
            if others
            else f"nothing else could be tried yet, as {_short(served, step_s)}"
        )
        if others:
            best = min(others, key=lambda k: others[k])
            if mine and math.isfinite(others[best]) and mine > 0:
                why += f" (best other: {best}, {_percent_diff(others[best], mine)} it)"
        return f"repeating the last value: {why}" + band
    words = served.words()
    parts = []
    for baseline, label in (
        ("last", "repeating the last value"),
        ("seasonal", "repeating yesterday"),
    ):
        other = c.get(baseline)
        if mine is not None and other and baseline != served.name:
            parts.append(f"{_percent_diff(mine, other)} {label}")
    return f"{words}: error " + ", ".join(parts) + band if parts else words + band


def _short(served: Served, step_s: float) -> str:
    """Why only the last value: the tier's steps too fine for the series, or too little."""
    horizon = int(getattr(served.model, "horizon", 0) or 1)
    steps = int(served.selection.get("steps", served.n_observed))
    return why_only_the_last_value(horizon, step_s, served.n_observed, steps)


def reuse_choice(
    previous: Served | None, now: float, reselect_every_s: float = RESELECT_EVERY_S
) -> dict | None:
    """The previous choice to refit as is (``{"name", "features", "members",
    "member_features"}``), or None: choose afresh.

    A choice younger than ``reselect_every_s`` is kept: the choice and its validation are
    the expensive part, and they change slowly. The fast start is never kept.
    """
    if previous is None or previous.fast_start:
        return None
    selected_at = previous.selected_at or previous.fitted_at
    if now - selected_at >= reselect_every_s:
        return None
    return {
        "name": previous.name,
        "features": previous.selection.get("features"),
        "members": list(previous.selection.get("members") or ()),
        "member_features": list(previous.selection.get("member_features") or ()),
    }


def refit_model(
    choice: dict, values: np.ndarray, timestamps: np.ndarray, *, horizon: int, step_s: float
) -> Any:
    """Refit the chosen model on new history with the same feature set (ValueError if not);
    a median refits the same members with theirs."""
    features = choice.get("features")
    model = make_model(
        choice["name"],
        horizon,
        step_s=step_s,
        features=None if features is None else spec_from_dict(features),
        members=members_from_dict(choice) if choice["name"] == MEDIAN else (),
    )
    return servable(model.fit(np.asarray(values, dtype=float), timestamps))


def servable(model: Any) -> Any:
    """The fitted model as served: the LSTM's weights with numpy's forward pass (its
    ``to_numpy()``), so no served model needs Keras; a median's members likewise; any
    other model as it is."""
    if isinstance(model, MedianOf):
        return MedianOf([servable(m) for m in model.members], names=model.names)
    to_numpy = getattr(model, "to_numpy", None)
    return model if to_numpy is None else to_numpy()


def history_need(model: Any) -> int:
    """Buckets before the origin a fitted model reads (a median: its widest member's)."""
    if isinstance(model, MedianOf):
        return max(history_need(m) for m in model.members)
    history = getattr(getattr(model, "spec_", None), "history", None)
    history = history or getattr(model, "period", None) or getattr(model, "lookback", None)
    return int(history or 1)


def fit_served(
    metric: str,
    values: np.ndarray,
    timestamps: np.ndarray,
    *,
    horizon: int,
    step_s: float,
    min_observed: int,
    now: float,
    names: tuple[str, ...] = DEFAULT_CANDIDATES,
    previous: Served | None = None,
    reselect_every_s: float = RESELECT_EVERY_S,
) -> Served:
    """Choose and fit the model for one metric's history; ValueError when too short.

    With a ``previous`` choice younger than ``reselect_every_s``, only refit that model
    (same feature set, same band calibration) on the new history (``reuse_choice``).
    """
    raw = finite_history(values)
    observed = int(np.sum(~np.isnan(raw)))
    choice = reuse_choice(previous, now, reselect_every_s)
    if choice is not None and previous is not None and observed >= min_observed:
        try:
            model = refit_model(choice, raw, timestamps, horizon=horizon, step_s=step_s)
        except ValueError as exc:  # e.g. a new gap: choose afresh
            logger.debug("%s: refit of %s failed (%s); choosing again", metric, choice, exc)
        else:
            return replace(
                previous,
                model=model,
                fitted_at=now,
                n_observed=observed,
                selection={**previous.selection, "steps": len(raw)},
                selected_at=previous.selected_at or previous.fitted_at,
            )
    return choose_served(
        metric,
        raw,
        timestamps,
        horizon=horizon,
        step_s=step_s,
        min_observed=min_observed,
        now=now,
        names=names,
    )


def choose_served(
    metric: str,
    values: np.ndarray,
    timestamps: np.ndarray,
    *,
    horizon: int,
    step_s: float,
    min_observed: int,
    now: float,
    names: tuple[str, ...] = DEFAULT_CANDIDATES,
) -> Served:
    """Validate the candidates, fit the winner on all the history (ValueError: too short).

    Too short for any validation: the fast start (the last value, empirical band).
    """
    raw = finite_history(values)
    observed = int(np.sum(~np.isnan(raw)))
    if observed < min_observed:
        raise ValueError(f"{min_observed - observed} more steps needed")
    lower, upper = metric_bounds(metric, raw)
    try:
        chosen = select(raw, timestamps, horizon=horizon, step_s=step_s, names=names)
    except ValueError as exc:
        logger.debug("%s: fast start (%s)", metric, exc)
        return _fast_start(raw, horizon, lower, upper, now, observed)
    model = make_model(
        chosen.model,
        horizon,
        step_s=step_s,
        features=chosen.features,
        members=chosen.member_choice(),
    )
    model.fit(raw, timestamps)
    model = servable(model)
    history = history_need(model)
    return Served(
        name=chosen.model,
        model=model,
        conformal=chosen.conformal,
        lower=lower,
        upper=upper,
        history_steps=int(history) + 30,
        fitted_at=now,
        n_observed=observed,
        fast_start=False,
        candidates=chosen.candidates,
        selection={**chosen.to_dict(), "steps": len(raw)},
        selected_at=now,
    )


def fast_start_served(metric: str, values: np.ndarray, horizon: int, now: float) -> Served:
    """The last value with its empirical band, from ``values`` alone: what a new series is
    served at once, before its first fit (no validation, a few ms). ValueError when no
    value is finite (``finite_history``)."""
    raw = finite_history(values)
    lower, upper = metric_bounds(metric, raw)
    return _fast_start(raw, horizon, lower, upper, now, int(np.sum(~np.isnan(raw))))


def _fast_start(
    raw: np.ndarray,
    horizon: int,
    lower: float | None,
    upper: float | None,
    now: float,
    observed: int,
) -> Served:
    model = LastValue(horizon).fit(raw)
    origins = np.arange(len(raw) - 1)
    origins = origins[~np.isnan(raw[origins])]
    offset = typical_spread(raw)
    window = BANDS.spread_window
    pool = conformal_scores(raw, origins, model.predict_mean(raw, origins), offset, window)
    alpha = {level: np.full(horizon, 1.0 - level / 100.0) for level in (80, 95)}
    state = ConformalState(
        pool=pool, alpha=alpha, offset=offset, gamma=BANDS.gamma, spread_window=window
    )
    return Served(
        name="last",
        model=model,
        conformal=state,
        lower=lower,
        upper=upper,
        history_steps=30,
        fitted_at=now,
        n_observed=observed,
        fast_start=True,
        selection={"unchanged": bool(np.nanmin(raw) == np.nanmax(raw)), "steps": len(raw)},
    )


def forecast_now(
    served: Served, values: np.ndarray, timestamps: np.ndarray, step_s: float
) -> Forecast:
    """Forecast from the last of ``values`` (the newest complete bucket) with bands.

    Each step's time is its bucket's middle (a mean over the bucket), for charts.
    """
    raw = np.asarray(values, dtype=float)
    raw = np.where(np.isinf(raw), np.nan, raw)  # an infinite bucket is a gap, not a level
    origin = np.array([len(raw) - 1])
    mean = served.model.predict_mean(raw, origin, timestamps)
    widths = served.conformal.half_widths()
    scale = served.conformal.scale(raw, origin)
    out = bands_from(mean, widths, scale, served.lower, served.upper)
    horizon = mean.shape[1]
    stamps = float(timestamps[-1]) + step_s * np.arange(1, horizon + 1) + step_s / 2.0
    return Forecast(timestamps=stamps, step_s=step_s, **{k: v[0] for k, v in out.items()})
