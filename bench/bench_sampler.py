"""Benchmark the sampler's own cost: CPU seconds per minute and RSS of the monitor.

Runs, side by side over the same window:

- ``main.py --monitor --interval 1`` (scheduler, psutil, HTTP + SQL probes, SQLite
  appends, waitress idle, plus whatever extensions are installed — live forecasting,
  scaling and alerts; no browser attached),
- the same monitor with ``FORESIGHT_LIVE_MODELS=0 FORESIGHT_LIVE_SCALING=0
  FORESIGHT_LIVE_ALERTS=0``: the
  sampler, store and dashboard alone ("monitor_core"), and
- the floor: a bare Python loop reading the same psutil sources once a second.

Target: the monitor at ≤ 1 % of one core (≤ 0.6 CPU-s per minute) and ≤ 150 MB RSS.

The top-processes table is sampled only while someone asks for it; ``--watch-processes``
asks the full monitor for ``/api/processes`` every 5 s through the window, as an open
dashboard tab does, so its cost is in the full monitor's figure.

Both monitors start on a store seeded with ``--seed-hours`` (default 6) of 1-s history
for every metric, so the full monitor chooses and fits its models (the 5-minute and
1-hour tiers) inside the measured window, as after a restart on a running host; ``0``
starts them empty. CPU counts each process and all its children (live ones, and those
that exited: the fit worker is a short-lived child), and the full monitor's children
(its fit worker) are also shown apart, with their peak RSS.

    .venv/bin/python bench/bench_sampler.py                 # 60 s window
    .venv/bin/python bench/bench_sampler.py --seconds 300   # longer, steadier figures
    .venv/bin/python bench/bench_sampler.py --seed-hours 0  # fresh, empty stores
    .venv/bin/python bench/bench_sampler.py --watch-processes
    .venv/bin/python bench/bench_sampler.py --seconds 120 --compare-tree /path/to/main

``--compare-tree PATH`` runs that checkout's full and core monitors too (with its own
``.venv``), in the same window on copies of the same seeded store, and reports this
tree's CPU and RSS over the other's: a before/after figure on a shared, noisy machine.

Writes bench/out/bench_sampler.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PYTHON,
    ROOT,
    free_port,
    get_json,
    monitor,
    progress,
    stop_process,
    wait_http,
    write_json,
)

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
        psutil.disk_io_counters(perdisk=True)
        psutil.net_io_counters(pernic=True)
        psutil.getloadavg()
        len(psutil.pids())
        next_t += interval_s
        time.sleep(max(0.0, next_t - time.monotonic()))


def core_monitor(port: int, data_dir: str, interval_s: float) -> int:
    """Run ``--monitor`` without the extension modules (in a subprocess)."""
    os.environ.update(
        FORESIGHT_LIVE_MODELS="0", FORESIGHT_LIVE_SCALING="0", FORESIGHT_LIVE_ALERTS="0"
    )
    sys.path.insert(0, str(ROOT))
    from foresight.cli import monitor

    args = argparse.Namespace(
        host="127.0.0.1",
        port=port,
        interval=interval_s,
        data_dir=Path(data_dir),
        retention_days=7.0,
    )
    return monitor.run(args)


def cpu_s(proc: psutil.Process) -> float:
    """User + system CPU seconds of ``proc``, its exited (reaped) and its live children."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def own_cpu_s(proc: psutil.Process) -> float:
    """User + system CPU seconds of ``proc`` alone (the monitor without its fit worker)."""
    try:
        t = proc.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return t.user + t.system


def children_cpu_s(proc: psutil.Process) -> float:
    """CPU seconds of ``proc``'s children alone (the fit worker), exited or live."""
    try:
        t = proc.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    total = t.children_user + t.children_system
    for p in proc.children(recursive=True):
        try:
            c = p.cpu_times()
            total += c.user + c.system + c.children_user + c.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def children_rss_mb(proc: psutil.Process) -> float:
    """RSS of ``proc``'s live children together (the fit worker while it runs)."""
    total = 0.0
    for p in proc.children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 1e6


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


def watch_processes(base: str, stop: threading.Event, every_s: float = 5.0) -> None:
    """Ask for the process table every ``every_s``, as an open dashboard tab does."""
    while not stop.is_set():
        get_json(f"{base}/api/processes")
        stop.wait(every_s)


def seed_stores(folders: list[Path], seed_hours: float) -> int:
    """Seed the first folder's store, then copy it to the others: identical stores."""
    from bench_api import seed_store

    for folder in folders:
        folder.mkdir(parents=True)
    seeded = seed_store(folders[0], seed_hours)
    for folder in folders[1:]:
        for f in folders[0].iterdir():
            shutil.copy2(f, folder / f.name)
    return seeded


def start_core(
    root: Path, python: str, data_dir: Path, interval_s: float, log_path: Path
) -> tuple[subprocess.Popen, int]:
    """The core-only monitor of the checkout at ``root`` (its own bench_sampler.py)."""
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                python,
                str(root / "bench" / "bench_sampler.py"),
                "--core-monitor",
                str(port),
                str(data_dir),
                str(interval_s),
            ],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, port


def measure(
    seconds: float,
    warmup_s: float,
    interval_s: float,
    seed_hours: float,
    watch: bool = False,
    compare: Path | None = None,
) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="foresight-bench-sampler-") as tmp,
        ExitStack() as stack,
    ):
        tmp_path = Path(tmp)
        names = ["data", "core-data"] + (["base-data", "base-core-data"] if compare else [])
        folders = [tmp_path / n for n in names]
        seeded = seed_stores(folders, seed_hours) if seed_hours > 0 else 0
        base_python = str(compare / ".venv" / "bin" / "python") if compare else ""
        mon, base = stack.enter_context(
            monitor(folders[0], interval_s, log_path=tmp_path / "monitor.log")
        )
        children: dict[str, subprocess.Popen] = {"monitor": mon}
        ports: dict[str, int] = {}
        if compare:
            base_mon, _ = stack.enter_context(
                monitor(
                    folders[2],
                    interval_s,
                    log_path=tmp_path / "base-monitor.log",
                    root=compare,
                    python=base_python,
                )
            )
            children["base_monitor"] = base_mon
        children["monitor_core"], ports["monitor_core"] = start_core(
            ROOT, PYTHON, folders[1], interval_s, tmp_path / "core.log"
        )
        if compare:
            children["base_monitor_core"], ports["base_monitor_core"] = start_core(
                compare, base_python, folders[3], interval_s, tmp_path / "base-core.log"
            )
        bare = subprocess.Popen([PYTHON, __file__, "--bare-loop", str(interval_s), tmp])
        children["bare_psutil_loop"] = bare
        for key in ports:
            stack.callback(stop_process, children[key])
        stack.callback(stop_process, bare)
        stop_watch = threading.Event()
        stack.callback(stop_watch.set)
        watcher = threading.Thread(target=watch_processes, args=(base, stop_watch), daemon=True)
        for key, port in ports.items():
            wait_http(
                f"http://127.0.0.1:{port}/api/system/health", timeout_s=120.0, proc=children[key]
            )
        if watch:
            watcher.start()
        time.sleep(warmup_s)  # imports, priming, first ticks are not steady state
        load0 = os.getloadavg()
        procs = {k: psutil.Process(p.pid) for k, p in children.items()}
        health0 = get_json(f"{base}/api/system/health")
        start = {k: cpu_s(p) for k, p in procs.items()}
        worker0 = children_cpu_s(procs["monitor"])
        own0 = {k: own_cpu_s(p) for k, p in procs.items()}
        peak = {k: rss_mb(p) for k, p in procs.items()}
        worker_peak = children_rss_mb(procs["monitor"])
        t0 = time.monotonic()
        while (left := seconds - (time.monotonic() - t0)) > 0:
            time.sleep(min(1.0, left))
            for k, p in procs.items():
                peak[k] = max(peak[k], rss_mb(p))
            worker_peak = max(worker_peak, children_rss_mb(procs["monitor"]))
            progress(f"measuring: {time.monotonic() - t0:5.0f}/{seconds:.0f} s")
        progress()
        elapsed = time.monotonic() - t0
        end = {k: cpu_s(p) for k, p in procs.items()}
        worker1 = children_cpu_s(procs["monitor"])
        own1 = {k: own_cpu_s(p) for k, p in procs.items()}
        rss_end = {k: rss_mb(p) for k, p in procs.items()}
        uss_end = {k: uss_mb(p) for k, p in procs.items()}
        mapped = heavy_modules(mon.pid)
        health1 = get_json(f"{base}/api/system/health")
    result: dict = {
        "seconds": round(elapsed, 1),
        "interval_s": interval_s,
        "watch_processes": watch,
        "seed_hours": seed_hours,
        "seeded_values": seeded,
        "load_average": {"start": list(load0), "end": list(os.getloadavg())},
        "processes": {},
    }
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
    # The process itself, its children left out: the "≤ 1 % of a core" is the
    # monitor's own figure (the fit worker is a short-lived child, shown apart).
    result["own_process"] = {
        k: {
            "cpu_s_per_min": round((own1[k] - own0[k]) / elapsed * 60, 3),
            "cpu_percent_of_one_core": round((own1[k] - own0[k]) / elapsed * 100, 3),
        }
        for k in procs
    }
    result["monitor_children"] = {
        "cpu_s": round(worker1 - worker0, 3),
        "cpu_s_per_min": round((worker1 - worker0) / elapsed * 60, 3),
        "rss_mb_peak": round(worker_peak, 1),
    }
    m, c = result["processes"]["monitor"], result["processes"]["monitor_core"]
    result["monitor_vs_core"] = {
        key: round(m[key] / c[key], 3) if c[key] else None
        for key in ("cpu_s_per_min", "rss_mb_peak", "uss_mb_end")
    }
    if compare:
        result["compare_tree"] = str(compare)
        p = result["processes"]
        result["new_vs_base"] = {
            name: {
                key: round(p[name][key] / p[f"base_{name}"][key], 3)
                if p[f"base_{name}"][key]
                else None
                for key in ("cpu_s_per_min", "rss_mb_peak")
            }
            for name in ("monitor", "monitor_core")
        }
        own = result["own_process"]
        for name in ("monitor", "monitor_core"):
            old = own[f"base_{name}"]["cpu_s_per_min"]
            result["new_vs_base"][name]["own_cpu_s_per_min"] = (
                round(own[name]["cpu_s_per_min"] / old, 3) if old else None
            )
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
    parser.add_argument(
        "--watch-processes",
        action="store_true",
        help="GET /api/processes every 5 s on the full monitor (an open tab's top table)",
    )
    parser.add_argument(
        "--seed-hours",
        type=float,
        default=6.0,
        help="hours of 1-s history in both stores before the start (default 6; 0: empty)",
    )
    parser.add_argument(
        "--compare-tree",
        type=Path,
        metavar="PATH",
        help="also run the full and core monitors of the checkout at PATH (its .venv) in "
        "the same window, on copies of the same seeded store; prints new/base ratios",
    )
    parser.add_argument("--name", default="bench_sampler", help="output name (bench/out/NAME.json)")
    parser.add_argument(
        "--bare-loop", nargs=2, metavar=("INTERVAL_S", "DIR"), help=argparse.SUPPRESS
    )  # internal: run the floor process
    parser.add_argument(
        "--core-monitor", nargs=3, metavar=("PORT", "DIR", "INTERVAL_S"), help=argparse.SUPPRESS
    )  # internal: the monitor without extensions
    args = parser.parse_args()
    if args.core_monitor:
        port, data_dir, interval = args.core_monitor
        return core_monitor(int(port), data_dir, float(interval))
    if args.bare_loop:
        try:
            bare_loop(float(args.bare_loop[0]), args.bare_loop[1])
        except KeyboardInterrupt:
            pass
        return 0
    print(
        f"bench_sampler: --monitor --interval {args.interval:g} (full, and core only without "
        f"extensions) vs a bare psutil loop, {args.seconds:g} s window after "
        f"{args.warmup:g} s warm-up, no browser, {args.seed_hours:g} h of history seeded"
        + ("; /api/processes every 5 s on the full monitor" if args.watch_processes else "")
    )
    compare = args.compare_tree.resolve() if args.compare_tree else None
    if compare is not None and not (compare / ".venv" / "bin" / "python").exists():
        print(f"bench_sampler: --compare-tree {compare} has no .venv/bin/python", file=sys.stderr)
        return 2
    r = measure(
        args.seconds, args.warmup, args.interval, args.seed_hours, args.watch_processes, compare
    )
    path = write_json(args.name, r)
    m, c, b = (r["processes"][k] for k in ("monitor", "monitor_core", "bare_psutil_loop"))
    print(
        f"  {'':<18}{'monitor':>10}{'core only':>11}{'bare loop':>11}"
        f"{'monitor/bare':>14}{'core/bare':>11}"
    )
    for key, label in (
        ("cpu_s_per_min", "CPU s / minute"),
        ("cpu_percent_of_one_core", "% of one core"),
        ("rss_mb_peak", "RSS peak (MB)"),
        ("uss_mb_end", "USS at end (MB)"),
    ):

        def ratio(x: float, key: str = key) -> float:
            return x / b[key] if b[key] else float("inf")

        print(
            f"  {label:<18}{m[key]:>10.3f}{c[key]:>11.3f}{b[key]:>11.3f}"
            f"{ratio(m[key]):>13.1f}x{ratio(c[key]):>10.1f}x"
        )
    own = r["own_process"]
    print(
        f"  {'own process only':<18}{own['monitor']['cpu_s_per_min']:>10.3f}"
        f"{own['monitor_core']['cpu_s_per_min']:>11.3f}"
        f"{own['bare_psutil_loop']['cpu_s_per_min']:>11.3f}   CPU s / minute, children left out"
    )
    own_ratio = (
        own["monitor"]["cpu_s_per_min"] / own["monitor_core"]["cpu_s_per_min"]
        if own["monitor_core"]["cpu_s_per_min"]
        else float("inf")
    )
    v, w = r["monitor_vs_core"], r["monitor_children"]
    print(
        f"  full monitor / core only: CPU {v['cpu_s_per_min']}x, RSS peak {v['rss_mb_peak']}x, "
        f"USS {v['uss_mb_end']}x; its children (fit worker): {w['cpu_s_per_min']:.3f} CPU-s "
        f"per minute (in the monitor's CPU above), RSS peak {w['rss_mb_peak']:.1f} MB"
    )
    print(
        f"  native packages mapped by the monitor: "
        f"{', '.join(r['monitor_native_packages_mapped']) or 'none'}"
    )
    jit = r.get("monitor_jitter_ms") or {}
    print(
        f"  monitor ticks in window {r['monitor_ticks']}, missed ticks (total) "
        f"{r['monitor_missed_ticks']}, jitter p99 {jit.get('p99')} ms"
    )
    print(f"  monitor's own process / core only: CPU {own_ratio:.2f}x")
    mine = own["monitor"]["cpu_percent_of_one_core"]
    print(
        f"  monitor's own process (fit worker apart): {mine:.2f} % of one core, ≤ "
        f"{TARGET_CPU_PERCENT:g} % {'meets' if mine <= TARGET_CPU_PERCENT else 'MISSES'}"
    )
    for name, p in (("monitor", m), ("core only", c)):
        ok_cpu = p["cpu_percent_of_one_core"] <= TARGET_CPU_PERCENT
        ok_rss = p["rss_mb_peak"] <= TARGET_RSS_MB
        print(
            f"  {name}: ≤ {TARGET_CPU_PERCENT:g} % of one core "
            f"{'meets' if ok_cpu else 'MISSES'}; ≤ {TARGET_RSS_MB:g} MB RSS "
            f"{'meets' if ok_rss else 'MISSES'}"
        )
    if compare is not None:
        p = r["processes"]
        print(f"  this tree vs {compare} (same window, copies of one seeded store):")
        for name, label in (("monitor", "full monitor"), ("monitor_core", "core only")):
            new, old = p[name], p[f"base_{name}"]
            ratio = r["new_vs_base"][name]
            print(
                f"    {label:<13} CPU s/min {new['cpu_s_per_min']:.3f} vs "
                f"{old['cpu_s_per_min']:.3f} (new/base {ratio['cpu_s_per_min']}x); "
                f"RSS peak {new['rss_mb_peak']:.1f} vs {old['rss_mb_peak']:.1f} MB"
            )
            mine, theirs = r["own_process"][name], r["own_process"][f"base_{name}"]
            print(
                f"    {'':<13} own process (children apart) {mine['cpu_s_per_min']:.3f} vs "
                f"{theirs['cpu_s_per_min']:.3f} (new/base {ratio['own_cpu_s_per_min']}x)"
            )
    print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
