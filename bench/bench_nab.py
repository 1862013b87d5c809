"""Anomaly detection on the shared NAB subset, scored with ../shared/tools/nab_score.py.

    .venv/bin/python bench/bench_nab.py            # detector in-process, then the scorer
    .venv/bin/python bench/bench_nab.py --cli      # through `main.py detect`, as users run it

One parameter set for every file (NAB's rule): the detector's defaults. Reports the
standard, reward-low-FP and reward-low-FN scores beside the published scores of other
detectors re-scored on the same subset and beside a plain streaming EWMA z-score
(mean/variance EWMA, |z| squashed to [0, 1]: the textbook detector) scored in the same
run, plus microseconds per point of both, timed in-process. Writes bench/out/nab.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
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

from foresight.core.timeseries_io import load_series_with_text  # noqa: E402
from foresight.models.anomaly import AnomalyDetector  # noqa: E402

SHARED = ROOT.parent / "shared"
NAB = SHARED / "data" / "nab"
SCORER = SHARED / "tools" / "nab_score.py"
PUBLISHED_ON_SUBSET = {
    "Numenta HTM": 72.3,
    "CAD OSE": 71.6,
    "ARTime": 69.8,
    "KNN CAD": 57.1,
    "Relative Entropy": 50.1,
    "Windowed Gaussian": 26.5,
}


def ewma_zscore(values: np.ndarray, alpha: float = 0.05, warmup: int = 50) -> np.ndarray:
    """The baseline: EWMA mean and variance, score = 1 - exp(-|z| / 8), in [0, 1)."""
    out = np.zeros(len(values))
    mean = var = 0.0
    n = 0
    for i, x in enumerate(values.tolist()):
        if x != x:
            continue
        n += 1
        if n == 1:
            mean = x
            continue
        sd = var**0.5
        z = abs(x - mean) / sd if sd > 0 else (0.0 if x == mean else 1e3)
        if n > warmup:
            out[i] = 1.0 - math.exp(-z / 8.0)
        a = max(alpha, 1.0 / n)
        diff = x - mean
        mean += a * diff
        var = (1 - a) * (var + a * diff * diff)
    return out


def score_files(out_dir: Path, detector) -> tuple[float, int]:
    """Run ``detector(values) -> scores`` over every NAB file; return (seconds, points)."""
    names = json.loads((NAB / "windows.json").read_text())
    seconds = 0.0
    points = 0
    for name in names:
        _, values, stamps = load_series_with_text(NAB / name, "value", "timestamp")
        start = time.perf_counter()
        scores = detector(values)
        seconds += time.perf_counter() - start
        points += len(values)
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "score"])
            writer.writerows(zip(stamps, (f"{s:.9g}" for s in scores)))
    return seconds, points


def run_scorer(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, str(SCORER), *args, "--json"], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"nab_score failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cli",
        action="store_true",
        help="score through `main.py detect` (slower: one process per file)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="scorer jobs with --cli (default 2)")
    args = parser.parse_args()
    if not (NAB.is_dir() and SCORER.is_file()):
        print(f"bench_nab: skipped: no NAB data at {NAB} or scorer at {SCORER}")
        return 0
    result: dict = {}
    if args.cli:
        command = (
            f"{sys.executable} main.py detect --csv {{in}} --value-col value "
            f"--time-col timestamp --out {{out}}"
        )
        start = time.perf_counter()
        report = run_scorer(["--detect-cmd", command, "--jobs", str(args.jobs)])
        result["cli_wall_s"] = time.perf_counter() - start
    else:
        with tempfile.TemporaryDirectory(prefix="bench_nab_") as tmp:
            detector_s, points = score_files(
                Path(tmp) / "ours", lambda v: AnomalyDetector().score_many(v)
            )
            report = run_scorer(["--scores", str(Path(tmp) / "ours")])
            baseline_s, _ = score_files(Path(tmp) / "ewma", ewma_zscore)
            baseline = run_scorer(["--scores", str(Path(tmp) / "ewma")])
        result.update(
            points=points,
            us_per_point=1e6 * detector_s / points,
            ewma_zscore={"scores": baseline["scores"], "us_per_point": 1e6 * baseline_s / points},
        )
    result.update(
        scores=report["scores"],
        thresholds=report["thresholds"],
        categories={
            k: {p: v["score"] for p, v in g["profiles"].items()}
            for k, g in report["categories"].items()
        },
        hit_windows=report["overall"]["profiles"]["standard"]["hit_windows"],
        windows=report["overall"]["windows"],
        fp_rows=report["overall"]["profiles"]["standard"]["fp_rows"],
    )
    s = result["scores"]
    print(
        f"NAB on the shared subset ({report['overall']['files']} files, "
        f"{result['windows']} windows), one parameter set:"
    )
    print(
        f"  ours: standard {s['standard']:.1f}  low_fp {s['low_fp']:.1f}  "
        f"low_fn {s['low_fn']:.1f}   (target: standard >= 55)"
    )
    print(
        f"  standard-profile threshold {result['thresholds']['standard']:.3f}; "
        f"{result['hit_windows']}/{result['windows']} windows hit, "
        f"{result['fp_rows']} false-positive rows"
    )
    for category, scores in result["categories"].items():
        shown = "  ".join(f"{p} {'n/a' if v is None else f'{v:.1f}'}" for p, v in scores.items())
        print(f"    {category:<24}{shown}")
    print(
        "  published, re-scored on this subset (standard): "
        + ", ".join(f"{k} {v}" for k, v in PUBLISHED_ON_SUBSET.items())
    )
    print(
        f"  vs KNN CAD {s['standard'] / PUBLISHED_ON_SUBSET['KNN CAD']:.2f}x, "
        f"vs Windowed Gaussian {s['standard'] / PUBLISHED_ON_SUBSET['Windowed Gaussian']:.2f}x"
    )
    if "us_per_point" in result:
        b = result["ewma_zscore"]
        print(
            f"  plain EWMA z-score, same run: standard {b['scores']['standard']:.1f}  "
            f"low_fp {b['scores']['low_fp']:.1f}  low_fn {b['scores']['low_fn']:.1f}"
            f"   -> ours {s['standard'] - b['scores']['standard']:+.1f} points (standard)"
        )
        print(
            f"  speed: {result['us_per_point']:.2f} us per point per metric "
            f"(target <= 20); plain EWMA z-score {b['us_per_point']:.2f} us "
            f"-> {result['us_per_point'] / b['us_per_point']:.1f}x its cost"
        )
    else:
        print(f"  through the CLI: {result['cli_wall_s']:.1f} s wall for all files")
    result["published_on_subset"] = PUBLISHED_ON_SUBSET
    print(f"wrote {write_json('nab', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
