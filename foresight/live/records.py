"""What the live forecasting stage keeps per model and anomaly (frozen records, to_dict)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from foresight.live.tiers import Tier
from foresight.models.bands import Forecast


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One sample whose score reached the detector's threshold."""

    timestamp: float
    metric: str
    value: float
    score: float

    def to_dict(self) -> dict:
        return {
            "timestamp": self.timestamp,
            "metric": self.metric,
            "value": self.value,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class ModelState:
    """What the API shows for one metric and tier: status, accuracy, latest forecast."""

    metric: str
    tier: Tier
    status: str  # "ok" | "warming_up"
    message: str | None
    observed_steps: int
    checked_at: float  # when the job last tried to (re)fit it
    fitted_at: float | None = None
    accuracy: dict | None = None  # backtest figures + "summary" sentence
    forecast: Forecast | None = None
    forecast_made_at: float | None = None
    model: str | None = None  # the served model's name (selection.CANDIDATES)
    anchor: tuple[float, float] | None = None  # (timestamp, value) of the newest sample

    def to_dict(self, horizon_s: float | None = None) -> dict:
        """JSON for the API, the forecast cut to ``horizon_s`` seconds when given."""
        steps = (
            self.tier.horizon_steps
            if horizon_s is None
            else min(
                self.tier.horizon_steps, max(1, math.ceil(horizon_s / self.tier.step_s - 1e-9))
            )
        )
        forecast = None
        if self.forecast is not None:
            full = self.forecast.to_dict()
            forecast = {k: (v[:steps] if isinstance(v, list) else v) for k, v in full.items()}
            forecast["anchor_timestamp"] = None if self.anchor is None else self.anchor[0]
            forecast["anchor_value"] = None if self.anchor is None else self.anchor[1]
        return {
            "metric": self.metric,
            "status": self.status,
            "message": self.message,
            "tier": self.tier.name,
            "step_s": self.tier.step_s,
            "horizon_steps": steps,
            "observed_steps": self.observed_steps,
            "fitted_at": self.fitted_at,
            "checked_at": self.checked_at if math.isfinite(self.checked_at) else None,
            "forecast_made_at": self.forecast_made_at,
            "accuracy": self.accuracy,
            "forecast": forecast,
            "model": self.model,
        }


def overview_row(state: ModelState, served: Any | None) -> dict:
    """One ``GET /api/models`` row: the served model (a ``forecasting.Served`` or None),
    every candidate's score, when it was fitted and the history it used."""
    acc = state.accuracy or {}
    tier = state.tier
    return {
        "metric": state.metric,
        "tier": tier.name,
        "status": state.status,
        "message": state.message,
        "model": state.model,
        "model_words": acc.get("model_words"),
        "members": acc.get("members", []),
        "summary": acc.get("summary"),
        "mase": acc.get("mase"),
        "naive_mase": acc.get("naive_mase"),
        "seasonal_naive_mase": acc.get("seasonal_naive_mase"),
        "candidates": acc.get("candidates", {}),
        "coverage_80": acc.get("coverage_80"),
        "interval_method": acc.get("interval_method"),
        "live_coverage_80": acc.get("live_coverage_80"),
        "live_outcomes": acc.get("live_outcomes"),
        "fitted_at": state.fitted_at,
        "selected_at": None if served is None else served.selected_at,
        "history_steps": None if served is None else served.n_observed,
        "history_s": None if served is None else served.n_observed * tier.step_s,
        "step_s": tier.step_s,
    }
