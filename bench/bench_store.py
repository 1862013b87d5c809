"""Benchmark the SQLite history: N days of 1-s samples of every metric in a temp store.

Reports file size, bulk insert rate (``MetricStore.append_many`` in 6-hour batches),
the per-tick append cost (``MetricStore.append``, the sampler's path), and read times:
24 h → 1,000 points (target ≤ 100 ms), 7 d → 1,000 points, and the live page's
5 min → 300 points, each for one metric and for all metrics.

    .venv/bin/python bench/bench_store.py              # 7 days ≈ 9.7 M values, a few minutes
    .venv/bin/python bench/bench_store.py --days 1     # quick run
    .venv/bin/python bench/bench_store.py --keep DIR   # keep the store file for inspection

Writes bench/out/bench_store.json.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from foresight.core.catalog import METRIC_CATALOG  # noqa: E402
from foresight.store.metric_store import MetricStore  # noqa: E402

OUT = ROOT / "bench" / "out"
CHUNK_S = 6 * 3600
TARGET_24H_MS = 100.0


def metric_names(cores: int) -> list[str]:
    """Every catalog metric plus ``cores`` per-core CPU metrics."""
    return list(METRIC_CATALOG) + [f"cpu_core{i}_percent" for i in range(cores)]


def synthetic_chunk(
    names: list[str], t0: float, n: int, rng: np.random.Generator
) -> list[tuple[float, dict[str, float]]]:
    """``n`` one-second ticks from ``t0``: a daily cycle plus noise for every metric."""
    ts = t0 + np.arange(n, dtype=float)
    daily = np.sin(2 * math.pi * (ts % 86400) / 86400)
    cols = {}
    for i, name in enumerate(names):
        info = METRIC_CATALOG.get(name)
        unit = info.unit if info else "%"
        scale = {"%": 40.0, "B/s": 2e6, "ms": 20.0, "GB": 50.0}.get(unit, 5.0)
        base = scale * (1 + 0.3 * daily + 0.05 * np.sin(ts / (300 + 37 * i)))
        vals = np.abs(base + rng.normal(0, 0.1 * scale, n))
        if unit == "%":
            vals = np.clip(vals, 0, 100)
        if name == "api_success":  # a 0/1 flag: almost always up
            vals = (rng.random(n) > 0.001).astype(float)
        cols[name] = np.round(vals, 3).tolist()
    tl = ts.tolist()
    return [(tl[j], {name: cols[name][j] for name in names}) for j in range(n)]


def timed_ms(fn, repeat: int) -> dict[str, float]:
    """Run ``fn`` ``repeat`` times; return min/median/max wall time in ms."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return {
        "min_ms": round(min(times), 2),
        "median_ms": round(statistics.median(times), 2),
        "max_ms": round(max(times), 2),
    }


def run(days: float, cores: int, repeat: int, keep: Path | None) -> dict:
    names = metric_names(cores)
    total_s = int(days * 86400)
    tmp = Path(tempfile.mkdtemp(prefix="foresight-bench-store-"))
    path = (keep or tmp) / "foresight.db"
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    rng = np.random.default_rng(42)
    end = math.floor(time.time())
    start = end - total_s
    store = MetricStore(path, retention_days=days + 1)
    try:
        insert_s = 0.0
        values = 0
        for c0 in range(0, total_s, CHUNK_S):
            n = min(CHUNK_S, total_s - c0)
            rows = synthetic_chunk(names, start + c0, n, rng)
            t = time.perf_counter()
            values += store.append_many(rows)
            insert_s += time.perf_counter() - t
            done = (c0 + n) / total_s
            if sys.stderr.isatty() or (c0 // CHUNK_S) % 8 == 7 or done >= 1:
                end_ch = "" if sys.stderr.isatty() and done < 1 else "\n"
                print(
                    f"\r  inserting: {done:6.1%}  {values:,} values  "
                    f"{values / insert_s:,.0f} values/s",
                    end=end_ch,
                    file=sys.stderr,
                    flush=True,
                )
        store.close()
        store = MetricStore(path, retention_days=days + 1)  # cold-ish: fresh connection

        # The sampler's path: one transaction per tick with every metric.
        tick_values = {n: 1.0 for n in names}
        t_tick = end + 1.0

        def one_tick() -> None:
            nonlocal t_tick
            store.append(t_tick, tick_values)
            t_tick += 1.0

        tick = timed_ms(one_tick, 200)

        one = ["cpu_percent"]
        queries = {}
        cases = [
            ("24h_1000pts", 86400, 1000),
            ("7d_1000pts", 7 * 86400, 1000),
            ("5min_300pts", 300, 300),
        ]
        for label, span, limit in cases:
            span = min(span, total_s)
            for which, metrics in (("one_metric", one), ("all_metrics", None)):
                first = {}

                def q(metrics=metrics, span=span, limit=limit, first=first) -> None:
                    first["r"] = store.query(metrics, end - span, end, limit=limit)

                stats = timed_ms(q, repeat)
                stats["points_per_metric"] = max(len(p) for p in first["r"].values())
                stats["metrics"] = len(first["r"])
                stats["span_s"] = span
                queries[f"{label}_{which}"] = stats
        size = store.size_bytes()
    finally:
        store.close()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return {
        "days": days,
        "metrics": len(names),
        "values": values,
        "file_size_bytes": size,
        "bytes_per_value": round(size / max(values, 1), 1),
        "bulk_insert_s": round(insert_s, 2),
        "bulk_insert_values_per_s": round(values / insert_s),
        "append_tick_ms": tick,
        "queries": queries,
        "target_24h_query_ms": TARGET_24H_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0, help="days of 1-s history (default 7)")
    parser.add_argument(
        "--cores", type=int, default=2, help="per-core CPU metrics to include (default 2)"
    )
    parser.add_argument("--repeat", type=int, default=7, help="runs per query (default 7)")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the store into DIR and keep it",
    )
    args = parser.parse_args()
    if not 0 < args.days <= 30:
        parser.error(f"--days must be in (0, 30] (got {args.days})")
    print(
        f"bench_store: {args.days:g} days of 1-s samples, {len(metric_names(args.cores))} metrics"
    )
    r = run(args.days, args.cores, args.repeat, args.keep)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_store.json").write_text(json.dumps(r, indent=2) + "\n")
    print(f"  values stored       {r['values']:>14,}")
    print(
        f"  file size           {r['file_size_bytes'] / 1e6:>11,.1f} MB "
        f"({r['bytes_per_value']} B/value)"
    )
    print(
        f"  bulk insert         {r['bulk_insert_values_per_s']:>14,} values/s "
        f"({r['bulk_insert_s']} s)"
    )
    print(
        f"  one tick append     {r['append_tick_ms']['median_ms']:>11} ms median "
        f"({r['metrics']} values, 1 transaction)"
    )
    print("  range query (median of runs)            one metric   all metrics   ratio")
    for label in ("24h_1000pts", "7d_1000pts", "5min_300pts"):
        a = r["queries"][f"{label}_one_metric"]
        b = r["queries"][f"{label}_all_metrics"]
        print(
            f"    {label:<12} ({a['points_per_metric']:>4} pts/metric)   "
            f"{a['median_ms']:>8.1f} ms   {b['median_ms']:>8.1f} ms   "
            f"{b['median_ms'] / max(a['median_ms'], 1e-9):>5.1f}x"
        )
    q = r["queries"]["24h_1000pts_all_metrics"]
    q24 = q["median_ms"]
    verdict = "meets" if q24 <= TARGET_24H_MS else "MISSES"
    span = (
        "24 h" if q["span_s"] >= 86400 else f"{q['span_s'] / 3600:g} h (--days cuts the 24 h span)"
    )
    print(
        f"  {span} → 1,000 points, all {r['metrics']} metrics: {q24:.1f} ms "
        f"({verdict} the ≤ {TARGET_24H_MS:.0f} ms target)"
    )
    print(f"  wrote {OUT / 'bench_store.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
