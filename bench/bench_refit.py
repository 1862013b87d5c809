"""Benchmark the cost of live refits: CPU-seconds per minute of monitor time.

Drives the monitor's own model job (``foresight.live.models.LiveModels.run``, the code
``--monitor`` schedules every ``FORECAST_JOB_S`` = 15 s) in simulated time over a seeded
store, so an hour of monitor time takes minutes, not an hour:

- the store holds ``--days`` of history for every catalog metric plus the per-core CPU
  metrics (a daily cycle, a weekly one, noise and bursts): one sample a minute, and one
  every 10 s over the last ``--fine-hours`` (the 5-minute tier's 10-s buckets need it);
- the job runs every 15 simulated seconds over ``--minutes`` of monitor time, with the
  monitor's settings (refit at least every 300 s and once the tier has
  FORECAST_REFIT_STEPS new buckets, choose afresh every hour, every tier);
- CPU is user + system of this process **and of every child** (the fit worker, when
  the job fits in one), measured from after the seeding to after the worker has exited.

Target (issue 8): refitting all metrics and candidates costs ≤ 2 CPU-s per minute of
monitor time on average. The first job run (every model chosen from scratch, as after a
fresh start with a full store) is reported apart from the steady state after it.

    .venv/bin/python bench/bench_refit.py                  # 60 min of monitor time
    .venv/bin/python bench/bench_refit.py --minutes 120 --days 21
    .venv/bin/python bench/bench_refit.py --lstm           # + the LSTM (FORESIGHT_LSTM=1)
    .venv/bin/python bench/bench_refit.py --compare --repeat 2   # vs FORECAST_REFIT_STEPS=0

With ``--lstm`` the job also runs LSTM rounds as ``FORESIGHT_LSTM=1`` does, on the
default ``FORECAST_LSTM_REFIT_S`` and ``FORECAST_LSTM_CPU_S_PER_MIN`` (needs the lstm
extra); their own CPU-s are reported apart (``lstm``) and included in the totals.

Writes bench/out/bench_refit.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import progress, write_json
from bench_store import metric_names

from foresight.core.catalog import METRIC_CATALOG
from foresight.core.settings import Settings
from foresight.live import models as live_models
from foresight.store.metric_store import MetricStore

TARGET_CPU_S_PER_MIN = 2.0
JOB_S = 15.0  # Settings.forecast_job_s default
REFIT_S = 300.0  # Settings.forecast_refit_s default


def series_for(name: str, ts: np.ndarray, rng: np.random.Generator, i: int) -> np.ndarray:
    """A plausible metric: daily and weekly cycles, noise, and short bursts."""
    info = METRIC_CATALOG.get(name)
    unit = info.unit if info else "%"
    scale = {"%": 35.0, "B/s": 2e6, "ms": 20.0, "GB": 50.0}.get(unit, 5.0)
    daily = np.sin(2 * math.pi * (ts % 86400) / 86400 + i)
    weekly = np.sin(2 * math.pi * (ts % 604800) / 604800)
    base = scale * (1 + 0.3 * daily + 0.1 * weekly)
    bursts = (rng.random(len(ts)) < 0.002) * rng.exponential(scale, len(ts))
    vals = np.abs(base + rng.normal(0, 0.1 * scale, len(ts)) + bursts)
    if unit == "%":
        vals = np.clip(vals, 0, 100)
    if name == "api_success":
        vals = (rng.random(len(ts)) > 0.001).astype(float)
    return np.round(vals, 3)


def seed(db: Path, names: list[str], end: float, days: float, fine_hours: float) -> int:
    """Minute samples for ``days`` before ``end``, 10-s samples over the last hours."""
    rng = np.random.default_rng(11)
    fine_from = end - fine_hours * 3600
    coarse = np.arange(end - days * 86400, fine_from, 60.0)
    fine = np.arange(fine_from, end, 10.0)
    ts = np.concatenate([coarse, fine])
    cols = {n: series_for(n, ts, rng, i).tolist() for i, n in enumerate(names)}
    tl = ts.tolist()
    with MetricStore(db, retention_days=days + 1) as store:
        return store.append_many((tl[j], {n: cols[n][j] for n in names}) for j in range(len(tl)))


def cpu_s() -> float:
    """User + system CPU of this process, its reaped children and its live ones."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.NoSuchProcess:
            pass
    return total


def build(
    store: MetricStore,
    names: list[str],
    data_dir: Path,
    lstm: bool = False,
    refit_steps: float | None = None,
):
    """The job as ``--monitor`` installs it (with its fit worker when there is one)."""
    kwargs: dict = {
        "refit_every_s": REFIT_S,
        "data_dir": data_dir,
    }
    if refit_steps is not None:  # FORECAST_REFIT_STEPS (None: the default)
        kwargs["refit_steps"] = refit_steps
    if lstm:
        from foresight.live.lstm_rounds import LstmRounds, require_lstm

        require_lstm("--lstm")
        defaults = Settings()
        kwargs["lstm"] = LstmRounds(
            defaults.forecast_lstm_refit_s, defaults.forecast_lstm_cpu_s_per_min
        )
    make_worker = getattr(live_models, "make_fit_worker", None)
    if make_worker is not None:  # fits in a child process (issue 8)
        kwargs["worker"] = make_worker()
    return live_models.LiveModels(store, lambda: names, **kwargs)


def settle(live) -> None:
    """Let the worker (if any) finish what the run submitted: time stands still."""
    wait = getattr(live, "wait_idle", None)
    if wait is not None:
        wait(600.0)


def measure(
    minutes: float,
    days: float,
    fine_hours: float,
    lstm: bool = False,
    refit_steps: float | None = None,
) -> dict:
    names = metric_names(psutil.cpu_count(logical=True) or 1)
    t0 = math.floor(time.time() / 3600) * 3600.0
    end = t0 + minutes * 60 + 120
    with tempfile.TemporaryDirectory(prefix="foresight-bench-refit-") as tmp:
        seeded = seed(Path(tmp) / "foresight.db", names, end, days, fine_hours)
        with MetricStore(Path(tmp) / "foresight.db", retention_days=days + 1) as store:
            live = build(store, names, Path(tmp) / "data", lstm, refit_steps)
            started_wall = time.monotonic()
            c0 = cpu_s()
            first = live.run(t0)
            settle(live)
            c1 = cpu_s()
            refits = 0
            runs = 0
            now = t0 + JOB_S
            while now <= t0 + minutes * 60 + 1e-9:
                refits += live.run(now)
                settle(live)
                runs += 1
                now += JOB_S
                progress(f"simulated {(now - t0) / 60:5.1f}/{minutes:g} min")
            progress()
            close = getattr(live, "close", None)
            if close is not None:
                close()  # the worker exits: its CPU is now in children_*
            c2 = cpu_s()
            wall = time.monotonic() - started_wall
            served = {}
            for row in live.overview():
                if row["status"] == "ok":
                    served[row["model"]] = served.get(row["model"], 0) + 1
            stats = getattr(live, "worker_stats", lambda: None)()
            lstm_stats = getattr(live, "lstm_stats", lambda: None)()
    steady = c2 - c1
    total = c2 - c0
    return {
        "minutes": minutes,
        "refit_steps": getattr(live, "refit_steps", None),
        "history_days": days,
        "metrics": len(names),
        "tiers": [t.name for t in live_models.ALL_TIERS],
        "seeded_values": seeded,
        "first_run_models": first,
        "first_run_cpu_s": round(c1 - c0, 2),
        "steady_refits": refits,
        "steady_runs": runs,
        "steady_cpu_s": round(steady, 2),
        "steady_cpu_s_per_min": round(steady / minutes, 3),
        "total_cpu_s_per_min": round(total / minutes, 3),
        "wall_s": round(wall, 1),
        "served_models": served,
        "worker": stats,
        "lstm": lstm_stats,
        "target_cpu_s_per_min": TARGET_CPU_S_PER_MIN,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, default=60.0, help="simulated monitor time (default 60)"
    )
    parser.add_argument("--days", type=float, default=21.0, help="seeded history (default 21)")
    parser.add_argument(
        "--fine-hours", type=float, default=8.0, help="hours of 10-s samples at the end"
    )
    parser.add_argument(
        "--lstm", action="store_true", help="with the LSTM rounds on (FORESIGHT_LSTM=1)"
    )
    parser.add_argument(
        "--refit-steps",
        type=float,
        default=None,
        help="FORECAST_REFIT_STEPS for the run (default: the setting's default)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run FORECAST_REFIT_STEPS=0 (a refit every FORECAST_REFIT_S, the former "
        "schedule) side by side, and report the ratio",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each configuration (default 1)"
    )
    parser.add_argument("--name", default=None, help="output name (bench/out/NAME.json)")
    args = parser.parse_args()
    name = args.name or ("bench_refit_lstm" if args.lstm else "bench_refit")
    print(
        f"bench_refit: the live model job every {JOB_S:g} s over {args.minutes:g} min of "
        f"simulated monitor time, {args.days:g} days of history, CPU incl. children"
        + (", with LSTM rounds" if args.lstm else "")
    )
    configs = [("default", args.refit_steps)] + ([("every_refit_s", 0.0)] if args.compare else [])
    runs: dict[str, list[dict]] = {label: [] for label, _ in configs}
    for k in range(max(1, args.repeat)):
        for label, steps in configs:  # interleaved: a busy spell hits both alike
            print(
                f"  [{label}, run {k + 1}] FORECAST_REFIT_STEPS="
                + ("default" if steps is None else f"{steps:g}")
            )
            r = measure(args.minutes, args.days, args.fine_hours, args.lstm, steps)
            report(r, args.minutes)
            runs[label].append(r)
    if not args.compare and args.repeat <= 1:
        path = write_json(name, runs["default"][0])
    else:
        summary = {
            label: {
                "refit_steps": rs[0]["refit_steps"],
                "total_cpu_s_per_min": [r["total_cpu_s_per_min"] for r in rs],
                "steady_cpu_s_per_min": [r["steady_cpu_s_per_min"] for r in rs],
                "first_run_cpu_s": [r["first_run_cpu_s"] for r in rs],
                "steady_refits": [r["steady_refits"] for r in rs],
            }
            for label, rs in runs.items()
        }
        for label, row in summary.items():
            print(
                f"  {label} (FORECAST_REFIT_STEPS={row['refit_steps']:g}): total CPU-s/min "
                f"{', '.join(f'{v:.3f}' for v in row['total_cpu_s_per_min'])}; steady "
                f"{', '.join(f'{v:.3f}' for v in row['steady_cpu_s_per_min'])}; refits "
                f"{', '.join(str(v) for v in row['steady_refits'])}"
            )
        if args.compare:
            new = float(np.median(summary["default"]["total_cpu_s_per_min"]))
            old = float(np.median(summary["every_refit_s"]["total_cpu_s_per_min"]))
            summary["ratio_default_to_every_refit_s"] = round(new / old, 3)
            print(f"  median total CPU-s/min, default / every FORECAST_REFIT_S: {new / old:.2f}")
        path = write_json(name, {"runs": runs, "summary": summary})
    print(f"  wrote {path}")
    return 0


def report(r: dict, minutes: float) -> None:
    """Print one run's figures."""
    print(
        f"  {r['metrics']} metrics x {len(r['tiers'])} tiers; first run: {r['first_run_models']} "
        f"models chosen in {r['first_run_cpu_s']:.1f} CPU-s"
    )
    ok = r["total_cpu_s_per_min"] <= TARGET_CPU_S_PER_MIN
    print(
        f"  steady: {r['steady_refits']} refits in {r['steady_runs']} runs, "
        f"{r['steady_cpu_s']:.1f} CPU-s = {r['steady_cpu_s_per_min']:.3f} CPU-s per minute; "
        f"with the first run {r['total_cpu_s_per_min']:.3f} CPU-s per minute "
        f"(target ≤ {TARGET_CPU_S_PER_MIN:g}: {'meets' if ok else 'MISSES'}); "
        f"wall {r['wall_s']:.0f} s"
    )
    print(f"  served: {r['served_models']}; worker: {r['worker']}")
    if r["lstm"] is not None:
        print(
            f"  LSTM rounds: {r['lstm']['rounds']} ({r['lstm']['lstm_chosen']} served the LSTM), "
            f"{r['lstm']['cpu_s']:.1f} CPU-s = {r['lstm']['cpu_s'] / minutes:.3f} CPU-s "
            "per minute of the totals above"
        )


if __name__ == "__main__":
    sys.exit(main())
