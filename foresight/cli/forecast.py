"""The ``backtest`` and ``detect`` subcommands: forecast accuracy and anomaly scores
for a metric exported as CSV. Their flags and ``--json`` keys are public contracts.

    python main.py backtest --csv FILE --value-col COL [--time-col COL] [--horizon N]
                            [--season N|auto|none] [--step SECONDS] [--json]
                            [--model auto|last|seasonal|ridge|ridge-log|robust|lstm|lags|median]
    python main.py detect --csv FILE --value-col COL [--time-col COL] --out SCORES.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from foresight.core.atomic_file import atomic_text_writer, check_output
from foresight.core.errors import InputError
from foresight.core.validate import number_arg
from foresight.evaluation.model_choices import MODEL_CHOICES

if TYPE_CHECKING:
    import numpy as np

    from predictor import AnomalyDetector

# The handlers import numpy, pandas and scikit-learn themselves: building the parser
# (every ``main.py`` call, ``--help`` included) should not pay for them.

logger = logging.getLogger(__name__)

PROGRESS_EVERY_ROWS = 200_000  # detect: a progress line per this many rows
MODEL_NAMES = MODEL_CHOICES

# Flag bounds: past these the numeric code overflows or allocates absurd arrays.
TEST_FRACTION = 0.3  # backtest's default split: the last 30 % is scored
MAX_HORIZON = 100_000  # steps
MAX_SEASON = 1_000_000  # steps
MIN_STEP_S, MAX_STEP_S = 1e-3, 1e9  # a millisecond .. 31 years


def season_arg(text: str) -> int | str | None:
    """Parse --season: 'auto', 'none', or a whole number of steps >= 2."""
    if text.lower() in ("auto", "none"):
        return "auto" if text.lower() == "auto" else None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'auto', 'none' or a whole number of steps >= 2 (got {text[:40]!r})"
        ) from None
    if not 2 <= value <= MAX_SEASON:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of steps from 2 to {MAX_SEASON} (got {text[:40]!r})"
        )
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``backtest`` and ``detect`` subcommands."""
    bt = subparsers.add_parser(
        "backtest",
        help="measure forecast accuracy on a CSV series against baselines",
        description="Rolling-origin backtest of the served forecaster over the last 30 %% "
        "of the series (chosen on validation origins before them), beside the last value, "
        "seasonal naive and linear regression on 12 lags.",
    )
    _add_input_args(bt)
    bt.add_argument(
        "--horizon",
        type=number_arg(int, minimum=1, maximum=MAX_HORIZON),
        default=12,
        metavar="N",
        help="steps ahead to forecast (default 12)",
    )
    bt.add_argument(
        "--season",
        type=season_arg,
        default="auto",
        metavar="N|auto",
        help="steps per season, 'auto' (default) to detect, 'none' for none",
    )
    bt.add_argument(
        "--step",
        type=number_arg(minimum=MIN_STEP_S, maximum=MAX_STEP_S),
        default=None,
        metavar="SECONDS",
        help="resample to this step (mean) before fitting; without "
        "--time-col: the spacing of the rows",
    )
    bt.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="auto",
        help="the model to serve: auto (default) chooses per series on validation "
        "origins before the test origins; the others force one",
    )
    bt.add_argument("--json", action="store_true", help="print one JSON object")
    bt.set_defaults(handler=run_backtest)

    dt = subparsers.add_parser(
        "detect",
        help="score every row of a CSV series for anomalies",
        description="Stream the series through the anomaly detector in row order and "
        "write timestamp,value,score,is_anomaly (score in [0, 1]).",
    )
    _add_input_args(dt)
    dt.add_argument(
        "--out",
        required=True,
        metavar="SCORES.csv",
        help="where to write the scores: a file (replaced atomically; a symlink's target "
        "gets them), a device or FIFO (written through), or - for stdout",
    )
    dt.add_argument(
        "--threshold",
        type=number_arg(minimum=0, maximum=1),
        default=None,
        metavar="SCORE",
        help="decision threshold for is_anomaly (default: the detector's)",
    )
    dt.add_argument(
        "--min-change",
        type=float,
        default=None,
        metavar="UNITS",
        help="smallest meaningful change of the value, in its unit (default: the catalog's "
        "for --metric, else 0: every change counts)",
    )
    dt.add_argument(
        "--metric",
        default=None,
        metavar="NAME",
        help="catalog metric the series is (e.g. cpu_percent): sets --min-change",
    )
    dt.set_defaults(handler=run_detect)


def _add_input_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", type=Path, required=True, metavar="FILE", help="input CSV")
    parser.add_argument("--value-col", required=True, metavar="COL", help="the metric column")
    parser.add_argument(
        "--time-col",
        default=None,
        metavar="COL",
        help="ISO-8601 or epoch-seconds times (default: rows are evenly spaced)",
    )
    parser.add_argument(
        "--observed-col",
        default=None,
        metavar="COL",
        help="rows where this column is 0 are gaps, not zeros",
    )


def run_backtest(args: argparse.Namespace) -> int:
    from foresight.core.timeseries_io import load_series, to_regular_grid
    from foresight.evaluation.backtest import backtest

    timestamps, values = load_series(args.csv, args.value_col, args.time_col, args.observed_col)
    if args.time_col:
        timestamps, values, _ = to_regular_grid(timestamps, values, args.step, where=str(args.csv))
        series_ts = timestamps
    else:
        series_ts = None  # no calendar: the row spacing is --step (or unknown)
    precheck_backtest(values, args)
    try:
        result = backtest(
            values,
            series_ts,
            horizon=args.horizon,
            season_length=args.season,
            step_s=args.step,
            progress=logger.info,
            model=args.model,
        )
    except ValueError as exc:  # too short, too gappy, horizon too long for the data
        raise InputError(f"{args.csv}: {exc}") from None
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(format_backtest(result.to_dict()))
    return 0


def precheck_backtest(values: np.ndarray, args: argparse.Namespace) -> None:
    """Raise now, before any progress line, the error ``backtest`` finds only after
    fitting: no actual value to score in the last 30 % (mirrors the protocol's split).

    A training part that never changes, or repeats exactly every season, is valid input:
    ``backtest`` scores it on a fallback MASE scale and says which (``mase_scale_from``).
    """
    import numpy as np

    n = len(values)
    test_start = int(n * (1.0 - TEST_FRACTION))
    where = f"{args.csv}: column {args.value_col!r}"
    if n - test_start > 1 and not np.isfinite(values[test_start + 1 :]).any():
        raise InputError(f"{where} has no values in the last {TEST_FRACTION:.0%} to score")


# What the human format says about each MASE scale (foresight.evaluation.metrics).
SCALE_WORDS = {
    "train": "the training span's naive error",
    "train-lag1": "the training span's one-step naive error (it repeats every season)",
    "whole": "the whole series' one-step naive error (the training span never changes)",
    "unit": "1 in the series' unit (the series never changes)",
}


def format_backtest(r: dict) -> str:
    """Render a backtest result as a short table for people."""
    step = f"{r['step_s']:g} s" if r["step_s"] else "1 row"
    season = r["season_length"] if r["season_length"] else "none"
    lines = [
        f"{r['n']} steps of {step}; horizon {r['horizon']}; season {season}; "
        f"{r['n_origins']} origins, {r['n_refits']} refits",
        "",
        f"served model: {r.get('model', 'ridge')} (validation MASE: "
        + ", ".join(f"{k} {v:.3f}" for k, v in r.get("candidates", {}).items())
        + ")",
        "",
        f"{'model':<22}{'MASE':>8}{'vs ours':>9}",
        f"{'ours (' + r.get('model', 'ridge') + ')':<22}{r['mase']:>8.3f}{'':>9}",
    ]
    for label, key in (
        ("last value", "naive_mase"),
        ("seasonal naive", "seasonal_naive_mase"),
        ("linear on 12 lags", "linear_lags_mase"),
    ):
        if r[key]:
            ratio = f"{r['mase'] / r[key]:>8.2f}x"
        else:  # a baseline with no error: ours ties it or is worse by any ratio
            ratio = f"{'same' if r['mase'] == 0 else 'worse':>9}"
        lines.append(f"{label:<22}{r[key]:>8.3f}{ratio}")
    steps = r["mase_by_step"]
    picks = sorted({0, len(steps) // 4, len(steps) // 2, len(steps) - 1})
    lines += [
        "",
        "MASE by step: " + ", ".join(f"{i + 1}: {steps[i]:.3f}" for i in picks),
        f"MAE {r['mae']:.4g}   sMAPE {r['smape']:.1f} %   "
        f"80 % band holds {100 * r['coverage_80']:.1f} %   "
        f"95 % band holds {100 * r['coverage_95']:.1f} %",
        f"MASE scale {r['scale']:.4g}: "
        + SCALE_WORDS.get(r.get("mase_scale_from", "train"), r.get("mase_scale_from", "")),
        f"one fit {r['fit_seconds']:.3f} s; forecast "
        f"{1e6 * r['predict_seconds_per_origin']:.1f} us per origin; "
        f"total {r['total_seconds']:.2f} s",
    ]
    return "\n".join(lines)


def run_detect(args: argparse.Namespace) -> int:
    import numpy as np

    from foresight.core.catalog import metric_info
    from foresight.core.timeseries_io import load_series_with_text
    from predictor import AnomalyDetector

    check_output(args.out, "--out")  # before the work: a bad --out fails in a moment
    _, values, time_text = load_series_with_text(
        args.csv, args.value_col, args.time_col, args.observed_col
    )
    out = args.out
    min_change = args.min_change
    if min_change is None:
        min_change = metric_info(args.metric).min_change if args.metric else 0.0
    if not (min_change >= 0 and math.isfinite(min_change)):
        raise InputError(f"--min-change must be a finite number >= 0 (got {min_change})")
    detector = (
        AnomalyDetector(min_change=min_change)
        if args.threshold is None
        else AnomalyDetector(args.threshold, min_change=min_change)
    )
    n = len(values)
    scores = np.empty(n)
    for start in range(0, n, PROGRESS_EVERY_ROWS):
        stop = min(start + PROGRESS_EVERY_ROWS, n)
        scores[start:stop] = detector.score_many(values[start:stop])
        if n > PROGRESS_EVERY_ROWS:
            print(f"detect: {stop}/{n} rows scored", file=sys.stderr, flush=True)
    write_scores_atomically(out, time_text, values, scores, detector)
    logger.info(
        "detect: wrote %d rows to %s (%d flagged)",
        n,
        out,
        int(np.sum(scores >= detector.threshold)),
    )
    return 0


def write_scores_atomically(
    out: str | Path,
    time_text: list[str],
    values: np.ndarray,
    scores: np.ndarray,
    detector: AnomalyDetector,
) -> None:
    """Write the score CSV through ``atomic_text_writer`` (see it for which targets)."""
    with atomic_text_writer(out, newline="", what="--out") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "score", "is_anomaly"])
        for stamp, value, score in zip(time_text, values, scores, strict=True):
            writer.writerow(
                [
                    stamp,
                    "" if value != value else f"{value:.10g}",
                    f"{score:.9g}",
                    int(detector.is_anomaly(score)),
                ]
            )
