"""Benchmark the JSON API under load: requests/s and p50/p99 latency with ``wrk``.

In one run, against servers on 127.0.0.1 only:

- the real monitor (``main.py --monitor``, waitress) serving
  ``GET /api/metrics?limit=300`` for all metrics, over a store seeded with an hour of
  1-s history so every metric returns its full 300 points;
- the same monitor without its extension modules (live forecasting/scaling, whose
  model refits share the process), "core only", over a copy of that store;
- the ceiling: a minimal Flask + waitress app (same thread count) answering a tiny
  ``jsonify`` and, separately, the very same response bytes from memory.

While ``wrk`` measures the full monitor, a thread asks it to refit every model
(``POST /api/train``, every ``--train-every`` s, default 3), so its figure is "during
refits", beside the core-only monitor that has none; how many models were refitted in
that run is printed (from ``GET /api/models``). Both stores hold ``--seed-hours`` (default
6) of 1-s history, enough for the 5-minute and 1-hour tiers to fit on real-sized data.

Target: ≥ 1,000 requests/s with p99 ≤ 25 ms at 10 connections, and the full monitor's
p99 during refits no worse than the core-only monitor's (issue 8).

    .venv/bin/python bench/bench_api.py                       # 10 s per endpoint
    .venv/bin/python bench/bench_api.py --duration 30 --connections 10

Needs ``wrk`` (Debian: apt-get install wrk). Writes bench/out/bench_api.json.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import (
    OPENER,
    PYTHON,
    ROOT,
    free_port,
    get_json,
    monitor,
    stop_process,
    wait_http,
    write_json,
)

TARGET_RPS = 1000.0
TARGET_P99_MS = 25.0
WAITRESS_THREADS = 8  # what monitor.run uses
_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def serve_baseline(port: int, body_path: str) -> None:
    """The ceiling: a minimal Flask app under waitress (run as a subprocess)."""
    import logging

    import waitress
    from flask import Flask, Response, jsonify

    logging.getLogger("waitress").setLevel(logging.ERROR)  # "Task queue depth" under load

    body = Path(body_path).read_bytes()
    app = Flask("baseline")

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    @app.get("/tiny")
    def tiny():
        return jsonify(status="ok", value=42.0, unit="%")

    @app.get("/same-bytes")
    def same_bytes():
        return Response(body, mimetype="application/json")

    waitress.serve(
        app, host="127.0.0.1", port=port, threads=WAITRESS_THREADS, ident="baseline", _quiet=True
    )


def seed_store(data_dir: Path, hours: float) -> int:
    """Fill a fresh store with ``hours`` of 1-s history ending now (all metrics)."""
    import numpy as np
    from bench_store import metric_names, synthetic_chunk

    from foresight.store.metric_store import MetricStore

    n = int(hours * 3600)
    end = math.floor(time.time()) - 1
    rows = synthetic_chunk(metric_names(psutil_cores()), end - n, n, np.random.default_rng(7))
    with MetricStore(data_dir / "foresight.db") as store:
        return store.append_many(rows)


def psutil_cores() -> int:
    import psutil

    return psutil.cpu_count(logical=True) or 1


def parse_wrk(text: str) -> dict:
    """Requests/s, latency percentiles (ms) and error counts from ``wrk --latency``."""
    out: dict = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["requests_per_s"] = float(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        out[f"p{pct}_ms"] = round(float(m.group(1)) * _UNITS_MS[m.group(2)], 3) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", text)
    out["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else None
    return out


def run_wrk(url: str, duration_s: float, connections: int, threads: int) -> dict:
    base = ["wrk", f"-t{threads}", f"-c{connections}", "--latency", "--timeout", "5s"]
    subprocess.run([*base, "-d2s", url], check=True, capture_output=True)  # warm-up
    done = subprocess.run(
        [*base, f"-d{duration_s:g}s", url], check=True, capture_output=True, text=True
    )
    result = parse_wrk(done.stdout)
    result["url"] = url
    return result


def run_wrk_together(
    urls: list[str], duration_s: float, connections: int, threads: int
) -> list[dict]:
    """``run_wrk`` on every url at once (warm-up, then the measured run): the same moments
    of a shared machine's load fall on each."""
    base = ["wrk", f"-t{threads}", f"-c{connections}", "--latency", "--timeout", "5s"]
    warm = [subprocess.Popen([*base, "-d2s", u], stdout=subprocess.DEVNULL) for u in urls]
    for w in warm:
        w.wait()
    procs = [
        subprocess.Popen([*base, f"-d{duration_s:g}s", u], stdout=subprocess.PIPE, text=True)
        for u in urls
    ]
    out = []
    for u, proc in zip(urls, procs, strict=True):
        text, _ = proc.communicate()
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, proc.args, text)
        result = parse_wrk(text)
        result["url"] = u
        out.append(result)
    return out


def post_train(base: str) -> int:
    """``POST /api/train`` (JSON, loopback): the status code."""
    req = urllib.request.Request(
        f"{base}/api/train",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with OPENER.open(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def fitted_times(base: str) -> dict[str, float]:
    """``{metric@tier: fitted_at}`` of every fitted model, from ``GET /api/models``."""
    try:
        doc = get_json(f"{base}/api/models", timeout_s=30)
    except (OSError, ValueError):
        return {}
    return {
        f"{row['metric']}@{row['tier']}": row["fitted_at"]
        for row in doc.get("models", [])
        if row.get("fitted_at") is not None
    }


class Trainer:
    """Ask the monitor to refit everything every ``every_s`` while it is measured."""

    def __init__(self, base: str, every_s: float) -> None:
        self.base, self.every_s = base, every_s
        self.stop = threading.Event()
        self.codes: list[int] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.codes.append(post_train(self.base))
            self.stop.wait(self.every_s)

    def __enter__(self) -> Trainer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def full_run(
    base: str, url: str, duration_s: float, connections: int, threads: int, train_every_s: float
) -> tuple[dict, dict]:
    """``wrk`` on the full monitor while ``POST /api/train`` asks for refits: (run, refits)."""
    if train_every_s <= 0:
        return run_wrk(url, duration_s, connections, threads), {}
    before = fitted_times(base)
    with Trainer(base, train_every_s) as trainer:
        run = run_wrk(url, duration_s, connections, threads)
    after = fitted_times(base)
    return run, {
        "train_posts": len(trainer.codes),
        "train_accepted": sum(code == 202 for code in trainer.codes),
        "models_refitted": sum(1 for k, t in after.items() if t != before.get(k)),
        "models_fitted": len(after),
    }


def together_run(
    base: str, core_base: str, path: str, wrk: tuple[float, int, int], train_every_s: float
) -> tuple[dict, dict, dict]:
    """``wrk`` on the full monitor (during refits) and the core-only one at once:
    (full run, core run, refits)."""
    before = fitted_times(base) if train_every_s > 0 else {}
    if train_every_s > 0:
        with Trainer(base, train_every_s) as trainer:
            full, core = run_wrk_together([base + path, core_base + path], *wrk)
        after = fitted_times(base)
        refits = {"models_refitted": sum(1 for k, t in after.items() if t != before.get(k))}
        refits["train_accepted"] = sum(code == 202 for code in trainer.codes)
    else:
        full, core = run_wrk_together([base + path, core_base + path], *wrk)
        refits = {}
    return full, core, refits


def paired_rounds(
    base: str,
    path: str,
    core_base: str,
    first: tuple[dict, dict],
    rounds: int,
    wrk: tuple[float, int, int],
    train_every_s: float,
    together: bool = False,
) -> list[dict]:
    """Round 1 is the main pass's (full, core) pair ``first``; each further round runs the
    full monitor (during refits) and the core-only one back to back, core first in even
    rounds, so that load drifting on a shared machine falls on both alike. ``together``:
    every round (round 1 too) loads both monitors at the same time instead."""
    pairs: list[tuple[int, str, dict, dict, dict, float]] = []
    if not together:
        pairs.append((1, "full, core", first[0], first[1], {}, round(os.getloadavg()[0], 2)))
    for i in range(len(pairs) + 1, rounds + 1):
        print(f"  round {i}/{rounds} …", file=sys.stderr, flush=True)
        if together:
            full, core, refits = together_run(base, core_base, path, wrk, train_every_s)
            order = "together"
        else:
            core_first = i % 2 == 0
            core_ = run_wrk(core_base + path, *wrk) if core_first else None
            full, refits = full_run(base, base + path, *wrk, train_every_s)
            core = core_ if core_ is not None else run_wrk(core_base + path, *wrk)
            order = "core, full" if core_first else "full, core"
        pairs.append((i, order, full, core, refits, round(os.getloadavg()[0], 2)))
    out = []
    for i, order, full, core, refits, load in pairs:
        f, k = full["p99_ms"], core["p99_ms"]
        out.append(
            {
                "round": i,
                "order": order,
                "full_p99_ms": f,
                "core_p99_ms": k,
                "full_vs_core_p99": round(f / k, 3) if f and k else None,
                "full_requests_per_s": full["requests_per_s"],
                "core_requests_per_s": core["requests_per_s"],
                "models_refitted": refits.get("models_refitted"),
                "load_avg_1m": load,
            }
        )
    return out


def measure(
    duration_s: float,
    connections: int,
    threads: int,
    seed_hours: float,
    train_every_s: float,
    rounds: int = 1,
    together: bool = False,
) -> dict:
    path = "/api/metrics?limit=300"
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="foresight-bench-api-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        seeded = seed_store(data_dir, seed_hours)
        with monitor(data_dir, 1.0, log_path=Path(tmp) / "monitor.log") as (_, base):
            time.sleep(3.0)  # a few live ticks on top of the seeded hour
            with OPENER.open(base + path, timeout=10) as resp:
                body = resp.read()
            body_path = Path(tmp) / "body.json"
            body_path.write_bytes(body)
            import json

            doc = json.loads(body)
            points = [len(m.get("points", [])) for m in doc.get("metrics", {}).values()]
            port = free_port()
            baseline = subprocess.Popen(
                [PYTHON, __file__, "--serve-baseline", str(port), str(body_path)], cwd=ROOT
            )
            core_dir = Path(tmp) / "core-data"
            core_dir.mkdir()
            seed_store(core_dir, seed_hours)
            core_port = free_port()
            core = subprocess.Popen(
                [
                    PYTHON,
                    str(Path(__file__).with_name("bench_sampler.py")),
                    "--core-monitor",
                    str(core_port),
                    str(core_dir),
                    "1.0",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                bbase = f"http://127.0.0.1:{port}"
                cbase = f"http://127.0.0.1:{core_port}"
                wait_http(f"{bbase}/health", timeout_s=120.0, proc=baseline)
                wait_http(f"{cbase}/api/system/health", timeout_s=120.0, proc=core)
                time.sleep(2.0)
                runs = {}
                refits: dict = {}
                for name, url in (
                    ("monitor_api_metrics", base + path),
                    ("monitor_core_api_metrics", cbase + path),
                    ("baseline_same_bytes", bbase + "/same-bytes"),
                    ("baseline_tiny_json", bbase + "/tiny"),
                    # the page's poll: samples since a cursor ~2 s ago
                    ("monitor_realtime_poll", base + "/api/metrics/realtime?since=-2"),
                ):
                    print(f"  wrk {url} …", file=sys.stderr, flush=True)
                    if name == "monitor_api_metrics":
                        runs[name], refits = full_run(
                            base, url, duration_s, connections, threads, train_every_s
                        )
                    else:
                        runs[name] = run_wrk(url, duration_s, connections, threads)
                pairs = paired_rounds(
                    base,
                    path,
                    cbase,
                    (runs["monitor_api_metrics"], runs["monitor_core_api_metrics"]),
                    rounds,
                    (duration_s, connections, threads),
                    train_every_s,
                    together,
                )
            finally:
                stop_process(baseline)
                stop_process(core)
    return {
        "duration_s": duration_s,
        "connections": connections,
        "wrk_threads": threads,
        "seeded_values": seeded,
        "response_bytes": len(body),
        "metrics_in_response": len(points),
        "points_per_metric_max": max(points, default=0),
        "seed_hours": seed_hours,
        "runs": runs,
        "refits_during_monitor_run": refits,
        "monitor_vs_core_p99": p99_ratio(runs),
        "rounds": pairs,
        "rounds_together": together,
        "monitor_vs_core_p99_median": median_ratio(pairs),
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "targets": {"requests_per_s": TARGET_RPS, "p99_ms": TARGET_P99_MS},
    }


def p99_ratio(runs: dict) -> float | None:
    """The full monitor's p99 over the core-only monitor's (None when either is missing)."""
    full = runs["monitor_api_metrics"]["p99_ms"]
    core = runs["monitor_core_api_metrics"]["p99_ms"]
    return round(full / core, 3) if full and core else None


def median_ratio(pairs: list[dict]) -> float | None:
    """The median over rounds of the full monitor's p99 / the core-only one's."""
    got = sorted(r["full_vs_core_p99"] for r in pairs if r["full_vs_core_p99"] is not None)
    if not got:
        return None
    mid = len(got) // 2
    return round(got[mid] if len(got) % 2 else (got[mid - 1] + got[mid]) / 2, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per endpoint (default 10)"
    )
    parser.add_argument("--connections", type=int, default=10, help="open connections (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--seed-hours",
        type=float,
        default=6.0,
        help="hours of 1-s history seeded before the run (default 6)",
    )
    parser.add_argument(
        "--train-every",
        type=float,
        default=3.0,
        help="seconds between POST /api/train during the full monitor's run (0: none)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="full (during refits) and core-only /api/metrics runs, back to back in "
        "alternating order, this many times; prints each pair's p99 ratio and the median",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="with --rounds: each round loads the full and the core-only monitor at the same "
        "time (each with --connections) instead of one after the other",
    )
    parser.add_argument("--name", default="bench_api", help="output name (bench/out/NAME.json)")
    parser.add_argument(
        "--serve-baseline", nargs=2, metavar=("PORT", "BODY"), help=argparse.SUPPRESS
    )  # internal: run the ceiling server
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), args.serve_baseline[1])
        return 0
    if shutil.which("wrk") is None:
        print("bench_api: wrk not found (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    print(
        f"bench_api: GET /api/metrics?limit=300 (all metrics), {args.connections} "
        f"connections, {args.duration:g} s each, waitress {WAITRESS_THREADS} threads"
    )
    r = measure(
        args.duration,
        args.connections,
        args.threads,
        args.seed_hours,
        args.train_every,
        max(args.rounds, 1),
        args.together,
    )
    path = write_json(args.name, r)
    print(
        f"  response: {r['response_bytes']:,} bytes, {r['metrics_in_response']} metrics, "
        f"≤ {r['points_per_metric_max']} points each"
    )
    ref = r["runs"]["baseline_same_bytes"]["requests_per_s"] or float("nan")
    print(
        f"  {'endpoint':<26}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
        f"{'vs same-bytes':>15}"
    )
    for name, run in r["runs"].items():
        rps = run["requests_per_s"] or float("nan")
        print(
            f"  {name:<26}{rps:>10,.0f}{run['p50_ms'] or math.nan:>9.2f}"
            f"{run['p99_ms'] or math.nan:>9.2f}{run['non_2xx']:>9}{rps / ref:>14.2f}x"
        )
    ref_ = r["refits_during_monitor_run"]
    if ref_:
        print(
            f"  during the monitor's run: {ref_['train_accepted']}/{ref_['train_posts']} "
            f"POST /api/train accepted, {ref_['models_refitted']} of {ref_['models_fitted']} "
            f"fitted models refitted"
        )
    print(f"  p99 full monitor (during refits) / core only: {r['monitor_vs_core_p99']}x")
    if len(r["rounds"]) > 1 or args.together:
        print(
            f"  {'round':<7}{'order':<12}{'full p99':>10}{'core p99':>10}{'full/core':>11}"
            f"{'load 1m':>9}"
        )
        for p in r["rounds"]:
            print(
                f"  {p['round']:<7}{p['order']:<12}{p['full_p99_ms'] or math.nan:>10.2f}"
                f"{p['core_p99_ms'] or math.nan:>10.2f}{p['full_vs_core_p99'] or math.nan:>10.3f}x"
                f"{p['load_avg_1m']:>9.2f}"
            )
        print(f"  median over {len(r['rounds'])} rounds: {r['monitor_vs_core_p99_median']}x")
    print(f"  load average at the start {r['load_avg_start']}, at the end {r['load_avg_end']}")
    for name in ("monitor_api_metrics", "monitor_core_api_metrics"):
        mon = r["runs"][name]
        ok = (mon["requests_per_s"] or 0) >= TARGET_RPS and (
            mon["p99_ms"] or math.inf
        ) <= TARGET_P99_MS
        print(
            f"  {name}: target ≥ {TARGET_RPS:,.0f} req/s and p99 ≤ {TARGET_P99_MS:g} ms "
            f"{'meets' if ok else 'MISSES'}"
        )
    print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
