"""Anomaly detection on the shared NAB subset, scored with ../shared/tools/nab_score.py.

    .venv/bin/python bench/bench_nab.py            # detector in-process, then the scorer
    .venv/bin/python bench/bench_nab.py --cli      # through `main.py detect`, as users run it

One parameter set for every file (NAB's rule): the detector's defaults. Reports the
standard, reward-low-FP and reward-low-FN scores beside the published scores of other
detectors re-scored on the same subset, plus microseconds per point (the detector's
own loop, timed in-process) against a bare Python loop that only adds the values, the
floor any per-point streaming detector in Python pays. Writes bench/out/nab.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_json  # noqa: E402
from anomaly import AnomalyDetector  # noqa: E402
from timeseries_io import load_series_with_text  # noqa: E402

SHARED = ROOT.parent / "shared"
NAB = SHARED / "data" / "nab"
SCORER = SHARED / "tools" / "nab_score.py"
PUBLISHED_ON_SUBSET = {"Numenta HTM": 72.3, "CAD OSE": 71.6, "ARTime": 69.8, "KNN CAD": 57.1,
                       "Relative Entropy": 50.1, "Windowed Gaussian": 26.5}


def score_files(out_dir: Path) -> tuple[float, float, int]:
    """Run the detector over every NAB file in-process; return (detector s, bare s, points)."""
    names = json.loads((NAB / "windows.json").read_text())
    detector_s = bare_s = 0.0
    points = 0
    for name in names:
        _, values, stamps = load_series_with_text(NAB / name, "value", "timestamp")
        start = time.perf_counter()
        scores = AnomalyDetector().score_many(values)
        detector_s += time.perf_counter() - start
        start = time.perf_counter()
        total = 0.0
        for v in values.tolist():  # the floor: touching each value once in Python
            total += v
        bare_s += time.perf_counter() - start
        points += len(values)
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "score"])
            writer.writerows(zip(stamps, (f"{s:.9g}" for s in scores)))
    return detector_s, bare_s, points


def run_scorer(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, str(SCORER), *args, "--json"],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"nab_score failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", action="store_true",
                        help="score through `main.py detect` (slower: one process per file)")
    parser.add_argument("--jobs", type=int, default=2, help="scorer jobs with --cli (default 2)")
    args = parser.parse_args()
    if not (NAB.is_dir() and SCORER.is_file()):
        print(f"bench_nab: skipped: no NAB data at {NAB} or scorer at {SCORER}")
        return 0
    result: dict = {}
    if args.cli:
        command = (f"{sys.executable} main.py detect --csv {{in}} --value-col value "
                   f"--time-col timestamp --out {{out}}")
        start = time.perf_counter()
        report = run_scorer(["--detect-cmd", command, "--jobs", str(args.jobs)])
        result["cli_wall_s"] = time.perf_counter() - start
    else:
        with tempfile.TemporaryDirectory(prefix="bench_nab_") as tmp:
            detector_s, bare_s, points = score_files(Path(tmp))
            report = run_scorer(["--scores", tmp])
        result.update(points=points, us_per_point=1e6 * detector_s / points,
                      bare_loop_us_per_point=1e6 * bare_s / points)
    result.update(scores=report["scores"], thresholds=report["thresholds"],
                  categories={k: {p: v["score"] for p, v in g["profiles"].items()}
                              for k, g in report["categories"].items()},
                  hit_windows=report["overall"]["profiles"]["standard"]["hit_windows"],
                  windows=report["overall"]["windows"],
                  fp_rows=report["overall"]["profiles"]["standard"]["fp_rows"])
    s = result["scores"]
    print(f"NAB on the shared subset ({report['overall']['files']} files, "
          f"{result['windows']} windows), one parameter set:")
    print(f"  ours: standard {s['standard']:.1f}  low_fp {s['low_fp']:.1f}  "
          f"low_fn {s['low_fn']:.1f}   (target: standard >= 55)")
    print(f"  standard-profile threshold {result['thresholds']['standard']:.3f}; "
          f"{result['hit_windows']}/{result['windows']} windows hit, "
          f"{result['fp_rows']} false-positive rows")
    for category, scores in result["categories"].items():
        shown = "  ".join(f"{p} {'n/a' if v is None else f'{v:.1f}'}" for p, v in scores.items())
        print(f"    {category:<24}{shown}")
    print("  published, re-scored on this subset (standard): " + ", ".join(
        f"{k} {v}" for k, v in PUBLISHED_ON_SUBSET.items()))
    print(f"  vs KNN CAD {s['standard'] / PUBLISHED_ON_SUBSET['KNN CAD']:.2f}x, "
          f"vs Windowed Gaussian {s['standard'] / PUBLISHED_ON_SUBSET['Windowed Gaussian']:.2f}x")
    if "us_per_point" in result:
        print(f"  speed: {result['us_per_point']:.2f} us per point per metric "
              f"(target <= 20); bare Python loop {result['bare_loop_us_per_point']:.2f} us "
              f"-> {result['us_per_point'] / result['bare_loop_us_per_point']:.0f}x the floor")
    else:
        print(f"  through the CLI: {result['cli_wall_s']:.1f} s wall for all files")
    result["published_on_subset"] = PUBLISHED_ON_SUBSET
    print(f"wrote {write_json('nab', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
