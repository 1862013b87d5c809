"""Peak memory and wall time of the offline commands on big inputs (issue 13, defect 14).

    .venv/bin/python bench/bench_bigcli.py                       # 1 M and 2 M rows
    .venv/bin/python bench/bench_bigcli.py --rows 200000         # quick
    .venv/bin/python bench/bench_bigcli.py --only detect import  # a subset of commands

Generates, in a temp dir, a CSV of ``N`` rows (``time`` in epoch seconds 60 s apart, a
daily cycle plus noise in ``value``) and the same series as a JSON history file (one
metric, ``N`` points, the shape ``main.py export`` writes). Then runs, each in its own
``main.py`` subprocess: ``backtest --time-col time``, ``detect --out``, ``import`` into a
fresh data dir, and ``replay --time-col time`` (all four policies). Peak RSS is the
child's own ``ru_maxrss`` from ``os.wait4`` (not the sum over every child), wall time is
measured around the process; "per million rows" is the slope between the sizes (what
one more million rows costs). The baseline in the same run is ``python -c "import
numpy, pandas, sklearn"``: the floor every command pays before it reads a byte.

Writes bench/out/<NAME>.json (``--name``, default bench_bigcli). ``--root DIR`` runs
another checkout's ``main.py`` (e.g. the commit before a change) with this script, so
before and after are measured by the same code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, write_json

COMMANDS = ("backtest", "detect", "import", "replay")
T0 = 1_700_000_040  # a multiple of 60 s


def write_inputs(folder: Path, rows: int) -> tuple[Path, Path]:
    """Write the CSV and the JSON history of ``rows`` one-minute points; return both paths."""
    rng = np.random.default_rng(0)
    t = T0 + 60 * np.arange(rows, dtype=np.int64)
    value = 50 + 30 * np.sin(2 * np.pi * (t % 86_400) / 86_400) + rng.normal(0, 3, rows)
    csv_path = folder / f"series_{rows}.csv"
    with csv_path.open("w") as out:
        out.write("time,value\n")
        for start in range(0, rows, 100_000):
            chunk = slice(start, start + 100_000)
            out.write(
                "".join(f"{a},{b:.3f}\n" for a, b in zip(t[chunk], value[chunk], strict=True))
            )
    json_path = folder / f"history_{rows}.json"
    with json_path.open("w") as out:
        out.write(
            '{"format": "foresight-history", "version": 1, "metrics": {"cpu_percent": '
            '{"unit": "%", "points": ['
        )
        for start in range(0, rows, 100_000):
            chunk = slice(start, start + 100_000)
            text = ",".join(f"[{a}.0,{b:.3f}]" for a, b in zip(t[chunk], value[chunk], strict=True))
            out.write(text if start == 0 else "," + text)
        out.write("]}}}\n")
    return csv_path, json_path


def measure(cmd: list[str], cwd: Path, timeout_s: float) -> dict:
    """Run ``cmd``; return its exit code, wall seconds, peak RSS (MB) and stderr's last line."""
    began = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = began + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - began
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    timed_out = wall > timeout_s
    return {
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "last_stderr": lines[-1][:200] if lines else "",
    }


def slope_mb_per_million(results: list[dict], name: str) -> float | None:
    """Extra peak RSS per extra million rows between the smallest and largest size."""
    runs = sorted((r["rows"], r["peak_rss_mb"]) for r in results if r["command"] == name)
    if len(runs) < 2 or runs[0][0] == runs[-1][0]:
        return None
    (n0, m0), (n1, m1) = runs[0], runs[-1]
    return round((m1 - m0) / ((n1 - n0) / 1e6), 1)


def command_line(name: str, main_py: Path, csv_path: Path, json_path: Path, work: Path) -> list:
    py = [sys.executable, str(main_py)]
    series = ["--csv", str(csv_path), "--value-col", "value", "--time-col", "time"]
    if name == "backtest":
        return [*py, "backtest", *series, "--json"]
    if name == "detect":
        return [*py, "detect", *series, "--out", str(work / "scores.csv")]
    if name == "import":
        return [*py, "--data-dir", str(work / f"data-{csv_path.stem}"), "import", str(json_path)]
    return [*py, "replay", *series, "--json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[1_000_000, 2_000_000], help="input sizes"
    )
    parser.add_argument("--only", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose main.py to run")
    parser.add_argument("--timeout-s", type=float, default=1200.0, help="per command")
    parser.add_argument("--name", default="bench_bigcli", help="bench/out/<NAME>.json")
    args = parser.parse_args()
    root = args.root.resolve()
    main_py = root / "main.py"
    floor = measure([sys.executable, "-c", "import numpy, pandas, sklearn"], root, 60)
    print(f"baseline: import numpy, pandas, sklearn: {floor['peak_rss_mb']:.0f} MB")
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-bigcli-") as tmp:
        work = Path(tmp)
        for rows in args.rows:
            csv_path, json_path = write_inputs(work, rows)
            sizes = f"CSV {csv_path.stat().st_size / 1e6:.0f} MB, JSON "
            print(f"\n{rows:,} rows ({sizes}{json_path.stat().st_size / 1e6:.0f} MB)")
            for name in args.only:
                cmd = command_line(name, main_py, csv_path, json_path, work)
                r = measure(cmd, root, args.timeout_s)
                r |= {"command": name, "rows": rows}
                results.append(r)
                status = "ok" if r["exit_code"] == 0 else f"exit {r['exit_code']}"
                if r["timed_out"]:
                    status = f"killed after {args.timeout_s:.0f} s"
                print(
                    f"  {name:<9} {r['peak_rss_mb']:>8.0f} MB {r['wall_s']:>8.1f} s  {status}"
                    + ("" if r["exit_code"] == 0 else f"  ({r['last_stderr']})"),
                    flush=True,
                )
    per_million = {name: slope_mb_per_million(results, name) for name in args.only}
    print("\nextra MB per extra million rows (slope between the sizes):", per_million)
    path = write_json(
        args.name,
        {
            "root": str(root),
            "baseline": floor,
            "results": results,
            "mb_per_million_rows": per_million,
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
