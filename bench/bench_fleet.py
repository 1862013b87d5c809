"""Fleet scale: one monitor reading many series from a real local Prometheus (issue 12).

    .venv/bin/python bench/bench_fleet.py                      # 100, 300 and 1,000 series
    .venv/bin/python bench/bench_fleet.py --series 100 1000 --ticks 20

1. Backfill: the shared traces (../shared/data, read in place: NAB's 17 AWS CloudWatch
   series, the Alibaba 2018 cluster trace's 5 columns, the NASA request rate) become
   ``--max-series`` series of ``fleet_cpu_percent`` (labels ``instance``, ``group`` of 100,
   ``trace``): series i is base trace i mod 23, min-max scaled to 0-100 and started
   i div 23 × 977 minutes later into it, on a 60-s grid from 24 h before now to 2 h after
   (so instant queries at "now" find data). Written as OpenMetrics and loaded with
   ``promtool tsdb create-blocks-from openmetrics``; Debian's ``prometheus`` serves it.
2. For each N, in a fresh process (RSS per N): the monitor's own services with
   ``--source prometheus`` (``fleet_cpu_percent{group=~...}``, N series) at a 60-s
   interval, every stage on (store, anomaly scoring, alerts, scaling, risk), driven by
   ``run_cycle`` with an explicit ``now`` (the cycle the daemon runs, in simulated time):
   the start's catch-up (``query_range``, ``--catchup-h``), then ``--ticks`` cycles, and
   the forecast job (``LiveModels.run``, 2-s budget) every 15 simulated seconds; after
   each simulated minute the bench waits for the fit worker to answer what that minute
   sent (it works in real time, the bench in simulated time), and charges the worker's
   CPU (``FitOutcome.cpu_s``) to that minute.
   Measured: CPU seconds (process time) of each part, the fit worker's CPU, models
   refitted, the share of series whose forecast was made within 1 and 5 cycles (per
   tier) and the share served a fitted model (not the fast start's last value), RSS of
   the monitor and of the fit worker.
3. A 24 h ``query_range`` of one series at 60-s steps (Prometheus), and the same 24 h from
   Foresight's store (``MetricStore.query``, 1,000 points).
4. Push: ``POST /api/samples`` with 10,000 samples to a real monitor (waitress), wall time.

Figures: CPU-s per series per hour = (cycle CPU per tick × 60 + forecast-job CPU per
simulated hour + fit-worker CPU per simulated hour) / N; the share of one core = CPU-s
per hour / 3600; RSS slope per series by least squares over the N values. Target: 1,000
series at 60 s under one core.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _common import OPENER, free_port, monitor, stop_process, write_json  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
STEP_S = 60
OFFSET_MIN = 977  # minutes between two series cut from the same base trace


def base_traces() -> list[tuple[str, np.ndarray]]:
    """Every shared trace at one value per minute (NaN where it has none)."""
    out: list[tuple[str, np.ndarray]] = []
    for path in sorted((DATA / "nab" / "realAWSCloudwatch").glob("*.csv")):
        frame = pd.read_csv(path, parse_dates=["timestamp"])
        t = (frame["timestamp"] - frame["timestamp"].iloc[0]).dt.total_seconds().to_numpy()
        minutes = np.arange(0, t[-1] + 1, 60.0)
        out.append((f"nab_{path.stem}", np.interp(minutes, t, frame["value"].to_numpy())))
    ali = pd.read_csv(DATA / "traces" / "alibaba2018_cluster_usage_10s_days3-8.csv")
    ali["minute"] = (ali["t_s"] // 60).astype(int)
    per_min = ali.groupby("minute").mean(numeric_only=True)
    for column in ("cpu_util_percent", "mem_util_percent", "net_in", "net_out", "disk_io_percent"):
        out.append((f"alibaba_{column}", per_min[column].to_numpy(dtype=float)))
    nasa = pd.read_csv(DATA / "traces" / "nasa_requests_per_minute.csv")
    requests = nasa["requests"].to_numpy(dtype=float)
    requests[nasa["observed"].to_numpy() == 0] = np.nan  # a gap, not zero demand
    out.append(("nasa_requests", requests))
    return out


def scaled(values: np.ndarray) -> np.ndarray:
    lo, hi = np.nanmin(values), np.nanmax(values)
    return 100.0 * (values - lo) / (hi - lo if hi > lo else 1.0)


def write_openmetrics(path: Path, n_series: int, end_s: int, hours_back: int) -> int:
    """The fleet's series as OpenMetrics text; returns the number of samples."""
    bases = [(name, scaled(values)) for name, values in base_traces()]
    start_s = end_s - hours_back * 3600
    stamps = np.arange(start_s, end_s + 2 * 3600 + 1, STEP_S)
    count = 0
    with open(path, "w") as out:
        out.write("# HELP fleet_cpu_percent Shared traces as a fleet's utilisation.\n")
        out.write("# TYPE fleet_cpu_percent gauge\n")
        for i in range(n_series):
            name, values = bases[i % len(bases)]
            offset = (i // len(bases)) * OFFSET_MIN
            idx = (offset + np.arange(len(stamps))) % len(values)
            labels = f'group="g{i // 100:02d}",instance="host-{i:04d}",trace="{name}"'
            lines = [
                f"fleet_cpu_percent{{{labels}}} {v:.4f} {t}\n"
                for t, v in zip(stamps, values[idx])
                if np.isfinite(v)
            ]
            count += len(lines)
            out.writelines(lines)
        out.write("# EOF\n")
    return count


def group_selector(n: int) -> str:
    """``fleet_cpu_percent`` limited to the first n series (groups of 100, then instances)."""
    full, rest = divmod(n, 100)
    groups = [f"g{g:02d}" for g in range(full)]
    parts = []
    if groups:
        parts.append(f'fleet_cpu_percent{{group=~"{"|".join(groups)}"}}')
    if rest:
        wanted = "|".join(f"host-{full * 100 + k:04d}" for k in range(rest))
        parts.append(f'fleet_cpu_percent{{instance=~"{wanted}"}}')
    return " or ".join(parts)


def start_prometheus(workdir: Path, tsdb: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 60s\nscrape_configs: []\n")
    log = open(workdir / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with OPENER.open(f"{base}/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.3)
    stop_process(proc)
    raise RuntimeError("prometheus did not become ready")


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def run_one(
    prometheus: str, n: int, ticks: int, catchup_h: float, end_s: int, budget_s: float
) -> dict:
    """One monitor's cycle over ``n`` series, in this process (see the module docstring)."""
    from foresight.core.settings import Settings
    from foresight.live import models as live_models
    from foresight.live.services import build_services, run_cycle, stop

    data_dir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    settings = Settings(
        data_dir=data_dir,
        interval_s=float(STEP_S),
        source="prometheus",
        prometheus_url=prometheus,
        prometheus_queries=(("cpu_percent", group_selector(n)),),
        prometheus_catchup_s=catchup_h * 3600.0,
        prometheus_timeout_s=30.0,
        forecast_budget_s=budget_s,
    )
    t0 = end_s - ticks * STEP_S  # the simulated run ends at the trace's "now"
    services = build_services(settings, now=t0)
    live = services.extras[live_models.EXTRAS_KEY]
    try:
        services.collector.prime()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        first = run_cycle(services, float(t0))
        catchup = {
            "cpu_s": round(time.process_time() - cpu0, 3),
            "wall_s": round(time.perf_counter() - wall0, 3),
            "points": services.collector.status()["caught_up_points"],
        }
        series = sum(1 for k in first.values if "@" in k)
        keys = [k for k in services.known_metrics() if "@" in k]
        cycle_cpu: list[float] = []
        collect_wall: list[float] = []
        model_cpu = 0.0
        worker_cpu = 0.0
        worker_wait_s = 0.0
        refits = 0
        fresh_1h: list[float] = []  # per tick: share of series with a 1-h forecast this cycle
        for k in range(1, ticks + 1):
            now = float(t0 + k * STEP_S)
            c0 = time.process_time()
            w0 = time.perf_counter()
            sample = services.collector.collect(now)
            collect_wall.append(time.perf_counter() - w0)
            services.store.append(sample.timestamp, sample.values)
            services.recent.append(sample)
            for stage in services.stages:
                stage(now, sample)
            cycle_cpu.append(time.process_time() - c0)
            for j in range(4):  # the forecast job every 15 s
                m0 = time.process_time()
                refits += live.run(now + 15.0 * j)
                model_cpu += time.process_time() - m0
            # The worker works in real time, the bench in simulated time: let it answer
            # what this minute sent before time moves on (as bench_refit does), so its
            # CPU is charged to the minute that asked for it.
            f0 = (live.worker_stats() or {}).get("fit_cpu_s", 0.0)
            w1 = time.perf_counter()
            live.wait_idle(600.0)
            worker_wait_s += time.perf_counter() - w1
            worker_cpu += (live.worker_stats() or {}).get("fit_cpu_s", 0.0) - f0
            fresh_1h.append(_fresh_share(live, keys, live_models.TIERS[0], now + 45.0, 1))
        end_now = float(t0 + ticks * STEP_S) + 45.0
        freshness = {
            tier.name: {
                f"within_{n}_cycle{'s' if n > 1 else ''}": _fresh_share(
                    live, keys, tier, end_now, n
                )
                for n in (1, 5)
            }
            for tier in live.tiers
        }
        fitted = {
            tier.name: round(
                sum(1 for key in keys if _fitted_model(live.state(key, tier))) / max(len(keys), 1),
                4,
            )
            for tier in live.tiers
        }
        ok = sum(1 for key in keys if live.state(key, live_models.TIERS[0]).status == "ok")
        worker_rss = _children_rss_mb()
        one_key = keys[0]
        q0 = time.perf_counter()
        services.store.query([one_key], end_s - 86400.0, float(end_s), 1000)
        store_24h_ms = (time.perf_counter() - q0) * 1000.0
        worker_stats = live.worker_stats()
    finally:
        stop(services)
        shutil.rmtree(data_dir, ignore_errors=True)
    cycle_cpu_s = float(np.mean(cycle_cpu))
    sim_hours = ticks * STEP_S / 3600.0
    model_cpu_per_h = model_cpu / sim_hours
    worker_cpu_per_h = worker_cpu / sim_hours
    cpu_per_h = cycle_cpu_s * 3600.0 / STEP_S + model_cpu_per_h + worker_cpu_per_h
    return {
        "series": n,
        "series_read": series,
        "catchup": catchup,
        "cycle_cpu_s_mean": round(cycle_cpu_s, 4),
        "cycle_cpu_s_max": round(max(cycle_cpu), 4),
        "collect_wall_s_mean": round(float(np.mean(collect_wall)), 4),
        "forecast_job_cpu_s_per_h": round(model_cpu_per_h, 1),
        "fit_worker_cpu_s_per_h": round(worker_cpu_per_h, 1),
        "fit_worker_wait_wall_s": round(worker_wait_s, 1),
        "fit_worker": worker_stats,
        "forecast_budget_s": budget_s,
        "refits_per_h": round(refits / sim_hours),
        "models_due_per_h": n * len(live.tiers) * 3600 / live.refit_every_s,
        "cpu_s_per_refit": round((model_cpu + worker_cpu) / max(refits, 1), 4),
        # series whose every model could be refit each FORECAST_REFIT_S at this rate
        "series_forecast_in_time": min(
            n, int(refits / sim_hours / (len(live.tiers) * 3600 / live.refit_every_s))
        ),
        "series_with_1h_forecast": ok,
        # share of series whose forecast was made no more than N cycles (60 s) ago
        "forecast_fresh_share": freshness,
        "forecast_fresh_1h_within_1_cycle_min": round(min(fresh_1h), 4),
        # share of series served a fitted model (not the fast start's last value)
        "fitted_share": fitted,
        "cpu_s_per_hour": round(cpu_per_h, 1),
        "cpu_s_per_series_per_hour": round(cpu_per_h / n, 3),
        "core_share": round(cpu_per_h / 3600.0, 4),
        "cycle_share_of_interval": round(cycle_cpu_s / STEP_S, 4),
        "rss_mb": round(rss_mb(), 1),
        "fit_worker_rss_mb": round(worker_rss, 1),
        "store_24h_query_ms": round(store_24h_ms, 2),
    }


def _fresh_share(live, keys: list[str], tier, now: float, cycles: int) -> float:
    """The share of ``keys`` whose ``tier`` forecast was made at most ``cycles`` × 60 s
    before ``now``."""
    fresh = 0
    for key in keys:
        made = live.state(key, tier).forecast_made_at
        if made is not None and now - made <= cycles * STEP_S:
            fresh += 1
    return round(fresh / max(len(keys), 1), 4)


def _fitted_model(state) -> bool:
    return state.status == "ok" and not (state.accuracy or {}).get("fast_start", True)


def _children_rss_mb() -> float:
    import psutil

    return sum(c.memory_info().rss for c in psutil.Process().children(recursive=True)) / 1e6


def query_24h_ms(prometheus: str, end_s: int, repeats: int = 5) -> float:
    import requests

    session = requests.Session()
    session.trust_env = False
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        resp = session.get(
            f"{prometheus}/api/v1/query_range",
            params={
                "query": 'fleet_cpu_percent{instance="host-0007"}',
                "start": end_s - 86400,
                "end": end_s,
                "step": STEP_S,
            },
            timeout=30,
        )
        resp.raise_for_status()
        assert len(resp.json()["data"]["result"][0]["values"]) == 1441
        times.append((time.perf_counter() - t0) * 1000.0)
    return round(float(np.median(times)), 2)


def push_bench(repeats: int = 5) -> dict:
    """POST /api/samples with 10,000 samples to a real monitor; wall time per request.

    Each request holds new timestamps (100 targets x 100 points), so all 10,000 are stored.
    """
    now = time.time()
    bodies = [
        json.dumps(
            {
                "samples": [
                    {
                        "timestamp": now - 86_400 * (k + 1) + (i // 100) * 6,
                        "target": f"host-{i % 100:03d}",
                        "metric": "requests_per_s",
                        "value": float(i % 97),
                    }
                    for i in range(10_000)
                ]
            }
        ).encode()
        for k in range(repeats)
    ]
    walls = []
    with tempfile.TemporaryDirectory() as tmp, monitor(Path(tmp), interval_s=1.0) as (_, base):
        for body in bodies:
            request = urllib.request.Request(
                f"{base}/api/samples",
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            t0 = time.perf_counter()
            with OPENER.open(request, timeout=30) as resp:
                answer = json.loads(resp.read())
            walls.append(time.perf_counter() - t0)
            assert answer["stored"] == 10_000, answer
        # the anomaly scores and alert rules run after the answer, on a background thread
        done_at = time.perf_counter()
        scoring: dict = {}
        while time.perf_counter() - done_at < 300:
            with OPENER.open(f"{base}/api/system/health", timeout=30) as resp:
                scoring = json.loads(resp.read()).get("pushed_scoring") or {}
            if not scoring or scoring["batches"] + scoring["dropped_batches"] >= repeats:
                break
            time.sleep(0.2)
        drain_s = time.perf_counter() - done_at
    return {
        "samples_per_request": 10_000,
        "body_bytes": len(bodies[0]),
        "wall_s": [round(w, 3) for w in walls],
        "wall_s_median": round(float(np.median(walls)), 3),
        "wall_s_max": round(max(walls), 3),
        "target_s": 1.0,
        # after the last answer: until every batch was scored (10,000 points each)
        "scoring_drain_s": round(drain_s, 2),
        "scoring": scoring,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--max-series", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=10, help="60-s cycles measured per N")
    parser.add_argument("--catchup-h", type=float, default=6.0)
    parser.add_argument(
        "--forecast-budget-s", type=float, default=2.0, help="FORECAST_BUDGET_S of the monitor"
    )
    parser.add_argument("--no-push", action="store_true", help="skip the POST /api/samples part")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the per-N child
    parser.add_argument("--prometheus", help=argparse.SUPPRESS)
    parser.add_argument("--end", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        run = run_one(
            args.prometheus, args.one, args.ticks, args.catchup_h, args.end, args.forecast_budget_s
        )
        print(json.dumps(run))
        return 0
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}: skipping", file=sys.stderr)
        return 0
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            print(
                f"{tool} missing: apt-get install prometheus (make test does it)", file=sys.stderr
            )
            return 1
    if max(args.series) > args.max_series:
        parser.error(f"--series must be <= --max-series ({args.max_series})")
    end_s = math.floor(time.time() / STEP_S) * STEP_S
    result: dict = {"step_s": STEP_S, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-fleet-prom-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        samples = write_openmetrics(work / "fleet.om", args.max_series, end_s, 24)
        t1 = time.perf_counter()
        subprocess.run(
            [
                "promtool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(work / "fleet.om"),
                str(work / "tsdb"),
            ],
            check=True,
            capture_output=True,
        )
        t2 = time.perf_counter()
        (work / "fleet.om").unlink()
        result["backfill"] = {
            "series": args.max_series,
            "samples": samples,
            "write_openmetrics_s": round(t1 - t0, 1),
            "promtool_s": round(t2 - t1, 1),
        }
        print(
            f"backfill: {samples:,} samples of {args.max_series} series "
            f"(OpenMetrics {t1 - t0:.1f} s, promtool {t2 - t1:.1f} s)",
            flush=True,
        )
        proc, prometheus = start_prometheus(work, work / "tsdb")
        try:
            result["prometheus_24h_query_one_series_ms"] = query_24h_ms(prometheus, end_s)
            runs = []
            for n in args.series:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--one",
                        str(n),
                        "--prometheus",
                        prometheus,
                        "--end",
                        str(end_s),
                        "--ticks",
                        str(args.ticks),
                        "--catchup-h",
                        str(args.catchup_h),
                        "--forecast-budget-s",
                        str(args.forecast_budget_s),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                run = json.loads(out.stdout.strip().splitlines()[-1])
                runs.append(run)
                print(
                    f"N={n:5d}: cycle {run['cycle_cpu_s_mean']:.3f} CPU-s/tick, forecast job "
                    f"{run['forecast_job_cpu_s_per_h']:.0f} CPU-s/h, {run['core_share']:.3f} "
                    f"core, {run['cpu_s_per_series_per_hour']:.3f} CPU-s/series/h, "
                    f"RSS {run['rss_mb']:.0f} MB, catch-up {run['catchup']['wall_s']:.1f} s; "
                    f"{run['refits_per_h']} refits/h of {run['models_due_per_h']:.0f} due; "
                    f"1-h forecast fresh this cycle: "
                    f"{run['forecast_fresh_share']['1h']['within_1_cycle']:.0%} of series "
                    f"(fitted {run['fitted_share']['1h']:.0%}); worker "
                    f"{run['fit_worker_cpu_s_per_h']:.0f} CPU-s/h",
                    flush=True,
                )
        finally:
            stop_process(proc)
    ns = np.array([r["series"] for r in runs], dtype=float)
    rss = np.array([r["rss_mb"] for r in runs])
    if len(ns) >= 2:
        slope, intercept = np.polyfit(ns, rss, 1)
        result["rss_mb_per_series"] = round(float(slope), 4)
        result["rss_mb_intercept"] = round(float(intercept), 1)
    result["runs"] = runs
    if not args.no_push:
        result["push"] = push_bench()
    biggest = runs[-1]
    result["target_1000_at_60s_under_one_core"] = {
        "series": biggest["series"],
        "core_share": biggest["core_share"],
        "met": biggest["series"] >= 1000 and biggest["core_share"] < 1.0,
    }
    print(
        f"24 h query of one series (Prometheus, 1,441 points): "
        f"{result['prometheus_24h_query_one_series_ms']} ms; "
        f"store 24 h → 1,000 points: {biggest['store_24h_query_ms']} ms"
    )
    if "rss_mb_per_series" in result:
        print(f"RSS ≈ {result['rss_mb_intercept']} MB + {result['rss_mb_per_series']} MB/series")
    push = result.get("push")
    if push is not None:
        print(
            f"push: POST /api/samples, 10,000 samples: median {push['wall_s_median']} s, "
            f"max {push['wall_s_max']} s (target 1 s); scored "
            f"{push['scoring'].get('points', 0)} points {push['scoring_drain_s']} s after "
            "the last answer"
        )
    name = "fleet" if args.forecast_budget_s == 2.0 else f"fleet_budget{args.forecast_budget_s:g}"
    print(f"wrote {write_json(name, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
