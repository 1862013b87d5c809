"""Benchmark the sampler's own cost: CPU seconds per minute and RSS of the monitor.

Runs, side by side over the same window:

- ``main.py --monitor --interval 1`` (scheduler, psutil, HTTP + SQL probes, SQLite
  appends, waitress idle; no browser attached), and
- the floor: a bare Python loop reading the same psutil sources once a second.

Target: the monitor at ≤ 1 % of one core (≤ 0.6 CPU-s per minute) and ≤ 150 MB RSS.

    .venv/bin/python bench/bench_sampler.py                 # 60 s window
    .venv/bin/python bench/bench_sampler.py --seconds 300   # longer, steadier figures

Writes bench/out/bench_sampler.json.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, get_json, monitor, stop_process, write_json  # noqa: E402

TARGET_CPU_PERCENT = 1.0
TARGET_RSS_MB = 150.0


def bare_loop(interval_s: float, data_dir: str) -> None:
    """The floor: read the monitor's psutil sources every ``interval_s``, nothing else."""
    psutil.cpu_times(percpu=True)
    next_t = time.monotonic()
    while True:
        psutil.cpu_times(percpu=True)
        psutil.virtual_memory()
        psutil.swap_memory()
        psutil.disk_usage(data_dir)
        psutil.disk_io_counters()
        psutil.net_io_counters()
        psutil.getloadavg()
        len(psutil.pids())
        next_t += interval_s
        time.sleep(max(0.0, next_t - time.monotonic()))


def cpu_s(proc: psutil.Process) -> float:
    """User + system CPU seconds of ``proc`` and its live children."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_mb(proc: psutil.Process) -> float:
    return proc.memory_info().rss / 1e6


def uss_mb(proc: psutil.Process) -> float:
    """Memory only this process holds (RSS minus shared pages), for context."""
    try:
        return proc.memory_full_info().uss / 1e6
    except (psutil.AccessDenied, AttributeError):
        return float("nan")


def heavy_modules(pid: int) -> list[str]:
    """Big native packages mapped into ``pid`` (why RSS is what it is)."""
    names = set()
    try:
        for m in psutil.Process(pid).memory_maps():
            for pkg in ("numpy", "scipy", "pandas", "sklearn", "statsforecast", "numba"):
                if f"/site-packages/{pkg}/" in m.path:
                    names.add(pkg)
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return sorted(names)


def measure(seconds: float, warmup_s: float, interval_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="foresight-bench-sampler-") as tmp:
        data_dir = Path(tmp) / "data"
        with monitor(data_dir, interval_s, log_path=Path(tmp) / "monitor.log") as (mon, base):
            bare = subprocess.Popen([PYTHON, __file__, "--bare-loop", str(interval_s), tmp])
            try:
                time.sleep(warmup_s)  # imports, priming, first ticks are not steady state
                procs = {"monitor": psutil.Process(mon.pid), "bare_psutil_loop": psutil.Process(bare.pid)}
                health0 = get_json(f"{base}/api/system/health")
                start = {k: cpu_s(p) for k, p in procs.items()}
                peak = {k: rss_mb(p) for k, p in procs.items()}
                t0 = time.monotonic()
                while (left := seconds - (time.monotonic() - t0)) > 0:
                    time.sleep(min(5.0, left))
                    for k, p in procs.items():
                        peak[k] = max(peak[k], rss_mb(p))
                    print(f"\r  measuring: {time.monotonic() - t0:5.0f}/{seconds:.0f} s",
                          end="", file=sys.stderr, flush=True)
                print(file=sys.stderr)
                elapsed = time.monotonic() - t0
                end = {k: cpu_s(p) for k, p in procs.items()}
                rss_end = {k: rss_mb(p) for k, p in procs.items()}
                uss_end = {k: uss_mb(p) for k, p in procs.items()}
                mapped = heavy_modules(mon.pid)
                health1 = get_json(f"{base}/api/system/health")
            finally:
                stop_process(bare)
    result: dict = {"seconds": round(elapsed, 1), "interval_s": interval_s, "processes": {}}
    for k in procs:
        used = end[k] - start[k]
        result["processes"][k] = {
            "cpu_s": round(used, 3),
            "cpu_s_per_min": round(used / elapsed * 60, 3),
            "cpu_percent_of_one_core": round(used / elapsed * 100, 3),
            "rss_mb_end": round(rss_end[k], 1),
            "rss_mb_peak": round(peak[k], 1),
            "uss_mb_end": round(uss_end[k], 1),
        }
    result["monitor_native_packages_mapped"] = mapped
    result["monitor_ticks"] = (health1.get("ticks") or 0) - (health0.get("ticks") or 0)
    result["monitor_missed_ticks"] = health1.get("missed_ticks")
    result["monitor_jitter_ms"] = health1.get("jitter_ms")
    result["targets"] = {"cpu_percent_of_one_core": TARGET_CPU_PERCENT, "rss_mb": TARGET_RSS_MB}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--interval", type=float, default=1.0, help="sampling interval (default 1)")
    parser.add_argument("--bare-loop", nargs=2, metavar=("INTERVAL_S", "DIR"),
                        help=argparse.SUPPRESS)  # internal: run the floor process
    args = parser.parse_args()
    if args.bare_loop:
        try:
            bare_loop(float(args.bare_loop[0]), args.bare_loop[1])
        except KeyboardInterrupt:
            pass
        return 0
    print(f"bench_sampler: --monitor --interval {args.interval:g} vs a bare psutil loop, "
          f"{args.seconds:g} s window after {args.warmup:g} s warm-up, no browser")
    r = measure(args.seconds, args.warmup, args.interval)
    path = write_json("bench_sampler", r)
    m, b = r["processes"]["monitor"], r["processes"]["bare_psutil_loop"]
    print(f"  {'':<24}{'monitor':>12}{'bare loop':>12}{'ratio':>8}")
    for key, label in (("cpu_s_per_min", "CPU s / minute"),
                       ("cpu_percent_of_one_core", "% of one core"),
                       ("rss_mb_peak", "RSS peak (MB)"),
                       ("uss_mb_end", "USS at end (MB)")):
        ratio = m[key] / b[key] if b[key] else float("inf")
        print(f"  {label:<24}{m[key]:>12.3f}{b[key]:>12.3f}{ratio:>7.1f}x")
    print(f"  native packages mapped by the monitor: "
          f"{', '.join(r['monitor_native_packages_mapped']) or 'none'}")
    jit = r.get("monitor_jitter_ms") or {}
    print(f"  monitor ticks in window {r['monitor_ticks']}, missed ticks (total) "
          f"{r['monitor_missed_ticks']}, jitter p99 {jit.get('p99')} ms")
    ok_cpu = m["cpu_percent_of_one_core"] <= TARGET_CPU_PERCENT
    ok_rss = m["rss_mb_peak"] <= TARGET_RSS_MB
    print(f"  target ≤ {TARGET_CPU_PERCENT:g} % of one core: {'meets' if ok_cpu else 'MISSES'}; "
          f"≤ {TARGET_RSS_MB:g} MB RSS: {'meets' if ok_rss else 'MISSES'}")
    print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
