"""Forecast accuracy and speed on real traces: ours vs seasonal naive vs linear lags,
and statsforecast beside ours on the same origins.

    .venv/bin/python bench/bench_forecast.py                 # every case, a few minutes
    .venv/bin/python bench/bench_forecast.py --cases nasa_1h ali300_1h
    .venv/bin/python bench/bench_forecast.py --no-statsforecast
    .venv/bin/python bench/bench_forecast.py --no-statsforecast --lstm   # + the LSTM extra

Part 1 (``backtest``: the protocol of ``python main.py backtest``): rolling origins over
the last 30 % of each trace, 8 expanding-window refits, every origin, MASE on Hyndman &
Koehler's scale for the served model (chosen per case on validation origins inside the
first 70 %), the last value, seasonal naive and LinearRegression on 12 lags (recursive),
checked against issue 8's targets (MASE within 2 % of the best baseline, 80 % band
holding 75-85 %).
Part 2 (statsforecast, benchmark-only dependency): each model and ours fitted once on the
first 70 %, then forecasting from the same evenly spaced origins (statsforecast's
``cross_validation(refit=False)``); timings exclude numba's first-call compilation.
Writes bench/out/forecast.json. Gaps in NASA (no log for that minute) are masked for
ours; statsforecast cannot take gaps, so it gets them linearly interpolated, and only
observed actuals are scored.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_json  # noqa: E402

from foresight.core.timeseries_io import to_regular_grid  # noqa: E402
from foresight.evaluation.backtest import backtest, naive_scale  # noqa: E402
from predictor import LagForecaster  # noqa: E402

TRACES = ROOT.parent / "shared" / "data" / "traces"
logger = logging.getLogger("bench_forecast")


def nasa(step_s: float) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(TRACES / "nasa_requests_per_minute.csv")
    values = frame["requests"].to_numpy(float)
    values[frame["observed"].to_numpy() == 0] = np.nan  # no log: a gap, not zero demand
    ts, grid, _ = to_regular_grid(frame["epoch_s"].to_numpy(float), values, step_s)
    return ts, grid


def alibaba(name: str, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(TRACES / name)
    ts, grid, _ = to_regular_grid(
        frame["t_s"].to_numpy(float), frame["cpu_util_percent"].to_numpy(float), step_s
    )
    return ts, grid


# name: (loader, step_s, horizon, description, statsforecast models run by default).
# The defaults keep a run to a few minutes on 2 cores: measured here, MSTL did not
# finish on NASA (17,856 steps, season 288) within 5 minutes, AutoTheta took 90 s there,
# and AutoETS with the 1,440-step daily season of the 1-min Alibaba series did not
# finish within 4 minutes.
CASES = {
    "nasa_1h": (
        lambda: nasa(300),
        300,
        12,
        "NASA requests/min, 5-min means, 1 h ahead",
        ["AutoETS"],
    ),
    "nasa_24h": (lambda: nasa(300), 300, 288, "NASA requests/min, 5-min means, 24 h ahead", []),
    "ali300_1h": (
        lambda: alibaba("alibaba2018_cluster_usage_300s_days3-8.csv", 300),
        300,
        12,
        "Alibaba CPU, 300 s trace, 1 h ahead",
        ["AutoETS", "AutoTheta", "MSTL"],
    ),
    "ali300_24h": (
        lambda: alibaba("alibaba2018_cluster_usage_300s_days3-8.csv", 300),
        300,
        288,
        "Alibaba CPU, 300 s trace, 24 h ahead",
        [],
    ),
    "ali10s_1h": (
        lambda: alibaba("alibaba2018_cluster_usage_10s_days3-8.csv", 60),
        60,
        60,
        "Alibaba CPU, 10 s trace as 1-min means, 1 h ahead",
        [],
    ),
    "ali10s_24h": (
        lambda: alibaba("alibaba2018_cluster_usage_10s_days3-8.csv", 900),
        900,
        96,
        "Alibaba CPU, 10 s trace as 15-min means, 24 h ahead (the live 24 h tier)",
        [],
    ),
}

# Issue 8's targets, checked per case: the served model within 2 % of the best trivial
# baseline scored on the same origins, and the 80 % band holding 75-85 % of actuals.
MASE_SLACK = 1.02
COVERAGE_80 = (0.75, 0.85)


def single_call_timings(ts: np.ndarray, values: np.ndarray, horizon: int) -> dict:
    """Time one fit on 30 days (or all) of history and one forecast from its end."""
    n = min(len(values), int(30 * 86400 / (ts[1] - ts[0])))
    v, t = values[:n], ts[:n]
    start = time.perf_counter()
    model = LagForecaster(horizon=horizon).fit(v, t)
    fit_s = time.perf_counter() - start
    calls = 50
    start = time.perf_counter()
    for _ in range(calls):
        model.predict(v, t)
    return {
        "fit_points": n,
        "one_fit_s": fit_s,
        "one_forecast_ms": 1e3 * (time.perf_counter() - start) / calls,
    }


def statsforecast_case(
    ts: np.ndarray,
    values: np.ndarray,
    horizon: int,
    season: int | None,
    models: list[str],
    n_windows: int,
) -> dict:
    """statsforecast and ours, fitted once on the first 70 %, on the same origins."""
    from statsforecast import StatsForecast
    from statsforecast import models as sfm

    n = len(values)
    filled = pd.Series(values).interpolate(limit_direction="both").to_numpy()
    train_end = int(n * 0.7)
    usable = n - train_end - horizon
    step = max(1, usable // n_windows)
    windows = min(n_windows, usable // step)
    # cross_validation puts the last cutoff at n - horizon - 1 and steps back by `step`.
    origins = n - horizon - 1 - step * np.arange(windows)[::-1]
    actual = values[origins[:, None] + np.arange(1, horizon + 1)[None, :]]
    scale = naive_scale(values[: origins[0] + 1], season)
    S = season or 1
    factories = {
        "AutoETS": lambda: sfm.AutoETS(season_length=S),
        "AutoTheta": lambda: sfm.AutoTheta(season_length=S),
        "AutoARIMA": lambda: sfm.AutoARIMA(season_length=1),
        "MSTL": lambda: sfm.MSTL(season_length=S),
    }
    out = {"origins": int(windows), "origin_step": int(step), "models": {}}

    start = time.perf_counter()
    model = LagForecaster(horizon=horizon).fit(values[: origins[0] + 1], ts[: origins[0] + 1])
    mean = model.predict_batch(values, origins, ts).mean
    ours_s = time.perf_counter() - start
    mask = ~np.isnan(actual)
    out["models"]["ours"] = {
        "mase": float(np.abs(mean - actual)[mask].mean() / scale),
        "seconds": ours_s,
    }
    frame = pd.DataFrame({"unique_id": "s", "ds": np.arange(n), "y": filled})
    for name in models:
        tiny = pd.DataFrame(
            {"unique_id": "s", "ds": np.arange(4 * S + 50), "y": np.sin(np.arange(4 * S + 50)) + 5}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            StatsForecast(models=[factories[name]()], freq=1, n_jobs=1).cross_validation(
                df=tiny, h=horizon, n_windows=2, step_size=1, refit=False
            )  # compile
            start = time.perf_counter()
            cv = StatsForecast(models=[factories[name]()], freq=1, n_jobs=1).cross_validation(
                df=frame, h=horizon, n_windows=windows, step_size=step, refit=False
            )
        seconds = time.perf_counter() - start
        preds = cv[name].to_numpy().reshape(windows, horizon)
        got = np.isfinite(preds)
        err = np.abs(preds - actual)[mask & got]
        out["models"][name] = {"mase": float(err.mean() / scale), "seconds": seconds}
        print(
            f"    {name:<10} MASE {out['models'][name]['mase']:.3f}  "
            f"{seconds:7.2f} s   (ours {out['models']['ours']['mase']:.3f}, {ours_s:.2f} s)",
            flush=True,
        )
    return out


def lstm_case(ts: np.ndarray, values: np.ndarray, horizon: int, served: dict) -> dict:
    """The LSTM forced through the same backtest: MASE and mean fit time beside ours."""
    cpu0 = time.process_time()
    try:
        r = backtest(values, ts, horizon=horizon, model="lstm").to_dict()
    except ValueError as exc:  # no Keras/JAX, or too little history
        print(f"  lstm: skipped ({exc})")
        return {"skipped": str(exc)}
    # this process's CPU (a shared host inflates the wall figure): per refit, whole backtest
    cpu_per_fit_s = (time.process_time() - cpu0) / max(int(r["n_refits"]), 1)
    print(
        f"  lstm: MASE {r['mase']:.3f} (served {served['model']} {served['mase']:.3f}, "
        f"last value {r['naive_mase']:.3f}); mean fit {r['fit_seconds']:.2f} s wall, "
        f"{cpu_per_fit_s:.2f} CPU-s per refit, vs {served['fit_seconds']:.2f} s; "
        f"80 % band {100 * r['coverage_80']:.1f} %",
        flush=True,
    )
    keys = ("mase", "naive_mase", "fit_seconds", "coverage_80", "candidates")
    return {**{k: r[k] for k in keys}, "cpu_s_per_refit": cpu_per_fit_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--no-statsforecast", action="store_true")
    parser.add_argument(
        "--lstm",
        action="store_true",
        help="also backtest the optional LSTM candidate (needs the lstm extra) beside "
        "the served model: MASE and fit time on the same origins",
    )
    parser.add_argument(
        "--jax-cache",
        default=None,
        help="with --lstm: JAX's persistent compilation cache directory (default: a fresh "
        "temporary one for this run, so only fits within the run share it; 'none': off)",
    )
    parser.add_argument(
        "--model",
        default="auto",
        choices=["auto", "last", "seasonal", "ridge", "ridge-log", "robust", "lstm", "lags"],
        help="the model backtest serves (default auto: chosen per case on validation)",
    )
    parser.add_argument(
        "--sf-models",
        nargs="+",
        default=None,
        choices=["AutoETS", "AutoTheta", "AutoARIMA", "MSTL"],
        help="statsforecast models for every case (default: a per-case "
        "list that keeps the run to a few minutes)",
    )
    parser.add_argument(
        "--sf-windows",
        type=int,
        default=40,
        help="origins for the statsforecast comparison (default 40)",
    )
    args = parser.parse_args()
    if not TRACES.is_dir():
        print(f"bench_forecast: skipped: no shared traces at {TRACES}")
        return 0
    logging.basicConfig(level=logging.WARNING)
    statsforecast_ok = not args.no_statsforecast
    if statsforecast_ok:
        try:
            import statsforecast  # noqa: F401
        except ImportError:
            print(
                "statsforecast is not installed (pip install -r requirements-bench.txt); "
                "its comparison is skipped"
            )
            statsforecast_ok = False
    cache_dir = None
    if args.lstm and args.jax_cache != "none":
        from foresight.evaluation import lstm

        cache_dir = args.jax_cache or tempfile.mkdtemp(prefix="bench-jax-cache-")
        lstm.configure(compile_cache_dir=cache_dir)
        print(f"JAX compilation cache: {cache_dir}")
    results = {}
    for name in args.cases:
        loader, _step_s, horizon, label, sf_default = CASES[name]
        sf_models = sf_default if args.sf_models is None else args.sf_models
        ts, values = loader()
        print(f"\n== {name}: {label} ({len(values)} steps, horizon {horizon}) ==", flush=True)
        r = backtest(values, ts, horizon=horizon, model=args.model).to_dict()
        r.pop("features")
        r["single"] = single_call_timings(ts, values, horizon)
        sn, ll, nv = r["seasonal_naive_mase"], r["linear_lags_mase"], r["naive_mase"]
        best = min(sn, ll, nv)
        r["target_mase_ok"] = bool(r["mase"] <= MASE_SLACK * best)
        r["target_coverage_ok"] = bool(COVERAGE_80[0] <= r["coverage_80"] <= COVERAGE_80[1])
        print(
            f"  served {r['model']}: MASE {r['mase']:.3f} | last value {nv:.3f} | seasonal "
            f"naive {sn:.3f} | linear 12 lags {ll:.3f}   -> ours/best baseline "
            f"{r['mase'] / best:.3f}x ({'ok' if r['target_mase_ok'] else 'MISSES'} <= "
            f"{MASE_SLACK}), 80 % band {100 * r['coverage_80']:.1f} % "
            f"({'ok' if r['target_coverage_ok'] else 'MISSES'} 75-85 %)"
        )
        print(
            "  validation MASE (choice made here, before the test origins): "
            + ", ".join(f"{k} {v:.3f}" for k, v in r["candidates"].items())
            + f"; selection {r['selection_seconds']:.1f} s"
        )
        picks = sorted({0, horizon // 4, horizon // 2, horizon - 1})
        for label_, key in (
            ("ours", "mase_by_step"),
            ("snaive", "seasonal_naive_mase_by_step"),
            ("linear", "linear_lags_mase_by_step"),
        ):
            print(f"  by step {label_:<7}" + "  ".join(f"h{i + 1}={r[key][i]:.3f}" for i in picks))
        print(
            f"  coverage 80 % band {100 * r['coverage_80']:.1f} %, 95 % band "
            f"{100 * r['coverage_95']:.1f} %; season {r['season_length']}"
        )
        print(
            f"  backtest {r['total_seconds']:.2f} s ({r['n_origins']} origins, "
            f"{r['n_refits']} refits); mean fit {r['fit_seconds']:.3f} s; "
            f"one fit on {r['single']['fit_points']} pts {r['single']['one_fit_s']:.3f} s; "
            f"one forecast {r['single']['one_forecast_ms']:.2f} ms; batch "
            f"{1e6 * r['predict_seconds_per_origin']:.1f} us/origin",
            flush=True,
        )
        if args.lstm:
            r["lstm"] = lstm_case(ts, values, horizon, r)
        if statsforecast_ok and sf_models:
            print(f"  statsforecast on {args.sf_windows} shared origins (fit once):")
            r["statsforecast"] = statsforecast_case(
                ts, values, horizon, r["season_length"], sf_models, args.sf_windows
            )
        results[name] = r
    passed = sum(r["target_mase_ok"] and r["target_coverage_ok"] for r in results.values())
    print(f"\ntargets met on {passed}/{len(results)} cases")
    path = write_json("forecast", results)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
