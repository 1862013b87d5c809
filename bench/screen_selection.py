"""Screen variants of the selection rule on bench_heldout's pairs, from one pass.

    PYTHONPATH=. .venv/bin/python bench/screen_selection.py --part choose --out screen

Per pair it runs ``point_forecasts``'s steps by hand: every candidate (the defaults plus
``lags``) validated as ``select`` does, and every candidate's test-span point forecasts
(refitted as ``backtest`` does, 8 chunks), so a variant of the rule (which names are
candidates, which may be median members) is scored on the test span without a run per
variant. The ``rolling*`` variants (``ROLLING``) choose again before each test chunk on
a trailing window of those forecasts (bench/README.md, h-roll). No bands (the served
MASE does not depend on them beyond the clip at 0). The "main" variant must reproduce
bench_heldout's served model and ratio on every pair; a screen only: the deciding
figures come from bench_heldout itself.
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

# Re-selection before each test chunk (h-roll, issue 8): name -> trailing window, as a
# share of the original validation span (None: expanding, from the first validation
# origin). Fixed before the first run. Chunk k is served the candidate ``select``'s rule
# (the "main" set, 2 % tolerance, simplest first, median of the 3 best) picks on the
# origins whose targets are all observed before the chunk's first origin, within the
# window; with the full window, chunk 1 is exactly "main"'s choice.
ROLLING = {"rolling": 1.0, "rolling-half": 0.5, "rolling-expand": None}


def _select_scale(prefix, season, given, flat):
    """``select``'s MASE scale on ``prefix`` (the data before its first origin)."""
    from foresight.evaluation.metrics import naive_scale

    scale = naive_scale(prefix, season)
    if not scale == scale:
        scale = naive_scale(prefix, None)
    if not scale == scale:
        scale = naive_scale(given, None)
    if not scale == scale:
        scale = float(flat)
    return scale


def _choose(window_means, window_actual, pool, scale, served=None, eligible=None):
    """``select``'s rule on one set of origins: (chosen, members, scores). ``served``:
    the names that may be served (default all of ``pool``); ``eligible``: those that may
    be median members (default all). Every name of ``pool`` sets the scored origins."""
    import numpy as np

    from foresight.evaluation import selection as sel
    from foresight.evaluation.metrics import mase_on
    from foresight.models.combination import median_of

    served = pool if served is None else served
    eligible = pool if eligible is None else eligible
    mask = ~np.isnan(window_actual)
    for c in pool:
        mask &= np.isfinite(window_means[c])
    scores = {c: round(mase_on(window_means[c] - window_actual, mask, scale), 6) for c in pool}
    ranked = sorted(
        (c for c in pool if c in eligible and math.isfinite(scores[c])),
        key=lambda c: (scores[c], sel.CANDIDATES.index(c)),
    )
    members = tuple(ranked[: sel.MEDIAN_MEMBERS])
    finite = {c: scores[c] for c in served if math.isfinite(scores[c])}
    if len(members) == sel.MEDIAN_MEMBERS:
        vm = median_of(np.stack([window_means[c] for c in members]))
        finite["median"] = round(mase_on(vm - window_actual, mask, scale), 6)
    best = min(finite.values(), default=math.nan)
    chosen = next(
        (c for c in sel.CANDIDATES if c in finite and finite[c] <= best * (1 + sel.TOLERANCE)),
        "last",
    )
    return chosen, members, finite


def _served_and_best(ours, Y, base_mask, baselines, lower, scale):
    """The served forecasts' MASE (clipped at ``lower``) and the best baseline's, on the
    test points where every one of them is defined."""
    import numpy as np

    from foresight.evaluation.metrics import mase_on

    if lower is not None:
        ours = np.clip(ours, lower, np.inf)
    mask = base_mask & np.isfinite(ours)
    return mase_on(ours - Y, mask, scale), min(mase_on(b - Y, mask, scale) for b in baselines)


def run_pair(pair: dict) -> dict:
    import numpy as np

    from foresight.cli.forecast import precheck_backtest
    from foresight.core.errors import InputError
    from foresight.core.timeseries_io import to_regular_grid
    from foresight.evaluation import selection as sel
    from foresight.evaluation.backtest import seasonal_naive
    from foresight.evaluation.metrics import mase_on, mase_scale
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
    out["_season"], out["_scale"] = season, scale
    # Validation, as select() does.
    vorig = sel.validation_origins(history, horizon)
    if len(vorig) < 2:
        out["refused"] = "too short to validate"
        return out
    vscale = _select_scale(history[: int(vorig[0])], season, history, scale)
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
    tmeans, traw = {}, {}
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
        traw[name] = m
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
        chosen, members, finite = _choose(vmeans, vactual, pool, vscale, names, eligible)
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
        mase, b = _served_and_best(ours, Y, base_mask, (naive, snaive, linear), lower, scale)
        out["variants"][vname] = {
            "model": chosen,
            "members": list(members) if chosen == "median" else [],
            "ratio": hb.ratio(round(mase, 6), round(b, 6)),
            "val": finite,
            "rule_ok": bool(round(mase, 6) <= hb.MASE_SLACK * round(b, 6)),
        }
    _rolling(out, raw, ts, history, hts, vorig, vmeans, specs, traw, origins, horizon, step_s)
    _rolling_score(out, raw, origins, traw, Y, base_mask, naive, snaive, linear, lower, scale)
    out.pop("_season"), out.pop("_scale")
    out["seconds"] = time.perf_counter() - started
    return out


def _rolling(out, raw, ts, history, hts, vorig, vmeans, specs, traw, origins, horizon, step_s):
    """Each ROLLING variant's choice before every test chunk (``out["rolling_choice"]``)."""
    import numpy as np

    from foresight.evaluation import selection as sel
    from foresight.models.features import take_or_nan

    params = {"season_length": "auto"}
    season = out["_season"]
    pool = [c for c in VARIANTS["main"][0] if c in vmeans]
    cut0 = int(origins[0])
    # The origins between the validation span and the test span (targets cross into the
    # test span, so select() leaves them out): forecast by each candidate's last
    # validation refit, so a later window has no hole.
    gap = np.arange(cut0 - horizon, cut0)
    gap = gap[(gap >= 0) & ~np.isnan(raw[gap])]
    last_cut = int(np.array_split(vorig, min(sel.VALIDATION_REFITS, len(vorig)))[-1][0])
    gmeans = {}
    for c in pool:
        try:
            model = sel.make_model(c, horizon, step_s=step_s, features=specs[c], params=params).fit(
                history[:last_cut], hts[:last_cut]
            )
            gmeans[c] = model.predict_mean(raw, gap, ts)
        except ValueError:
            gmeans[c] = np.full((len(gap), horizon), np.nan)
    all_orig = np.concatenate([vorig, gap, origins])
    all_means = {c: np.vstack([vmeans[c], gmeans[c], traw[c]]) for c in pool}
    # Rows where a fit failed (every step NaN): the candidate is out of that choice.
    failed_row = {c: ~np.isfinite(all_means[c]).any(axis=1) for c in pool}
    all_actual = take_or_nan(raw, all_orig[:, None] + np.arange(1, horizon + 1)[None, :])
    span = (cut0 - horizon) - int(vorig[0])  # validation_origins' range, in steps
    chunks = [c for c in np.array_split(origins, min(8, len(origins))) if len(c)]
    choice = {}
    for vname, share in ROLLING.items():
        per_chunk = []
        for chunk in chunks:
            c0 = int(chunk[0])
            end = c0 - horizon  # origins < end have every target before the chunk
            start = int(vorig[0]) if share is None else end - max(2, round(span * share))
            sel_rows = (all_orig >= start) & (all_orig < end)
            usable = [c for c in pool if not failed_row[c][sel_rows].any()]
            if "last" not in usable or sel_rows.sum() < 2:
                per_chunk.append(("last", ()))
                continue
            scale = _select_scale(raw[: max(start, 1)], season, raw[:c0], out["_scale"])
            chosen, members, _ = _choose(
                {c: all_means[c][sel_rows] for c in usable}, all_actual[sel_rows], usable, scale
            )
            per_chunk.append((chosen, members))
        choice[vname] = per_chunk
    out["_rolling_choice"] = choice


def _rolling_score(out, raw, origins, traw, Y, base_mask, naive, snaive, linear, lower, scale):
    """The ROLLING variants' served MASE / best baseline, as the "main" variant's."""
    import numpy as np

    from foresight.models.combination import median_of

    chunks = [c for c in np.array_split(origins, min(8, len(origins))) if len(c)]
    for vname, per_chunk in out.pop("_rolling_choice").items():
        ours = np.full((len(origins), Y.shape[1]), np.nan)
        row, failed = 0, False
        for chunk, (chosen, members) in zip(chunks, per_chunk, strict=True):
            parts = members if chosen == "median" else (chosen,)
            rows = slice(row, row + len(chunk))
            block = np.stack([traw[c][rows] for c in parts])
            if not np.isfinite(block).any(axis=2).all():
                failed = True
            ours[rows] = median_of(block)
            row += len(chunk)
        models = [m for m, _ in per_chunk]
        if failed:
            out["variants"][vname] = {
                "model": models[-1],
                "models": models,
                "failed": True,
                "ratio": math.inf,
                "rule_ok": False,
            }
            continue
        mase, b = _served_and_best(ours, Y, base_mask, (naive, snaive, linear), lower, scale)
        out["variants"][vname] = {
            "model": models[-1],
            "models": models,
            "members": [list(m) for _, m in per_chunk],
            "ratio": hb.ratio(round(mase, 6), round(b, 6)),
            "rule_ok": bool(round(mase, 6) <= hb.MASE_SLACK * round(b, 6)),
        }


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
    for k in (*VARIANTS, *ROLLING):
        ok = sum(r["variants"][k]["rule_ok"] for r in scored)
        logs = [math.log(max(r["variants"][k]["ratio"], 1e-12)) for r in scored]
        geomean = math.exp(sum(logs) / len(logs))
        print(f"  {k:<28} never worse {ok}/{len(scored)}  geomean {geomean:.3f}")
    for k in ROLLING:  # against "main", pair by pair
        fixed = [
            r for r in scored if r["variants"][k]["rule_ok"] > r["variants"]["main"]["rule_ok"]
        ]
        broken = [
            r for r in scored if r["variants"][k]["rule_ok"] < r["variants"]["main"]["rule_ok"]
        ]
        worst = max(
            (r["variants"][k]["ratio"] for r in scored if r["variants"]["main"]["rule_ok"]),
            default=math.nan,
        )
        moved = [r for r in scored if len(set(r["variants"][k]["models"])) > 1]
        print(
            f"  {k}: fixes {len(fixed)}, breaks {len(broken)}, worst ratio among main's "
            f"passes {worst:.3f}, pairs whose model changes across chunks {len(moved)}"
        )
        for r in fixed + broken:
            a, b = r["variants"]["main"], r["variants"][k]
            print(
                f"    {'fixed ' if r in fixed else 'broken'} {r['series']} {r['label']}: "
                f"{a['model']} {a['ratio']:.3f} -> {'/'.join(b['models'])} {b['ratio']:.3f}"
            )
    write_json(args.out, {"pairs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
