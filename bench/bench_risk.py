"""Failure risk on the shared SMD machines, through ``main.py risk-eval --json``.

    .venv/bin/python bench/bench_risk.py                       # cross and within
    .venv/bin/python bench/bench_risk.py --mode within --models hgb,rf,et,lr,svm   # before
    .venv/bin/python bench/bench_risk.py --mode cross --models lr,hgb

- cross-machine: leave one machine out (train on the other 4 labelled files, test on it);
- within-machine: each machine's first half trains, its second half (after a gap of one
  horizon) is scored; validation inside the first half uses blocked folds split by its
  incidents (see foresight/risk/model.py).
Horizon 30 min, scored at every minute, no point adjustment. The alarm rule (its
threshold within a false-alarm budget) and the model choice come from the training rows
only. Every model is printed
beside the baselines (base rate, max-z rule), with fit and predict time per 1,000 rows.
Writes bench/out/risk.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import PYTHON, ROOT, write_json

SMD = ROOT.parent / "shared" / "data" / "smd"
HORIZON_S = 1800
CROSS_MODELS = "hgb,rf,et,lr,svm"
WITHIN_MODELS = "etb,etlr"  # risk-eval --within's default (foresight/cli/risk.py)
COLUMNS = (
    "pr_auc",
    "event_recall",
    "event_recall_chance",
    "false_alarms_per_day",
    "alarm_time_ratio",
)


def risk_eval(train: list[Path], test: list[Path], models: str, within: bool) -> dict[str, Any]:
    cmd = [PYTHON, str(ROOT / "main.py"), "risk-eval", "--label-col", "label", "--time-col", "t_s"]
    cmd += ["--horizon-s", str(HORIZON_S), "--models", models, "--json"]
    for path in train:
        cmd += ["--train", str(path)]
    for path in test:
        cmd += ["--test", str(path)]
    if within:
        cmd.append("--within")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"risk-eval failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout)


def pooled_mean(results: list[dict[str, Any]], pick: str, key: str) -> float | None:
    """Mean over the held-out runs (cross) or machines (within) of one figure."""
    values = []
    for r in results:
        block = r if pick == "chosen" else r["models"].get(pick) or r["baselines"].get(pick)
        if block is not None and block[key] is not None:
            values.append(block[key])
    return statistics.mean(values) if values else None


def table(title: str, results: list[dict[str, Any]], models: list[str]) -> list[str]:
    lines = [
        title,
        f"{'method':<10}" + "".join(f"{c[:14]:>16}" for c in COLUMNS) + f"{'PR-AUC median':>15}",
    ]
    for name in ["chosen", *models, "max_z", "base_rate"]:
        row = f"{name:<10}"
        for c in COLUMNS:
            v = pooled_mean(results, name, c)
            row += f"{'n/a' if v is None else f'{v:.3f}':>16}"
        per = [
            (r if name == "chosen" else r["models"].get(name) or r["baselines"][name])["pr_auc"]
            for r in results
        ]
        per = [p for p in per if p is not None]
        row += f"{statistics.median(per) if per else float('nan'):>15.3f}"
        lines.append(row)
    return lines


def per_machine(results: list[dict[str, Any]]) -> list[str]:
    """Within-machine, one line per machine: the second half's figures beside max_z and
    the base rate, then the first half's own check (nested.first_half_check: the choice
    and the alarm rule judged on left-out blocks of the first half)."""
    lines = [
        "per machine: second half | first-half check (left-out blocks of the first half)",
        f"{'machine':<12}{'chosen':<18}{'PR-AUC':>7}{'max_z':>7}{'base':>7}{'caught':>8}"
        f"{'FA/day':>8}{'alarm':>7}{'z caught':>9}{'z FA/d':>7} |{'PR-AUC':>7}{'caught':>8}"
        f"{'FA/day':>7}{'max':>6}{'alarm':>7}",
    ]
    for r in results:
        z = r["baselines"]["max_z"]
        row = f"{r['machine']:<12}{r['model'][:17]:<18}{r['pr_auc']:>7.3f}{z['pr_auc']:>7.3f}"
        row += f"{r['base_rate']:>7.3f}{r['events_caught']:>4}/{r['events']:<3}"
        row += f"{r['false_alarms_per_day']:>8.2f}{100 * r['alarm_time_ratio']:>6.1f}%"
        row += f"{z['events_caught']:>5}/{z['events']:<3}{z['false_alarms_per_day']:>7.2f} |"
        check = next(iter(r["per_file"].values())).get("first_half_check")
        if check:
            row += f"{check['choice_pr_auc'] or 0:>7.3f}{check['events_caught']:>4}/"
            row += f"{check['events']:<3}{check['false_alarms_per_day']:>7.2f}"
            row += (
                f"{check['max_false_alarms_per_day']:>6.2f}{100 * check['alarm_time_ratio']:>6.1f}%"
            )
        lines.append(row)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("cross", "within", "both"), default="both")
    parser.add_argument(
        "--models",
        default=None,
        help=f"candidates (default: cross {CROSS_MODELS}; within {WITHIN_MODELS}, risk-eval "
        "--within's own default)",
    )
    parser.add_argument("--name", default=None, help="output bench/out/NAME.json")
    args = parser.parse_args()
    tests = sorted(SMD.glob("machine-*_test.csv.gz"))
    if not tests:
        print(f"skipped: no SMD data at {SMD}")
        return 0
    out: dict[str, Any] = {"horizon_s": HORIZON_S, "machines": []}
    lines: list[str] = []
    for mode in ("cross", "within"):
        if args.mode not in (mode, "both"):
            continue
        names = args.models or (WITHIN_MODELS if mode == "within" else CROSS_MODELS)
        models = names.split(",")
        out[f"{mode}_models"] = models
        results = []
        for held in tests:
            t0 = time.monotonic()
            train = [held] if mode == "within" else [p for p in tests if p != held]
            r = risk_eval(train, [held], names, within=mode == "within")
            r["machine"] = held.name.removesuffix("_test.csv.gz")
            r["wall_s"] = time.monotonic() - t0
            results.append(r)
            print(
                f"{mode} {r['machine']}: chosen {r['model']} PR-AUC {r['pr_auc']:.3f} "
                f"(max_z {r['baselines']['max_z']['pr_auc']:.3f}, base {r['base_rate']:.3f}) "
                f"event recall {r['event_recall']} FA/day {r['false_alarms_per_day']:.2f} "
                f"alarm {100 * r['alarm_time_ratio']:.2f} % [{r['wall_s']:.0f} s]",
                flush=True,
            )
        out[mode] = results
        lines += ["", *table(f"{mode}-machine (mean over the 5 held-out runs)", results, models)]
        if mode == "within":
            lines += ["", *per_machine(results)]
        speed = [f"{'model':<8}{'fit s/1k rows':>15}{'predict s/1k rows':>19}"]
        for name in models:
            fit = statistics.mean(r["models"][name]["fit_s_per_1000_rows"] for r in results)
            pred = statistics.mean(r["models"][name]["predict_s_per_1000_rows"] for r in results)
            speed.append(f"{name:<8}{fit:>15.3f}{pred:>19.4f}")
        lines += ["", *speed]
    print("\n".join(lines))
    name = args.name or ("risk" if args.mode == "both" else f"risk_{args.mode}")
    print(f"\nwrote {write_json(name, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
