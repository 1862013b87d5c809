"""Screen variants of the selection rule on bench_heldout's pairs, from one pass.

    PYTHONPATH=. .venv/bin/python bench/screen_selection.py --part choose --out screen

Per pair it runs ``point_forecasts``'s steps by hand: every candidate (the defaults plus
``lags``) validated as ``select`` does, and every candidate's test-span point forecasts
(refitted as ``backtest`` does, 8 chunks), so a variant of the rule (which names are
candidates, which may be median members) is scored on the test span without a run per
variant. No bands (the served MASE does not depend on them beyond the clip at 0). The
"main" variant must reproduce bench_heldout's served model and ratio on every pair; a
screen only: the deciding figures come from bench_heldout itself.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import bench_heldout as hb  # noqa: E402
from _common import write_json  # noqa: E402

ALL = ("last", "seasonal", "seasonal-week", "lags", "ridge", "robust", "ridge-log")
# name: (candidates that may be served, candidates that may be median members)
VARIANTS = {
    "main": (
        ("last", "seasonal", "seasonal-week", "ridge", "robust", "ridge-log"),
        ("last", "seasonal", "seasonal-week", "ridge", "robust", "ridge-log"),
    ),
    "lags-member": (
        ("last", "seasonal", "seasonal-week", "ridge", "robust", "ridge-log"),
        ALL,
    ),
    "lags-full": (ALL, ALL),
    "no-week-member": (
        ("last", "seasonal", "seasonal-week", "ridge", "robust", "ridge-log"),
        ("last", "seasonal", "ridge", "robust", "ridge-log"),
    ),
    "no-week": (
        ("last", "seasonal", "ridge", "robust", "ridge-log"),
        ("last", "seasonal", "ridge", "robust", "ridge-log"),
    ),
    "lags-member-no-week-member": (
        ("last", "seasonal", "seasonal-week", "ridge", "robust", "ridge-log"),
        ("last", "seasonal", "lags", "ridge", "robust", "ridge-log"),
    ),
    "lags-member-no-week": (
        ("last", "seasonal", "ridge", "robust", "ridge-log"),
        ("last", "seasonal", "lags", "ridge", "robust", "ridge-log"),
    ),
    "lags-full-no-week": (
        ("last", "seasonal", "lags", "ridge", "robust", "ridge-log"),
        ("last", "seasonal", "lags", "ridge", "robust", "ridge-log"),
    ),
}


def run_pair(pair: dict) -> dict:
    import numpy as np

    from foresight.cli.forecast import precheck_backtest
    from foresight.core.errors import InputError
    from foresight.core.timeseries_io import to_regular_grid
    from foresight.evaluation import selection as sel
    from foresight.evaluation.backtest import seasonal_naive
    from foresight.evaluation.metrics import mase_on, mase_scale, naive_scale
    from foresight.models.combination import median_of
    from foresight.models.features import detect_season, snap_season, take_or_nan
    from foresight.models.linear_lags import LinearLagsBaseline

    out = dict(pair)
    started = time.perf_counter()
    ts, values = hb.load(pair)
    where = pair["series"]
    args = argparse.Namespace(csv=where, value_col="value", season="auto")
    try:
        ts, values, _ = to_regular_grid(ts, values, float(pair["step_s"]), where=where)
        precheck_backtest(values, args)
    except InputError as exc:
        out["refused"] = str(exc)
        return out
    horizon = int(pair["horizon"])
    raw = np.asarray(values, dtype=float)
    n = len(raw)
    step_s = float(np.median(np.diff(ts)))
    test_start = int(n * 0.7)
    grid = np.arange(test_start, n - horizon)
    origins = grid[~np.isnan(raw[grid])]
    cut0 = int(origins[0])
    history, hts = raw[:cut0], ts[:cut0]
    season = snap_season(detect_season(history), step_s)
    scale, _ = mase_scale(history, season, raw)
    params = {"season_length": "auto"}
    # Validation, as select() does.
    vorig = sel.validation_origins(history, horizon)
    if len(vorig) < 2:
        out["refused"] = "too short to validate"
        return out
    vscale = naive_scale(history[: int(vorig[0])], season)
    if not vscale == vscale:
        vscale = naive_scale(history[: int(vorig[0])], None)
    if not vscale == vscale:
        vscale = naive_scale(history, None)
    if not vscale == vscale:
        vscale = float(scale)
    vmeans, specs = {}, {}
    for name in ALL:
        if (
            name == "seasonal-week"
            and len(history)
            < sel.WEEK_CANDIDATE_WEEKS * (sel.period_steps(step_s, 7 * 86400) or 0) + horizon
        ):
            continue
        if name == "ridge-log" and np.nanmin(history) < 0:
            continue
        try:
            vmeans[name], specs[name] = sel._validate_one(
                history, hts, vorig, name, horizon, step_s, params
            )
        except ValueError:
            continue
    vactual = take_or_nan(history, vorig[:, None] + np.arange(1, horizon + 1)[None, :])
    # Test span, as point_forecasts() does (8 chunks).
    tmeans = {}
    for name in vmeans:
        m, failed, _, _ = sel.rolling_means(
            raw,
            ts,
            origins,
            lambda name=name: sel.make_model(
                name, horizon, step_s=step_s, features=specs[name], params=params
            ),
            horizon,
            8,
        )
        tmeans[name] = None if failed else m
    linear = np.empty((len(origins), horizon))
    row = 0
    for chunk in [c for c in np.array_split(origins, min(8, len(origins))) if len(c)]:
        cut = int(chunk[0])
        linear[row : row + len(chunk)] = (
            LinearLagsBaseline().fit(raw[:cut]).predict_batch(raw, chunk, horizon)
        )
        row += len(chunk)
    Y = take_or_nan(raw, origins[:, None] + np.arange(1, horizon + 1)[None, :])
    snaive = seasonal_naive(raw, origins, horizon, season)
    naive = seasonal_naive(raw, origins, horizon, None)
    base_mask = ~np.isnan(Y) & ~np.isnan(snaive) & ~np.isnan(naive) & np.isfinite(linear)
    lower = 0.0 if np.nanmin(history) >= 0 else None
    # Every candidate alone: validation MASE (on the mask of all of them) and test MASE.
    vmask_all = ~np.isnan(vactual)
    for c in vmeans:
        vmask_all &= np.isfinite(vmeans[c])
    out["cands"] = {}
    for c in vmeans:
        t = tmeans[c]
        if t is not None and lower is not None:
            t = np.clip(t, lower, np.inf)
        out["cands"][c] = {
            "val": round(mase_on(vmeans[c] - vactual, vmask_all, vscale), 6),
            "test": math.inf if t is None else mase_on(t - Y, base_mask & np.isfinite(t), scale),
        }
    out["best_baseline"] = min(
        mase_on(naive - Y, base_mask, scale),
        mase_on(snaive - Y, base_mask, scale),
        mase_on(linear - Y, base_mask, scale),
    )
    out["variants"] = {}
    for vname, (served, eligible) in VARIANTS.items():
        names = [c for c in served if c in vmeans]
        pool = [c for c in dict.fromkeys((*served, *eligible)) if c in vmeans]
        vmask = ~np.isnan(vactual)
        for c in pool:
            vmask &= np.isfinite(vmeans[c])
        scores = {c: round(mase_on(vmeans[c] - vactual, vmask, vscale), 6) for c in pool}
        ranked = sorted(
            (c for c in pool if c in eligible and math.isfinite(scores[c])),
            key=lambda c: (scores[c], sel.CANDIDATES.index(c)),
        )
        members = tuple(ranked[: sel.MEDIAN_MEMBERS])
        finite = {c: scores[c] for c in names if math.isfinite(scores[c])}
        if len(members) == sel.MEDIAN_MEMBERS:
            vm = median_of(np.stack([vmeans[c] for c in members]))
            finite["median"] = round(mase_on(vm - vactual, vmask, vscale), 6)
        best = min(finite.values())
        chosen = next(
            (c for c in sel.CANDIDATES if c in finite and finite[c] <= best * (1 + sel.TOLERANCE)),
            "last",
        )
        parts = members if chosen == "median" else (chosen,)
        if any(tmeans[c] is None for c in parts):
            out["variants"][vname] = {
                "model": chosen,
                "failed": True,
                "ratio": math.inf,
                "rule_ok": False,
            }
            continue
        ours = median_of(np.stack([tmeans[c] for c in parts]))
        if lower is not None:
            ours = np.clip(ours, lower, np.inf)
        mask = base_mask & np.isfinite(ours)
        mase = mase_on(ours - Y, mask, scale)
        b = min(
            mase_on(naive - Y, mask, scale),
            mase_on(snaive - Y, mask, scale),
            mase_on(linear - Y, mask, scale),
        )
        out["variants"][vname] = {
            "model": chosen,
            "members": list(members) if chosen == "median" else [],
            "ratio": hb.ratio(round(mase, 6), round(b, 6)),
            "val": finite,
            "rule_ok": bool(round(mase, 6) <= hb.MASE_SLACK * round(b, 6)),
        }
    out["seconds"] = time.perf_counter() - started
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["choose", "report"], default="choose")
    parser.add_argument("--only", choices=["nab", "smd"], default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="screen")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    todo = [p for p in hb.pairs(args.only) if p["part"] == args.part]
    rows = []
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, 2))) as pool:
        for r in pool.map(run_pair, todo):
            rows.append(r)
            if "refused" in r:
                continue
            v = r["variants"]
            print(
                f"{r['series']:<40} {r['label']:>3} "
                + " ".join(f"{k}={v[k]['model']}:{v[k]['ratio']:.3f}" for k in v),
                flush=True,
            )
    scored = [r for r in rows if "refused" not in r]
    print(f"\n{len(scored)} scored of {len(rows)}")
    for k in VARIANTS:
        ok = sum(r["variants"][k]["rule_ok"] for r in scored)
        logs = [math.log(max(r["variants"][k]["ratio"], 1e-12)) for r in scored]
        geomean = math.exp(sum(logs) / len(logs))
        print(f"  {k:<28} never worse {ok}/{len(scored)}  geomean {geomean:.3f}")
    write_json(args.out, {"pairs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
