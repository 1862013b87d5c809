"""Rolling-origin backtests of the forecaster against honest baselines. No I/O, no clock
reads except ``time.perf_counter`` for the fit/predict timings it reports.

Protocol: the last ``test_fraction`` of the series holds the forecast origins (every
step whose value is observed and whose ``horizon`` targets lie inside the series). The
test span is cut into ``n_refits`` consecutive chunks; before each chunk every model
is refitted on all data before it (expanding window), then forecasts every origin of
the chunk from data up to that origin only.

Model choice (``model="auto"``): ``selection.select`` validates every candidate on
rolling origins inside the span *before* the first test origin, and the chosen one is
the one scored on the test origins, so its accuracy is out-of-sample for the choice too.
Its bands come from its own validation residuals, moved online across the test origins
by adaptive conformal inference (``foresight.models.conformal``), misses fed back only
once their target is observed. ``naive_mase`` is the last value's MASE on the same pairs.

All MASE figures share Hyndman & Koehler's scale: the in-sample MAE of the one-season-
back naive forecast on the first training span, so ``mase / seasonal_naive_mase < 1``
means "beats repeating the last season". Where that is zero (a training span that never
changes, or repeats exactly every season) the scale falls back as ``metrics.mase_scale``
documents, and ``mase_scale_from`` says which one was used ("train" is the usual one);
the ratios between the MASEs are the same whichever it is. Errors are compared on the
same (origin, step) pairs for every model: pairs whose target or any model's forecast is
missing are left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from foresight.evaluation.metrics import mase_on, mase_scale, mase_with_steps, naive_scale
from foresight.evaluation.model_choices import MODEL_CHOICES
from foresight.evaluation.selection import (
    DEFAULT_CANDIDATES,
    Selection,
    make_model,
    rolling_means,
    select,
)
from foresight.models.conformal import ConformalState, bands_from, run_aci
from foresight.models.features import (
    detect_season,
    seasonal_index,
    snap_season,
    take_or_nan,
)
from foresight.models.linear_lags import LinearLagsBaseline

logger = logging.getLogger(__name__)

__all__ = [
    "BacktestResult",
    "LinearLagsBaseline",
    "PointForecasts",
    "backtest",
    "bands_on_origins",
    "naive_scale",
    "point_forecasts",
    "seasonal_naive",
]

INTERVAL_METHOD = (
    "split conformal per step on the recent validation residuals, rolling with each "
    "observed outcome, moved online by adaptive conformal inference (Gibbs & Candes "
    "2021) with its step capped by the feedback delay"
)


def seasonal_naive(
    values: np.ndarray, origins: np.ndarray, horizon: int, season: int | None
) -> np.ndarray:
    """Repeat the last season (the last value when there is no season); NaN in gaps."""
    if not season:
        return np.repeat(take_or_nan(values, np.asarray(origins))[:, None], horizon, axis=1)
    return take_or_nan(values, seasonal_index(origins, horizon, season))


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Accuracy of the served model and the baselines over the same rolling origins.

    ``mase`` is the served model's (``model``: chosen on validation origins before the
    test origins, or forced); ``candidates`` are the validation MASEs the choice was
    made on. Errors are in the series' unit; sMAPE is in percent (0-200); coverage is
    the share (0-1) of actuals inside the interval; times are seconds. ``scale`` is
    the MASE denominator and ``mase_scale_from`` where it came from
    (``metrics.SCALE_SOURCES``).
    """

    n: int
    step_s: float | None
    horizon: int
    season_length: int | None
    n_origins: int
    n_refits: int
    mase: float
    mase_by_step: list[float]
    mae: float
    smape: float
    coverage_80: float
    coverage_95: float
    seasonal_naive_mase: float
    seasonal_naive_mase_by_step: list[float]
    linear_lags_mase: float
    linear_lags_mase_by_step: list[float]
    scale: float
    fit_seconds: float
    predict_seconds_per_origin: float
    total_seconds: float
    features: list[str] = field(default_factory=list)
    naive_mase: float = float("nan")
    model: str = "ridge"
    candidates: dict[str, float] = field(default_factory=dict)
    selection_seconds: float = 0.0
    interval_method: str = INTERVAL_METHOD
    mase_scale_from: str = "train"
    # The share (0-1) of the scored pairs whose forecast equals the actual exactly: inside
    # every band that holds its point forecast, so no such band covers less (a step-like
    # series the last value repeats: 80 % coverage is out of reach when this is above it).
    coverage_floor: float = 0.0

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class PointForecasts:
    """Everything ``backtest`` computes before the bands: the chosen model's test-origin
    forecasts beside the baselines' on the same pairs, and the selection (its validation
    scores are the band pool). ``bench/bench_coverage.py`` reuses it to compare band
    calibrations without refitting.
    """

    raw: np.ndarray
    origins: np.ndarray
    ours: np.ndarray
    linear: np.ndarray
    snaive: np.ndarray
    naive: np.ndarray
    actual: np.ndarray
    mask: np.ndarray
    chosen: Selection
    season: int | None
    scale: float
    step_s: float | None
    n_chunks: int
    fit_times: list[float]
    predict_s: float
    selection_s: float
    scale_from: str = "train"

    @property
    def lower(self) -> float | None:
        """The band's floor: 0 for a series that is never negative before the test."""
        return 0.0 if np.nanmin(self.raw[: int(self.origins[0])]) >= 0 else None

    def to_dict(self) -> dict:
        return {
            "n_origins": len(self.origins),
            "model": self.chosen.model,
            "season": self.season,
            "scale": self.scale,
        }


def point_forecasts(
    values: np.ndarray,
    timestamps: np.ndarray | None = None,
    *,
    horizon: int,
    season_length: int | str | None = "auto",
    step_s: float | None = None,
    test_fraction: float = 0.3,
    n_refits: int = 8,
    model_params: dict | None = None,
    progress: Callable[[str], None] | None = None,
    model: str = "auto",
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
) -> PointForecasts:
    """The protocol of ``backtest`` up to the point forecasts (arguments as there)."""
    raw = np.asarray(values, dtype=float).ravel()
    n = len(raw)
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a whole number >= 1 (got {horizon!r})")
    if not 0.05 <= test_fraction <= 0.8:
        raise ValueError(f"test_fraction must be in [0.05, 0.8] (got {test_fraction})")
    if model not in MODEL_CHOICES:
        raise ValueError(f"model must be one of {', '.join(MODEL_CHOICES)} (got {model!r})")
    ts = None if timestamps is None else np.asarray(timestamps, dtype=float).ravel()
    if ts is not None and len(ts) > 1:
        step_s = float(np.median(np.diff(ts)))
    test_start = int(n * (1.0 - test_fraction))
    grid = np.arange(test_start, n - horizon)
    origins = grid[~np.isnan(raw[grid])]
    if len(origins) < 1:
        raise ValueError(
            f"series too short for a backtest at horizon {horizon}: {n} steps "
            f"leave no forecast origin in the last {test_fraction:.0%}"
        )
    cut0 = int(origins[0])
    history = raw[:cut0]
    if season_length == "auto":
        season = snap_season(detect_season(history), step_s)
    else:
        season = None if season_length is None else int(season_length)
    scale, scale_from = mase_scale(history, season, raw)
    params = {"season_length": season_length, **dict(model_params or {})}
    t0 = time.perf_counter()
    chosen = select(
        history,
        None if ts is None else ts[:cut0],
        horizon=int(horizon),
        step_s=step_s,
        names=candidates if model == "auto" else (),
        force=None if model == "auto" else model,
        season=season,
        params=params,
        flat_scale=scale,
    )
    selection_s = time.perf_counter() - t0
    if progress:
        progress(f"backtest: chose {chosen.model} on {chosen.n_validation_origins} origins")
    ours, failed, fit_times, predict_time = rolling_means(
        raw,
        ts,
        origins,
        lambda: make_model(
            chosen.model,
            int(horizon),
            step_s=step_s,
            features=chosen.features,
            params=params,
            members=chosen.member_choice(),
        ),
        int(horizon),
        n_refits,
    )
    if failed:
        raise ValueError(f"{chosen.model} could not be refitted before {failed} test chunk(s)")
    linear = np.empty((len(origins), horizon))
    chunks = [c for c in np.array_split(origins, max(1, min(n_refits, len(origins)))) if len(c)]
    row = 0
    for k, chunk in enumerate(chunks):
        cut = int(chunk[0])
        linear[row : row + len(chunk)] = (
            LinearLagsBaseline().fit(raw[:cut]).predict_batch(raw, chunk, horizon)
        )
        row += len(chunk)
        if progress:
            progress(f"backtest: refit {k + 1}/{len(chunks)} done ({row}/{len(origins)} origins)")
    Y = take_or_nan(raw, origins[:, None] + np.arange(1, horizon + 1)[None, :])
    snaive = seasonal_naive(raw, origins, horizon, season)
    naive = seasonal_naive(raw, origins, horizon, None)
    mask = (
        ~np.isnan(Y)
        & ~np.isnan(snaive)
        & ~np.isnan(naive)
        & np.isfinite(linear)
        & np.isfinite(ours)
    )
    if not mask.any():
        raise ValueError("no (origin, step) pair has an actual value and every forecast")
    return PointForecasts(
        raw=raw,
        origins=origins,
        ours=ours,
        linear=linear,
        snaive=snaive,
        naive=naive,
        actual=Y,
        mask=mask,
        chosen=chosen,
        season=season,
        scale=scale,
        scale_from=scale_from,
        step_s=step_s,
        n_chunks=len(chunks),
        fit_times=fit_times,
        predict_s=predict_time,
        selection_s=selection_s,
    )


def backtest(
    values: np.ndarray,
    timestamps: np.ndarray | None = None,
    *,
    horizon: int,
    season_length: int | str | None = "auto",
    step_s: float | None = None,
    test_fraction: float = 0.3,
    n_refits: int = 8,
    model_params: dict | None = None,
    progress: Callable[[str], None] | None = None,
    model: str = "auto",
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
) -> BacktestResult:
    """Evaluate the selected (or forced) model beside the baselines on rolling origins.

    ``values`` must be regularly spaced (NaN = gap); ``timestamps`` (epoch s) are
    optional and enable calendar terms; ``step_s`` is reported when there are no
    timestamps. ``model`` is "auto" (choose among ``candidates`` on validation origins
    inside the span before the first test origin) or one of ``MODEL_CHOICES``.
    Raises ValueError when the series is too short for the protocol.
    """
    started = time.perf_counter()
    f = point_forecasts(
        values,
        timestamps,
        horizon=horizon,
        season_length=season_length,
        step_s=step_s,
        test_fraction=test_fraction,
        n_refits=n_refits,
        model_params=model_params,
        progress=progress,
        model=model,
        candidates=candidates,
    )
    raw, origins, Y, mask, chosen = f.raw, f.origins, f.actual, f.mask, f.chosen
    scale, season, snaive, naive, linear = f.scale, f.season, f.snaive, f.naive, f.linear
    fit_times, predict_time, selection_s = f.fit_times, f.predict_s, f.selection_s
    bands = bands_on_origins(f, chosen.conformal)
    err = bands["mean"] - Y
    mase, mase_by_step = mase_with_steps(err, mask, scale)
    sn_mase, sn_by_step = mase_with_steps(snaive - Y, mask, scale)
    ll_mase, ll_by_step = mase_with_steps(linear - Y, mask, scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.abs(Y) + np.abs(bands["mean"])
        smape_terms = np.where(denom > 0, 2.0 * np.abs(err) / denom, 0.0)
    inside_80 = (Y >= bands["lower_80"]) & (Y <= bands["upper_80"])
    inside_95 = (Y >= bands["lower_95"]) & (Y <= bands["upper_95"])
    return BacktestResult(
        n=len(raw),
        step_s=f.step_s,
        horizon=int(horizon),
        season_length=season,
        n_origins=len(origins),
        n_refits=f.n_chunks,
        mase=round(mase, 6),
        mase_by_step=mase_by_step,
        mae=float(np.abs(err)[mask].mean()),
        smape=float(100.0 * smape_terms[mask].mean()),
        coverage_80=float(inside_80[mask].mean()),
        coverage_95=float(inside_95[mask].mean()),
        seasonal_naive_mase=round(sn_mase, 6),
        seasonal_naive_mase_by_step=sn_by_step,
        linear_lags_mase=round(ll_mase, 6),
        linear_lags_mase_by_step=ll_by_step,
        scale=scale,
        fit_seconds=float(np.mean(fit_times)) if fit_times else 0.0,
        predict_seconds_per_origin=predict_time / len(origins),
        total_seconds=time.perf_counter() - started,
        features=[] if chosen.features is None else chosen.features.names(),
        naive_mase=round(mase_on(naive - Y, mask, scale), 6),
        model=chosen.model,
        candidates=chosen.candidates,
        selection_seconds=selection_s,
        mase_scale_from=f.scale_from,
        coverage_floor=float((err == 0)[mask].mean()),
    )


def bands_on_origins(f: PointForecasts, state: ConformalState) -> dict[str, np.ndarray]:
    """The served bands on the test origins: ``state`` walked across them by ACI, each
    outcome fed back only once its target is observed, its score then joining the
    rolling pool (what the live monitor does, ``ConformalState.observe``)."""
    widths, _ = run_aci(
        state.pool,
        state.scores(f.raw, f.origins, f.ours),
        f.origins,
        gamma=state.gamma,
        alpha=state.alpha,
        capacity=state.capacity(),
    )
    return bands_from(f.ours, widths, state.scale(f.raw, f.origins), lower=f.lower)
