"""A proxy for issue 8's held-out forecast check, on shared series no forecasting choice
was made on: NAB's AWS CloudWatch server metrics (5-minute) and SMD (1-minute).

    .venv/bin/python bench/bench_heldout.py                 # every pair, ~15-20 min on 2 cores
    .venv/bin/python bench/bench_heldout.py --jobs 1
    .venv/bin/python bench/bench_heldout.py --only nab      # or: --only smd
    .venv/bin/python bench/bench_heldout.py --root ../main  # another checkout's code

Each (series, horizon) pair goes through what ``main.py backtest --json --model auto``
runs (``run_pair``: the same loading onto a regular grid, the same pre-check, the same
``backtest`` call, the same ``json.dumps``), at 1 h and 24 h:

* NAB ``realAWSCloudwatch/*.csv`` (all 17): ``--step 300``, horizons 12 and 288 (their
  native 5-minute step; ~14 days each, one file only ~4 days).
* SMD train + test joined (~33 days of minutes), a fixed subset chosen before any figure
  was seen: every fourth metric, m00, m04, ..., m36, of all five machines. 1 h:
  ``--step 60 --horizon 60`` (native step, the live 1 h tier's kind of step); 24 h:
  ``--step 300 --horizon 288`` (5-minute means, as NAB and the issue's fleet traces: 1,440
  one-minute steps ahead would cost ~5x the time for a forecast nobody reads per minute).

Parts, fixed before the first run: **choose** = NAB + SMD machine-1-2 and machine-1-3
(any fix to the forecaster may look at these); **report** = SMD machine-1-4, machine-1-5
and machine-2-1 (no choice looks at them). Summaries are printed per part.

Per pair: the served model, mase / best baseline (best of the last value, seasonal naive
and linear on 12 lags, scored on the same pairs), 80 % coverage. Targets (issue 8, held
out): ``mase <= 1.02 * best`` for >= 95 % of pairs; geometric mean of mase / best <= 1.0
(aim 0.9); 80 % coverage within 75-85 %. A pair the CLI refuses (exit 2: too short for
the horizon, nothing to score) is listed with its reason and counted apart from the scored
pairs. A training span that never changes is scored on a fallback MASE scale (``scale``
in the row: ``mase_scale_from``, "train" when the JSON has no such key, as before it
existed); the pairs per scale are printed. A result whose JSON would hold NaN or
infinity is flagged. Writes bench/out/heldout.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_json  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
NAB = DATA / "nab" / "realAWSCloudwatch"
SMD = DATA / "smd"
SMD_MACHINES = ("machine-1-2", "machine-1-3", "machine-1-4", "machine-1-5", "machine-2-1")
SMD_METRICS = tuple(f"m{i:02d}" for i in range(0, 38, 4))
CHOOSE_MACHINES = frozenset({"machine-1-2", "machine-1-3"})
# (label, step_s, horizon) per dataset.
HORIZONS = {
    "nab": (("1h", 300, 12), ("24h", 300, 288)),
    "smd": (("1h", 60, 60), ("24h", 300, 288)),
}
MASE_SLACK = 1.02
COVERAGE_80 = (0.75, 0.85)
RULE_SHARE = 0.95
# A pair whose 80 % coverage is within this of its floor (exact hits, above 85 %) is as
# low as a band that holds its point can go: counted apart, beside the pairs in range.
FLOOR_SLACK = 0.005


def pairs(only: str | None) -> list[dict]:
    """Every (series, horizon) pair to run, in a fixed order."""
    out = []
    if only in (None, "nab"):
        for path in sorted(NAB.glob("*.csv")):
            for label, step, horizon in HORIZONS["nab"]:
                out.append(
                    {
                        "dataset": "nab",
                        "series": path.stem,
                        "part": "choose",
                        "label": label,
                        "step_s": step,
                        "horizon": horizon,
                    }
                )
    if only in (None, "smd"):
        for machine in SMD_MACHINES:
            part = "choose" if machine in CHOOSE_MACHINES else "report"
            for metric in SMD_METRICS:
                for label, step, horizon in HORIZONS["smd"]:
                    out.append(
                        {
                            "dataset": "smd",
                            "series": f"{machine}/{metric}",
                            "part": part,
                            "label": label,
                            "step_s": step,
                            "horizon": horizon,
                        }
                    )
    return out


def load(pair: dict):
    """(timestamps, values) in file order, as ``load_series`` reads them."""
    import numpy as np
    import pandas as pd

    from foresight.core.timeseries_io import load_series

    if pair["dataset"] == "nab":
        return load_series(NAB / f"{pair['series']}.csv", "value", "timestamp")
    machine, metric = pair["series"].split("/")
    frame = pd.concat(
        [
            pd.read_csv(SMD / f"{machine}_{part}.csv.gz", usecols=["t_s", metric])
            for part in ("train", "test")
        ]
    )
    return frame["t_s"].to_numpy(float), frame[metric].to_numpy(np.float64)


def run_pair(pair: dict, root: str) -> dict:
    """One pair through ``run_backtest``'s steps (foresight/cli/forecast.py)."""
    if root not in sys.path:
        sys.path.insert(0, root)
    from foresight.cli.forecast import precheck_backtest
    from foresight.core.errors import InputError
    from foresight.core.timeseries_io import to_regular_grid
    from foresight.evaluation.backtest import backtest

    started = time.perf_counter()
    out = dict(pair)
    ts, values = load(pair)
    where = pair["series"]
    args = argparse.Namespace(csv=where, value_col="value", season="auto")
    try:
        ts, values, _ = to_regular_grid(ts, values, float(pair["step_s"]), where=where)
        precheck_backtest(values, args)
        try:
            r = backtest(values, ts, horizon=pair["horizon"], step_s=pair["step_s"], model="auto")
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    except InputError as exc:
        out.update(refused=str(exc), seconds=time.perf_counter() - started)
        return out
    d = r.to_dict()
    out["repeat_share"] = repeat_share(values)
    try:
        json.dumps(d, allow_nan=False)
        out["json_ok"] = True
    except ValueError:
        out["json_ok"] = False
    baselines = {k: d[k] for k in ("naive_mase", "seasonal_naive_mase", "linear_lags_mase")}
    best = min(baselines.values())
    out.update(
        n=d["n"],
        model=d["model"],
        mase=d["mase"],
        **baselines,
        best_baseline=min(baselines, key=baselines.get),
        ratio=ratio(d["mase"], best),
        coverage_80=d["coverage_80"],
        coverage_95=d["coverage_95"],
        season=d["season_length"],
        scale=d.get("mase_scale_from", "train"),
        candidates=d["candidates"],
        seconds=time.perf_counter() - started,
    )
    out["rule_ok"] = bool(d["mase"] <= MASE_SLACK * best)
    out["coverage_ok"] = bool(COVERAGE_80[0] <= d["coverage_80"] <= COVERAGE_80[1])
    # Exact hits (forecast == actual) lie inside every band that holds its point, so the
    # coverage cannot go below ``coverage_floor``; above 85 % the range is out of reach.
    out["coverage_floor"] = d.get("coverage_floor", math.nan)
    out["floor_bound"] = bool(
        out["coverage_floor"] > COVERAGE_80[1]
        and d["coverage_80"] - out["coverage_floor"] <= FLOOR_SLACK
    )
    return out


def repeat_share(values) -> float:
    """Share of the test span's one-step moves that are exactly 0 (the last 30 %).

    Where most are, a band of any width holds the actual whenever it repeats, so 80 %
    coverage cannot be reached from below (SMD's step-like metrics): printed beside it.
    """
    import numpy as np

    tail = np.diff(values[int(len(values) * 0.7) :])
    tail = tail[~np.isnan(tail)]
    return float(np.mean(tail == 0)) if len(tail) else float("nan")


def ratio(mase: float, best: float) -> float:
    """mase / best baseline; 1 when both are 0 (a test span no model gets wrong)."""
    if best > 0:
        return mase / best
    return 1.0 if mase == 0 else math.inf


def summary(rows: list[dict]) -> dict:
    scored = [r for r in rows if "refused" not in r]
    out = {"pairs": len(rows), "scored": len(scored), "refused": len(rows) - len(scored)}
    if not scored:
        return out
    ratios = [r["ratio"] for r in scored]
    logs = [math.log(max(x, 1e-12)) for x in ratios if math.isfinite(x)]
    cov = [r["coverage_80"] for r in scored]
    out.update(
        rule_share=sum(r["rule_ok"] for r in scored) / len(scored),
        geomean_ratio=math.exp(sum(logs) / len(logs)) if logs else math.nan,
        infinite_ratios=sum(not math.isfinite(x) for x in ratios),
        coverage_80_mean=sum(cov) / len(cov),
        coverage_ok_share=sum(r["coverage_ok"] for r in scored) / len(scored),
        floor_bound=sum(r.get("floor_bound", False) for r in scored),
        coverage_ok_or_floor_share=sum(
            r["coverage_ok"] or r.get("floor_bound", False) for r in scored
        )
        / len(scored),
        json_bad=sum(not r["json_ok"] for r in scored),
    )
    moving = [r for r in scored if not r.get("repeat_share", 0.0) >= 0.5]
    if moving:  # pairs where a band can miss: most test steps move
        out["coverage_80_mean_moving"] = sum(r["coverage_80"] for r in moving) / len(moving)
        out["moving"] = len(moving)
    out["targets"] = {
        "rule": out["rule_share"] >= RULE_SHARE,
        "geomean": out["geomean_ratio"] <= 1.0,
        "coverage_mean": COVERAGE_80[0] <= out["coverage_80_mean"] <= COVERAGE_80[1],
    }
    return out


def print_summary(name: str, s: dict) -> None:
    if not s.get("scored"):
        print(f"  {name:<14} {s['pairs']} pairs, none scored")
        return
    t = s["targets"]
    print(
        f"  {name:<14} {s['scored']:>3}/{s['pairs']:<3} scored | never-worse "
        f"{100 * s['rule_share']:5.1f} % ({'ok' if t['rule'] else 'MISSES'} >= 95 %) | "
        f"geomean mase/best {s['geomean_ratio']:.3f} ({'ok' if t['geomean'] else 'MISSES'} "
        f"<= 1.0) | 80 % band mean {100 * s['coverage_80_mean']:.1f} % "
        f"({'ok' if t['coverage_mean'] else 'MISSES'} 75-85), in range on "
        f"{100 * s['coverage_ok_share']:.0f} % of pairs "
        f"({100 * s['coverage_ok_or_floor_share']:.0f} % with the {s['floor_bound']} at a "
        f"floor above 85 %) | bad JSON {s['json_bad']}"
        + (
            f" | 80 % band mean where most steps move {100 * s['coverage_80_mean_moving']:.1f} %"
            f" ({s['moving']} pairs)"
            if "moving" in s
            else ""
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["nab", "smd"], default=None)
    parser.add_argument("--part", choices=["choose", "report"], default=None)
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2, max 2)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose code runs")
    parser.add_argument("--out", default="heldout", help="bench/out/<OUT>.json")
    args = parser.parse_args()
    if not NAB.is_dir() or not SMD.is_dir():
        print(f"bench_heldout: skipped: no shared NAB/SMD data under {DATA}")
        return 0
    todo = [p for p in pairs(args.only) if args.part in (None, p["part"])]
    root = str(args.root.resolve())
    jobs = max(1, min(args.jobs, 2))
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # each process one core
    print(f"{len(todo)} pairs, {jobs} processes, code from {root}", flush=True)
    started = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for r in pool.map(run_pair, todo, [root] * len(todo)):
            rows.append(r)
            head = f"{r['part']:<6} {r['dataset']} {r['series']:<38} {r['label']:>3}"
            if "refused" in r:
                print(f"  {head}  refused: {r['refused'].split(': ', 1)[-1][:90]}", flush=True)
                continue
            print(
                f"  {head}  {r['model']:<13} mase/best {r['ratio']:6.3f} "
                f"({r['best_baseline'].removesuffix('_mase'):<14}) "
                f"{'ok ' if r['rule_ok'] else 'LOSES'}  80 % band {100 * r['coverage_80']:5.1f} %"
                f"{'' if r['coverage_ok'] else ' (floor)' if r['floor_bound'] else ' (out)'}"
                f"  repeats {100 * r['repeat_share']:3.0f} %"
                f"  floor {100 * r['coverage_floor']:5.1f} %"
                f"  {r['seconds']:5.1f} s"
                + ("" if r["json_ok"] else "  JSON has NaN/inf")
                + ("" if r["scale"] == "train" else f"  scale: {r['scale']}"),
                flush=True,
            )
    groups = {
        "choose": [r for r in rows if r["part"] == "choose"],
        "report": [r for r in rows if r["part"] == "report"],
        "nab": [r for r in rows if r["dataset"] == "nab"],
        "smd": [r for r in rows if r["dataset"] == "smd"],
        "all": rows,
    }
    for label in ("1h", "24h"):
        groups[f"all {label}"] = [r for r in rows if r["label"] == label]
    summaries = {k: summary(v) for k, v in groups.items()}
    print(f"\nsummary ({time.perf_counter() - started:.0f} s wall):")
    for k, s in summaries.items():
        print_summary(k, s)
    scales: dict[str, int] = {}
    for r in rows:
        if "scale" in r:
            scales[r["scale"]] = scales.get(r["scale"], 0) + 1
    print("  MASE scale: " + ", ".join(f"{k} {v}" for k, v in sorted(scales.items())))
    for name in sorted(set(scales) - {"train"}):
        print_summary(f"scale {name}", summary([r for r in rows if r.get("scale") == name]))
    refusals: dict[str, int] = {}
    for r in rows:
        if "refused" in r:
            reason = r["refused"].split(": ", 1)[-1]
            refusals[reason] = refusals.get(reason, 0) + 1
    for reason, count in refusals.items():
        print(f"  refused ({count}): {reason}")
    path = write_json(args.out, {"pairs": rows, "summary": summaries})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
