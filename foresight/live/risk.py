"""Live failure risk: crash risk from the live forecasts every cycle, and the trained
model's failure probability when ``FORESIGHT_RISK_MODEL`` names one.

Crash risk reads the 1-hour tier's forecasts (``live_models``); the failure probability
scores the latest sample as a steady state against the model's training reference
(the live sample carries no incident history), when the sample has every metric the
model was trained on. Both alert at onset: no lead time is promised.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from foresight.core.catalog import metric_info
from foresight.live import risk_training
from foresight.live.models import EXTRAS_KEY as MODELS_KEY
from foresight.live.models import Tier, tier_for_seconds
from foresight.risk import advice
from foresight.risk.crash import CRASH_LEVELS, DISK_METRIC, Bands, CrashRisk, crash_risk

if TYPE_CHECKING:  # scikit-learn and skops load only when a model is configured
    from foresight.risk.model import RiskModel

logger = logging.getLogger(__name__)

EXTRAS_KEY = "live_risk"
# Held-back PR-AUC within 5 % of the base rate is guessing: said, so a "100 % (CRITICAL)"
# from such a model is not read as evidence.
NO_BETTER_RATIO = 1.05
NO_BETTER = " That is no better than guessing: do not act on its probability (it fires no alert)."
LIVE_HORIZON_S = 3600.0


def forecast_bands(live_models: Any, metrics: list[str], tier: Tier) -> dict[str, Bands]:
    """The live forecasts of ``metrics`` at ``tier`` that have times, as Bands."""
    out: dict[str, Bands] = {}
    for metric in metrics:
        forecast = live_models.state(metric, tier).forecast
        if forecast is None or forecast.timestamps is None:
            continue
        out[metric] = Bands(
            np.asarray(forecast.timestamps),
            np.asarray(forecast.mean),
            np.asarray(forecast.upper_80),
            np.asarray(forecast.upper_95),
        )
    return out


# Only the metrics with crash levels count (crash_risk reads no other): every cycle
# runs this, and the full series list is a store query plus a Bands per series.
CRASH_METRICS: tuple[str, ...] = (
    *CRASH_LEVELS,
    *(() if DISK_METRIC in CRASH_LEVELS else (DISK_METRIC,)),
)


def crash_risk_now(services: Any, horizon_s: float, now: float) -> CrashRisk:
    """Crash risk over ``horizon_s`` from the live forecasts (no forecasts: score 0)."""
    live_models = services.extras.get(MODELS_KEY)
    bands = (
        {}
        if live_models is None
        else forecast_bands(live_models, list(CRASH_METRICS), tier_for_seconds(horizon_s))
    )
    return crash_risk(bands, now, horizon_s, disk_critical=metric_info(DISK_METRIC).critical)


class CrashMemo:
    """``crash_risk_now`` once per change of its inputs, for the per-tick stage.

    The score reads only the forecasts (replaced by the model job every 15 s or so, not
    every tick) and, of ``now``, which of their steps fall within ``now + horizon_s``.
    While every forecast is the same object with the same steps within, the previous
    result is returned with ``generated_at`` moved to ``now``: equal to a fresh one
    (``tests/live/test_risk_memo.py``). Not thread-safe: one stage calls it.
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._forecasts: tuple = ()  # held: the key's ids are not reused while kept
        self._risk: CrashRisk | None = None

    def get(self, services: Any, horizon_s: float, now: float) -> CrashRisk:
        live_models = services.extras.get(MODELS_KEY)
        forecasts: tuple = ()
        if live_models is not None:
            tier = tier_for_seconds(horizon_s)
            forecasts = tuple(live_models.state(m, tier).forecast for m in CRASH_METRICS)
        until = now + horizon_s
        key = (
            horizon_s,
            tuple(
                None
                if f is None or f.timestamps is None
                else (id(f), int(np.count_nonzero(np.asarray(f.timestamps) <= until)))
                for f in forecasts
            ),
        )
        if self._risk is not None and key == self._key:
            return replace(self._risk, generated_at=now)
        risk = crash_risk_now(services, horizon_s, now)
        self._key, self._forecasts, self._risk = key, forecasts, risk
        return risk


class LiveRisk:
    """The latest crash risk and failure probability, updated by the cycle's stage."""

    def __init__(self, services: Any, model: RiskModel | None, card: dict | None) -> None:
        self.services = services
        self.model = model
        self.card = card
        self._lock = threading.Lock()
        self._crash: CrashRisk | None = None
        self._failure: dict | None = None
        self.trainer: risk_training.RiskTrainer | None = None
        self._memo = CrashMemo()

    def stage(self, now: float, sample: Any) -> None:
        risk = self._memo.get(self.services, LIVE_HORIZON_S, now)
        failure = None
        model = self.model  # one model for the whole stage, even if training swaps it
        values = sample.current()  # with the last probe between probes (Sample.held)
        if model is not None and all(m in values for m in model.metrics_):
            row = np.array([[float(values[m]) for m in model.metrics_]])
            failure = {"timestamp": now, **advice.predict(model, row)[0].to_dict()}
        with self._lock:
            self._crash = risk
            self._failure = failure

    def use(self, model: RiskModel, card: dict) -> None:
        """Serve ``model`` from now on (a training job finished)."""
        with self._lock:
            self.model = model
            self.card = card
        logger.info("failure-risk model %s now served", card["model"])

    def latest(self) -> tuple[CrashRisk | None, dict | None]:
        with self._lock:
            return self._crash, self._failure

    @property
    def skilled(self) -> bool:
        """Whether the served model beat guessing on its held-back data (by more than
        NO_BETTER_RATIO of the base rate): only then may its probability fire an alert."""
        card = self.card
        if card is None:
            return False
        v = card["validation"]
        pr, base = v.get("pr_auc"), v.get("base_rate")
        return pr is not None and base is not None and pr > base * NO_BETTER_RATIO

    def model_summary(self) -> dict | None:
        """What the dashboard says about the model, in plain words."""
        if self.card is None:
            return None
        v = self.card["validation"]
        pr, base = v.get("pr_auc"), v.get("base_rate")
        data = self.card["data"]
        if data.get("label_source"):  # POST /api/risk/train: the store, not files
            rows, steps = sum(data.get("rows") or []), data.get("step_s") or [60.0]
            source = (
                f"{rows:,} rows of this monitor's history (one per {steps[0]:g} s), "
                f"labelled by the {data['label_source']}"
            )
        else:
            source = f"{len(data.get('files', []))} file(s)"
        words = (
            f"{self.card['model']} trained on {source}; on held-back later data its PR-AUC "
            f"was {pr:.2f} against {base:.2f} for guessing (1.0 is perfect)."
            + ("" if self.skilled else NO_BETTER)
            + " It alerts at onset: no lead time."
            if pr is not None and base is not None
            else f"{self.card['model']}: no validation figure"
        )
        return {
            "model": self.card["model"],
            "pr_auc": pr,
            "base_rate": base,
            "metrics": self.card["metrics"],
            "horizon_s": self.card["horizon_s"],
            "summary": words,
        }


def load_model(
    path: str | None, trained_dir: Path | None = None
) -> tuple[RiskModel | None, dict | None]:
    """Load the configured model (InputError for a bad directory: the monitor stops);
    without one, the model ``POST /api/risk/train`` saved in ``trained_dir``, if any."""
    if not path:
        # the model POST /api/risk/train saved (written whole: a temp dir, then renamed)
        if trained_dir is None or not trained_dir.is_dir():
            return None, None
        path = str(trained_dir)
    from foresight.risk import persist  # skops + scikit-learn: ~110 MB, only when needed

    model, card = persist.load(Path(path))
    logger.info("failure-risk model %s loaded from %s", card["model"], path)
    return model, card


def install(services: Any) -> None:
    """Monitor extension hook: the risk stage (after the forecasting stage) and the
    trainer of ``POST /api/risk/train``."""
    trained_dir = Path(services.settings.data_dir) / risk_training.MODEL_DIR
    model, card = load_model(services.settings.risk_model, trained_dir)
    live = LiveRisk(services, model, card)
    live.trainer = risk_training.RiskTrainer(
        services.store, services.settings.data_dir, live.use, lambda: services.clock()
    )
    services.extras[EXTRAS_KEY] = live
    services.stages.append(live.stage)
