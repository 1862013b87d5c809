"""Benchmark the alerting path's own cost per 1-s tick: ``AlertEngine.evaluate`` on one
sample's values, with the shipped rules, quiet and with alerts firing.

The engine, rules and store are the real ones (a fresh SQLite store in a temporary
folder); the signals are those the live wiring passes: every catalog metric plus one
per-core CPU metric per core, a forecast (24 steps of 10 s) for the forecast rules,
recent anomalies for two metrics, a trend for the exhaustion rules.

Scenarios:

- ``quiet``: every value well below its levels (no alert), the forecast stays low;
- ``firing``: CPU, every core, memory, load, disk and the probes past their critical
  levels, the forecast crosses, two metrics anomalous: about 30 active alerts whose
  values change every tick (re-rendered annotations, a save every 10 s).

Each scenario runs ``--ticks`` evaluations after ``--warmup`` ones (one simulated
second apart) and reports the process CPU time per tick in µs. ``--compare-tree PATH``
runs the same benchmark against that checkout's ``foresight`` (this script, its
interpreter and its package), alternating rounds, and reports this tree over the other.

    .venv/bin/python bench/bench_alerts.py
    .venv/bin/python bench/bench_alerts.py --compare-tree /work/main --rounds 3

Writes bench/out/bench_alerts.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENARIOS = ("quiet", "firing")


def _values(names: list[str], firing: bool, tick: int) -> dict[str, float]:
    """One sample's values; ``tick`` moves them a little, as a real host's do."""
    wobble = 0.5 * math.sin(tick / 7.0)
    out: dict[str, float] = {}
    for i, name in enumerate(names):
        base = 20.0 + (i % 7) + wobble
        if firing and (name == "cpu_percent" or name.startswith("cpu_core")):
            base = 98.0 + wobble
        elif firing and name in ("memory_percent", "disk_percent"):
            base = 97.0 + wobble
        elif name == "load1":
            base = (50.0 if firing else 0.5) + wobble
        out[name] = round(base, 3)
    out["api_success"] = 0.0 if firing else 1.0
    out["db_probe_success"] = 0.0 if firing else 1.0
    out["source_up"] = 1.0
    return out


def run_local(root: Path, ticks: int, warmup: int, scenario: str) -> dict:
    """Time the engine of the ``foresight`` importable from ``root`` (the current
    process's path already starts with it)."""
    import numpy as np

    from foresight.alerts.conditions import Signals
    from foresight.alerts.engine import AlertEngine
    from foresight.alerts.rules import RuleBook
    from foresight.core.catalog import METRIC_CATALOG
    from foresight.store.alert_log import AlertLog
    from foresight.store.metric_store import MetricStore
    from predictor import Forecast

    cores = 4
    names = list(METRIC_CATALOG) + [f"cpu_core{i}_percent" for i in range(cores)]
    firing = scenario == "firing"
    t0 = 1_800_000_000.0

    def forecast(metric: str, horizon_s: float):
        now = clock[0]
        stamps = now + 10.0 * np.arange(1, 25)
        level = 99.0 if firing else 30.0
        mean = np.full(24, level - 5.0)
        return Forecast(10.0, mean, mean - 5, mean + 5, mean - 9, mean + 9, timestamps=stamps)

    def anomalies(metric: str, since: float) -> list[dict]:
        if firing and metric in ("cpu_percent", "memory_percent"):
            return [{"timestamp": clock[0] - 5, "score": 7.5, "metric": metric}]
        return []

    def trend(metric: str, since: float, until: float):
        return (0.01, 50.0) if firing else (0.0, 20.0)

    def series(metric: str, since: float, until: float):
        ts = np.arange(since, until, 60.0)
        return ts, np.full(ts.shape, 20.0)

    clock = [t0]
    with tempfile.TemporaryDirectory(prefix="foresight-bench-alerts-") as tmp:
        store = MetricStore(Path(tmp) / "foresight.db")
        try:
            engine = AlertEngine(RuleBook(), AlertLog(store), None)
            used: list[float] = []
            for tick in range(warmup + ticks):
                clock[0] = t0 + tick
                values = _values(names, firing, tick)
                start = time.process_time()
                engine.evaluate(
                    Signals(
                        now=clock[0],
                        values=values,
                        sample_at=clock[0],
                        cores=cores,
                        forecast=forecast,
                        series=series,
                        trend=trend,
                        anomalies=anomalies,
                        missed_since=lambda since: 0,
                        risk=lambda: {"crash_risk_score": 0.1, "failure_probability": 0.05},
                    ),
                    scope=lambda m: True,
                )
                if tick >= warmup:
                    used.append(time.process_time() - start)
            active = len(engine.active())
        finally:
            store.close()
    return {
        "root": str(root),
        "scenario": scenario,
        "ticks": ticks,
        "active_alerts": active,
        "cpu_us_per_tick_mean": round(1e6 * statistics.fmean(used), 1),
        "cpu_us_per_tick_median": round(1e6 * statistics.median(used), 1),
        "cpu_s_per_min": round(60 * statistics.fmean(used), 4),
    }


def run_tree(root: Path, ticks: int, warmup: int, scenario: str) -> dict:
    """This benchmark in a child process on ``root``'s interpreter and package."""
    python = root / ".venv" / "bin" / "python"
    cmd = [str(python), __file__, "--child", str(root), scenario, str(ticks), str(warmup)]
    done = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compare-tree", type=Path, default=None)
    parser.add_argument("--child", nargs=4, metavar=("ROOT", "SCENARIO", "TICKS", "WARMUP"))
    args = parser.parse_args(argv)
    if args.child:
        root = Path(args.child[0]).resolve()
        sys.path.insert(0, str(root))
        print(json.dumps(run_local(root, int(args.child[2]), int(args.child[3]), args.child[1])))
        return 0
    if args.ticks < 1 or args.warmup < 0 or args.rounds < 1:
        print("bench_alerts: --ticks and --rounds must be >= 1, --warmup >= 0", file=sys.stderr)
        return 2
    trees = [HERE.parent] + ([args.compare_tree.resolve()] if args.compare_tree else [])
    runs: list[dict] = []
    for _ in range(args.rounds):
        for scenario in SCENARIOS:
            for root in trees:
                runs.append(run_tree(root, args.ticks, args.warmup, scenario))
                print(json.dumps(runs[-1]), flush=True)
    summary: dict = {}
    for scenario in SCENARIOS:
        for root in trees:
            mine = [
                r["cpu_us_per_tick_mean"]
                for r in runs
                if r["scenario"] == scenario and r["root"] == str(root)
            ]
            summary.setdefault(scenario, {})[str(root)] = round(statistics.median(mine), 1)
        if len(trees) == 2:
            this, other = (summary[scenario][str(t)] for t in trees)
            summary[scenario]["ratio_this_over_other"] = round(this / other, 3)
    out = {"runs": runs, "median_cpu_us_per_tick": summary}
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bench_alerts.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
