"""Train the failure-risk model on the monitor's stored history (``POST /api/risk/train``).

The labels come from one of two sources:
- ``label_metric``: a metric in the store whose nonzero values mark incident minutes
  (e.g. a label column imported with ``main.py import``);
- ``alerts``: the alert history, every minute an alert was firing (from ``fired_at`` to
  ``resolved_at``, or to now while it still fires), optionally of one rule only.

The request checks what it can cheaply (the label source exists, enough history, some
incident and some quiet minutes) and answers 400 otherwise; the fit runs in a
background thread, its state in ``/api/risk/status``. The trained model is saved under
the data dir (``risk_model/``, skops + model card, written atomically) and served at
once by ``/api/risk/predict`` and the live risk stage; the monitor loads it again after
a restart.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from foresight.core.errors import InputError
from foresight.store.alert_log import AlertLog
from foresight.store.metric_store import MetricStore

if TYPE_CHECKING:  # pandas, scikit-learn and skops load only when a model is trained
    from foresight.risk.model import RiskModel

logger = logging.getLogger(__name__)

MODEL_DIR = "risk_model"  # under the data dir
MIN_ROWS = 720  # 12 hours at 1-minute steps: less cannot hold 3 validation blocks
MIN_COVERAGE = 0.5  # a metric with fewer rows than this share is left out


@dataclass(frozen=True, slots=True)
class TrainRequest:
    """What to train on: the label source, the history window and the target."""

    label_metric: str | None
    alert_rule: str | None
    use_alerts: bool
    since: float
    until: float
    step_s: float
    horizon_s: float
    models: tuple[str, ...]

    @property
    def label_source(self) -> str:
        if self.label_metric is not None:
            return f"metric {self.label_metric}"
        return "alert history" + (f" of rule {self.alert_rule}" if self.alert_rule else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "label_source": self.label_source,
            "label_metric": self.label_metric,
            "alert_rule": self.alert_rule,
            "since": self.since,
            "until": self.until,
            "step_s": self.step_s,
            "horizon_s": self.horizon_s,
            "models": list(self.models),
        }


@dataclass(frozen=True, slots=True)
class History:
    """The stored history on a regular grid: metric values (rows × metrics), incidents."""

    timestamps: np.ndarray
    metrics: tuple[str, ...]
    values: np.ndarray
    incident: np.ndarray


@dataclass(frozen=True, slots=True)
class TrainingState:
    """The latest training job: idle, running, done or failed, and what it produced."""

    state: str = "idle"
    started_at: float | None = None
    finished_at: float | None = None
    message: str = "no training job yet"
    request: dict[str, Any] | None = None
    model: str | None = None
    validation_pr_auc: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "message": self.message,
            "request": self.request,
            "model": self.model,
            "validation_pr_auc": self.validation_pr_auc,
        }


def _incident_from_alerts(
    store: MetricStore, rule: str | None, timestamps: np.ndarray, step_s: float, now: float
) -> np.ndarray:
    flags = np.zeros(len(timestamps), dtype=bool)
    log = AlertLog(store)
    for record in log.query(states=("firing", "resolved"), rule=rule, limit=1_000_000):
        if record.fired_at is None:
            continue
        end = record.resolved_at if record.resolved_at is not None else now
        # a grid row is an incident minute when its bucket overlaps the firing period
        flags |= (timestamps + step_s > record.fired_at) & (timestamps <= end)
    return flags


def labels(
    store: MetricStore, request: TrainRequest, timestamps: np.ndarray, now: float
) -> np.ndarray:
    """The incident flags of the grid rows; InputError without incident or quiet rows."""
    if request.label_metric is not None:
        since, until = float(timestamps[0]), float(timestamps[-1])
        _, values = store.series(request.label_metric, since, until, request.step_s)
        incident = np.nan_to_num(values, nan=0.0) > 0
    else:
        incident = _incident_from_alerts(store, request.alert_rule, timestamps, request.step_s, now)
    if not incident.any():
        raise InputError(f"no incident minutes in the {request.label_source}: nothing to learn")
    from foresight.risk.alarms import window_labels
    from foresight.risk.features import rows_for

    target = window_labels(incident, rows_for(request.horizon_s, request.step_s))
    if target.all():
        raise InputError(f"every minute is an incident in the {request.label_source}")
    return incident


def _grid(store: MetricStore, request: TrainRequest) -> np.ndarray:
    """The grid of the stored samples in the window; InputError when too short.

    A row is a whole bucket that ends by ``until``: ``store.series`` counts a grid's last
    bucket whole, so the bucket of the newest sample (still filling when ``until`` is now)
    or one reaching past ``until`` would be a row of a few seconds, or of values the
    request did not ask for.
    """
    bounds = store.read(
        "SELECT MIN(ts), MAX(ts) FROM sample WHERE ts >= ? AND ts <= ?",
        (request.since, request.until),
    )[0]
    rows = 0
    if bounds[0] is not None:
        first = float(bounds[0])
        ended = math.floor((request.until - first) / request.step_s + 1e-9)
        rows = min(int((float(bounds[1]) - first) // request.step_s) + 1, ended)
    if rows < MIN_ROWS:
        raise InputError(
            f"too little history to train: {rows} rows of {request.step_s:g} s in the window "
            f"(needs at least {MIN_ROWS})"
        )
    return float(bounds[0]) + request.step_s * np.arange(rows, dtype=float)


def check_request(store: MetricStore, request: TrainRequest, now: float) -> None:
    """Raise InputError when the request cannot train (cheap checks, in the request)."""
    from foresight.risk.zoo import parse_model_names  # scikit-learn: on a train request only

    parse_model_names(",".join(request.models))
    if request.label_metric is not None and request.label_metric not in store.metric_names():
        raise InputError(
            f"unknown label metric {request.label_metric!r}; stored metrics: "
            f"{', '.join(store.metric_names()) or 'none'}"
        )
    if request.use_alerts and request.alert_rule is not None:
        known = {r.rule for r in AlertLog(store).query(limit=1_000_000)}
        if request.alert_rule not in known:
            raise InputError(
                f"no alert of rule {request.alert_rule!r} in the alert history "
                f"(rules seen: {', '.join(sorted(known)) or 'none'})"
            )
    labels(store, request, _grid(store, request), now)


def read_history(store: MetricStore, request: TrainRequest, now: float) -> History:
    """The window's metrics on a grid of ``step_s`` and its incident flags (InputError:
    too little history, no metric that covers half of it, no incident or quiet rows)."""
    grid = _grid(store, request)
    since, until = float(grid[0]), float(grid[-1])
    columns: list[np.ndarray] = []
    kept: list[str] = []
    timestamps = grid
    for name in store.metric_names():
        if name == request.label_metric:
            continue
        timestamps, values = store.series(name, since, until, request.step_s)
        if np.isfinite(values).mean() >= MIN_COVERAGE:
            columns.append(values)
            kept.append(name)
    if not kept:
        raise InputError("no metric covers at least half of the window")
    incident = labels(store, request, timestamps, now)
    return History(timestamps, tuple(kept), np.column_stack(columns), incident)


class RiskTrainer:
    """Runs one training job at a time in a background thread and reports its state."""

    def __init__(
        self,
        store: MetricStore,
        data_dir: str | Path,
        on_trained: Callable[[RiskModel, dict], None],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.directory = Path(data_dir) / MODEL_DIR
        self.on_trained = on_trained
        self.clock = clock
        self._lock = threading.Lock()
        self._state = TrainingState()
        self._thread: threading.Thread | None = None

    def state(self) -> TrainingState:
        with self._lock:
            return self._state

    def start(self, request: TrainRequest) -> TrainingState:
        """Check the request (InputError: 400) and start the job; RuntimeError if busy."""
        check_request(self.store, request, self.clock())
        with self._lock:
            if self._state.state == "running":
                raise RuntimeError("a risk training job is already running")
            self._state = TrainingState(
                "running", self.clock(), None, "training started", request.to_dict()
            )
            self._thread = threading.Thread(
                target=self._run, args=(request,), name="foresight-risk-train", daemon=True
            )
            self._thread.start()
            return self._state

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the running job (tests, and stopping the monitor)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _finish(self, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, finished_at=self.clock(), **changes)

    def _run(self, request: TrainRequest) -> None:
        from foresight.risk import persist  # pandas, scikit-learn, skops: only to train
        from foresight.risk.alarms import runs
        from foresight.risk.model import LabelledFile, RiskModel

        try:
            history = read_history(self.store, request, self.clock())
            files = [LabelledFile("store", history.values, history.incident, request.step_s)]
            model = RiskModel(request.horizon_s, request.models).fit(files, history.metrics)
            data = {
                "files": ["store"],
                "rows": [len(history.timestamps)],
                "step_s": [request.step_s],
                "incidents": [len(runs(history.incident))],
                "label_source": request.label_source,
                "since": float(history.timestamps[0]),
                "until": float(history.timestamps[-1]),
            }
            created = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            card = persist.model_card(model, data, created)
            persist.save(model, self.directory, card)
            self.on_trained(model, card)
        except (InputError, ValueError) as exc:
            logger.warning("risk training failed: %s", exc)
            self._finish(state="failed", message=f"cannot train: {exc}")
            return
        except Exception as exc:  # a thread's failure must reach the status, not vanish
            logger.exception("risk training crashed")
            self._finish(state="failed", message=f"training crashed: {exc!r}")
            return
        self._finish(
            state="done",
            message=f"trained {model.model_name_} on {len(history.timestamps)} rows from the "
            f"{request.label_source}; saved to {self.directory}",
            model=model.model_name_,
            validation_pr_auc=model.validation_pr_auc_,
        )
