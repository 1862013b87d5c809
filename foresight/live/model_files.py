"""Save and load the served models under ``<data dir>/models``: JSON plus numpy arrays.

One pair of files per metric and tier: ``<metric>@<tier>.json`` (the choice, scores,
parameters, fitted-at) and ``<metric>@<tier>.npz`` (coefficients of a lag model or of the
linear fit on the last 12 values, the conformal score pool, miss rates and live outcomes
per horizon step, ``seen``: absent from older files, which still load with it estimated
from the live outcome count; a served LSTM's weights, which the monitor runs with numpy's
forward pass; a served median's members, each one's arrays under an ``m<i>_`` prefix and
its JSON in the median's ``members`` list), written atomically (temp file, then
rename; arrays first, so a JSON always has its arrays). Loading never unpickles:
``np.load(allow_pickle=False)`` and plain JSON only. A file that cannot be read is
logged and skipped; the next refit replaces it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from foresight.core.atomic_file import atomic_text_writer
from foresight.evaluation.lstm import LstmForecaster
from foresight.evaluation.selection import spec_from_dict
from foresight.live.forecasting import Served
from foresight.models.baselines import LastValue, SeasonalNaive
from foresight.models.combination import MedianOf
from foresight.models.conformal import SPREAD_WINDOW, ConformalState
from foresight.models.linear_lags import LinearLags
from foresight.models.numpy_lstm import NumpyLstm
from predictor import LagForecaster

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_MAX_NAME = 180  # characters of the metric part (file names stop at 255 bytes)
# LagForecaster: constructor parameters and learned scalars kept in JSON.
_LAG_PARAMS = (
    "horizon",
    "season_length",
    "n_lags",
    "alpha",
    "calendar",
    "weekly",
    "calibration_fraction",
    "nonnegative",
    "relative_target",
    "adaptive_intervals",
    "transform",
    "loss",
    "held_out_intervals",
)
_LAG_SCALARS = (
    "mean_",
    "scale_",
    "clip_at_zero_",
    "step_s_",
    "t0_",
    "t_end_",
    "season_length_",
    "n_features_",
    "spread_column_",
    "spread_offset_",
    "n_train_",
    "log_cap_",
)


def model_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def _stem(metric: str, tier: str) -> str:
    """The file name for one metric and tier: readable when it can be, always safe and unique.

    Series keys such as ``net_sent_bytes_per_s:eth0`` or ``cpu_percent@host:9100`` are
    percent-encoded (``%3A``, ``%40``), so ``@`` only ever separates metric from tier; a
    name too long for the file system ends in a digest of the whole key instead.
    """
    if not tier or not _SAFE_NAME.match(tier):
        raise ValueError(f"cannot name a model file after tier {tier!r}")
    if not metric:
        raise ValueError("cannot name a model file after an empty metric name")
    name = metric if _SAFE_NAME.match(metric) else quote(metric, safe="")
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(metric.encode("utf-8")).hexdigest()[:16]
        name = f"{name[: _MAX_NAME - 17]}~{digest}"
    return f"{name}@{tier}"


def _spec_json(spec: Any) -> dict | None:
    if spec is None:
        return None
    return {
        "n_lags": spec.n_lags,
        "horizon": spec.horizon,
        "season": spec.season,
        "week": spec.week,
        "roll_windows": list(spec.roll_windows),
        "hour": spec.hour,
        "weekday": spec.weekday,
    }


def _model_json(model: Any, arrays: dict[str, np.ndarray]) -> dict:
    if isinstance(model, MedianOf):
        members = []
        for i, member in enumerate(model.members):
            own: dict[str, np.ndarray] = {}
            members.append(_model_json(member, own))
            arrays.update({f"m{i}_{key}": value for key, value in own.items()})
        return {
            "kind": "median",
            "horizon": int(model.horizon),
            "names": list(model.names),
            "members": members,
        }
    if isinstance(model, LastValue):
        return {"kind": "last", "horizon": int(model.horizon)}
    if isinstance(model, SeasonalNaive):
        return {"kind": "seasonal", "horizon": int(model.horizon), "period": int(model.period)}
    if isinstance(model, LinearLags):
        arrays.update(model.arrays())
        return {"kind": "lags", "horizon": int(model.horizon), "n_lags": int(model.n_lags)}
    if isinstance(model, LstmForecaster):  # trained in the worker: keep only its arrays
        model = model.to_numpy()
    if isinstance(model, NumpyLstm):
        arrays.update(model.arrays())
        return {"kind": "lstm", "params": model.params()}
    if isinstance(model, LagForecaster):
        arrays["coef"] = model.coef_
        arrays["intercept"] = model.intercept_
        for level, (lo, hi) in model.residual_quantiles_.items():
            arrays[f"rq_lo_{level}"], arrays[f"rq_hi_{level}"] = lo, hi
        return {
            "kind": "lag",
            "params": {k: getattr(model, k) for k in _LAG_PARAMS},
            "features": _spec_json(model.features),
            "learned": {k: getattr(model, k, None) for k in _LAG_SCALARS},
            "spec": _spec_json(model.spec_),
        }
    raise ValueError(f"cannot save a {type(model).__name__}")


def _model_from(data: dict, arrays: Any) -> Any:
    kind = data["kind"]
    if kind == "median":
        names = list(arrays.keys())
        members = []
        for i, member in enumerate(data["members"]):
            if member.get("kind") == "median":
                raise ValueError("a median cannot hold a median")
            prefix = f"m{i}_"
            own = {k[len(prefix) :]: arrays[k] for k in names if k.startswith(prefix)}
            members.append(_model_from(member, own))
        median = MedianOf(members, names=[str(n) for n in data.get("names", [])])
        if median.horizon != int(data["horizon"]):
            raise ValueError(f"members forecast {median.horizon} steps, not {data['horizon']}")
        return median
    if kind == "last":
        return LastValue(int(data["horizon"])).fit(np.array([0.0]))
    if kind == "seasonal":
        seasonal = SeasonalNaive(int(data["horizon"]), int(data["period"]))
        seasonal.fitted_ = True
        return seasonal
    if kind == "lags":
        return LinearLags.from_arrays(int(data["horizon"]), int(data["n_lags"]), arrays)
    if kind == "lstm":
        return NumpyLstm.from_parts(data["params"], arrays)
    if kind == "lag":
        features = data["features"]
        model = LagForecaster(
            **data["params"], features=None if features is None else spec_from_dict(features)
        )
        for key, value in data["learned"].items():
            if key not in _LAG_SCALARS:
                raise ValueError(f"unexpected learned field {key!r}")
            setattr(model, key, value)
        model.spec_ = spec_from_dict(data["spec"])
        model.coef_ = np.asarray(arrays["coef"], dtype=float)
        model.intercept_ = np.asarray(arrays["intercept"], dtype=float)
        model.residual_quantiles_ = {
            level: (np.asarray(arrays[f"rq_lo_{level}"]), np.asarray(arrays[f"rq_hi_{level}"]))
            for level in (80, 95)
        }
        if model.coef_.shape != (len(model.spec_.names()), model.spec_.horizon):
            raise ValueError(f"coefficients of shape {model.coef_.shape} do not fit the features")
        return model
    raise ValueError(f"unknown model kind {kind!r}")


def model_payload(model: Any) -> tuple[dict, dict[str, np.ndarray]]:
    """A fitted model as JSON plus arrays (what the fit worker sends back)."""
    arrays: dict[str, np.ndarray] = {}
    return _model_json(model, arrays), arrays


def model_from_payload(doc: dict, arrays: Any) -> Any:
    """Rebuild a model from ``model_payload``'s parts (arrays: any name -> array mapping)."""
    return _model_from(doc, arrays)


def served_payload(metric: str, tier: str, served: Served) -> tuple[dict, dict[str, np.ndarray]]:
    """One served model as JSON plus arrays: exactly what ``save_served`` writes."""
    arrays: dict[str, np.ndarray] = {"pool": served.conformal.pool}
    for level, alpha in served.conformal.alpha.items():
        arrays[f"alpha_{level}"] = alpha
    if served.conformal.seen is not None:  # live outcomes per step (ACI's step size)
        arrays["seen"] = np.asarray(served.conformal.seen, dtype=float)
    doc = {
        "format": FORMAT_VERSION,
        "metric": metric,
        "tier": tier,
        "name": served.name,
        "model": _model_json(served.model, arrays),
        "lower": served.lower,
        "upper": served.upper,
        "history_steps": served.history_steps,
        "fitted_at": served.fitted_at,
        "selected_at": served.selected_at,
        "n_observed": served.n_observed,
        "fast_start": served.fast_start,
        "candidates": served.candidates,
        "selection": served.selection,
        "conformal": {
            "offset": served.conformal.offset,
            "gamma": served.conformal.gamma,
            "spread_window": served.conformal.spread_window,
            "coverage": {str(k): v for k, v in served.conformal.coverage.items()},
            "online": {str(k): list(v) for k, v in served.conformal.online.items()},
        },
    }
    return doc, arrays


def served_from_payload(doc: dict, arrays: Any) -> tuple[str, str, Served]:
    """Rebuild (metric, tier, served) from ``served_payload``'s parts."""
    if doc.get("format") != FORMAT_VERSION:
        raise ValueError(f"format {doc.get('format')!r} is not {FORMAT_VERSION}")
    model = _model_from(doc["model"], arrays)
    c = doc["conformal"]
    pool = np.asarray(arrays["pool"], dtype=float)
    seen = None  # files saved before ``seen`` was: estimated from the live outcomes
    if "seen" in arrays:
        seen = np.asarray(arrays["seen"], dtype=float)
        if seen.shape != pool.shape[1:]:
            raise ValueError(f"seen of shape {seen.shape} does not fit the pool {pool.shape}")
    conformal = ConformalState(
        pool=pool,
        alpha={lv: np.asarray(arrays[f"alpha_{lv}"], dtype=float) for lv in (80, 95)},
        offset=float(c["offset"]),
        gamma=float(c["gamma"]),
        coverage={int(k): float(v) for k, v in c["coverage"].items()},
        online={int(k): (int(v[0]), int(v[1])) for k, v in c.get("online", {}).items()},
        spread_window=int(c.get("spread_window", SPREAD_WINDOW)),
        seen=seen,
    )
    served = Served(
        name=str(doc["name"]),
        model=model,
        conformal=conformal,
        lower=doc["lower"],
        upper=doc["upper"],
        history_steps=int(doc["history_steps"]),
        fitted_at=float(doc["fitted_at"]),
        n_observed=int(doc["n_observed"]),
        fast_start=bool(doc["fast_start"]),
        candidates={k: float(v) for k, v in doc["candidates"].items()},
        selection=dict(doc["selection"]),
        selected_at=doc.get("selected_at"),
    )
    return str(doc["metric"]), str(doc["tier"]), served


def save_served(data_dir: Path, metric: str, tier: str, served: Served) -> Path:
    """Write one served model's files; return the JSON path."""
    folder = model_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _stem(metric, tier)
    doc, arrays = served_payload(metric, tier, served)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, folder / f"{stem}.npz")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    path = folder / f"{stem}.json"
    with atomic_text_writer(path) as handle:
        json.dump(doc, handle)
    return path


def load_served(path: Path) -> tuple[str, str, Served]:
    """Read one model's JSON and arrays back; raises ValueError/OSError/KeyError if bad."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT_VERSION:
        raise ValueError(f"format {doc.get('format')!r} is not {FORMAT_VERSION}")
    with np.load(Path(path).with_suffix(".npz"), allow_pickle=False) as arrays:
        return served_from_payload(doc, arrays)


def load_all(data_dir: Path) -> dict[tuple[str, str], Served]:
    """Every readable saved model, keyed (metric, tier); unreadable ones are logged."""
    found: dict[tuple[str, str], Served] = {}
    folder = model_dir(data_dir)
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        try:
            metric, tier, served = load_served(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("skipping saved model %s: %s", path.name, exc)
            continue
        found[(metric, tier)] = served
    return found
