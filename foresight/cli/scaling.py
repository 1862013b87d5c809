"""The ``replay`` subcommand and the no-argument demo. Flags and ``--json`` keys of
``replay`` are a public contract (change them only additively).

    python main.py replay --csv FILE --value-col COL [--time-col COL] [--unit-capacity X]
        [--boot-s S] [--step-s S] [--min-instances N] [--max-instances N]
        [--policy threshold|reactive|predictive|hybrid|all] [--json] [--report FILE.html]
        [--observed-col COL] [--memory-col COL] [--memory-unit-capacity X]
        [--confidence-threshold P]
    python main.py            # the demo: an LMS workload through forecaster, detector,
                              # engine and pool, in under a minute
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from foresight.core.atomic_file import check_output
from foresight.core.errors import InputError
from foresight.core.settings import from_environment
from foresight.core.validate import number_arg
from scaling_engine import POLICIES

if TYPE_CHECKING:
    from foresight.replay.simulation import ReplayResult

# The handlers import pandas and scikit-learn (through the forecaster) themselves:
# building the parser, which every ``main.py`` call does, should not pay for them.

logger = logging.getLogger(__name__)

PEAK_INSTANCES = 9  # default unit capacity: the trace's peak needs this many
PEAK_QUANTILE = 0.999  # "peak": robust to a single freak minute
MAX_STEPS = 2_000_000
# Flag bounds: past these the replay overflows or allocates absurd arrays.
MAX_BOOT_S = 7 * 86_400.0  # a week
MIN_STEP_S, MAX_STEP_S = 1e-3, 1e9
MIN_UNIT, MAX_UNIT = 1e-9, 1e15
MAX_POOL = 1_000_000  # instances


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` subcommand."""
    p = subparsers.add_parser(
        "replay",
        help="replay a demand trace through the scaling policies",
        description="Replay a demand trace (CSV) through the simulated pool and the "
        "scaling policies; demand = value / unit capacity.",
    )
    p.add_argument(
        "--csv", required=True, type=Path, metavar="FILE", help="CSV file with a header row"
    )
    p.add_argument("--value-col", required=True, metavar="COL", help="demand column")
    p.add_argument(
        "--time-col",
        metavar="COL",
        help="ISO-8601 or epoch-second times (default: rows --step-s apart)",
    )
    p.add_argument(
        "--observed-col",
        metavar="COL",
        help="rows where this column is 0 are gaps, not zero demand",
    )
    p.add_argument(
        "--unit-capacity",
        type=number_arg(minimum=MIN_UNIT, maximum=MAX_UNIT),
        metavar="X",
        help=f"value one instance serves at 100 %% (default: the "
        f"{PEAK_QUANTILE * 100:g} %% quantile / {PEAK_INSTANCES}, so the "
        f"trace's peak needs {PEAK_INSTANCES} instances)",
    )
    p.add_argument(
        "--boot-s",
        type=number_arg(minimum=0, maximum=MAX_BOOT_S),
        default=300.0,
        metavar="S",
        help="launch-to-ready lag (default 300)",
    )
    p.add_argument(
        "--step-s",
        type=number_arg(minimum=MIN_STEP_S, maximum=MAX_STEP_S),
        metavar="S",
        help="replay step; the trace is averaged onto it (default: the "
        "trace's own spacing, or 60 without --time-col)",
    )
    p.add_argument(
        "--min-instances",
        type=number_arg(int, minimum=0, maximum=MAX_POOL),
        default=1,
        metavar="N",
        help="default 1",
    )
    p.add_argument(
        "--max-instances",
        type=number_arg(int, minimum=1, maximum=MAX_POOL),
        metavar="N",
        help="default: env MAX_INSTANCES or 10",
    )
    p.add_argument(
        "--policy",
        choices=(*POLICIES, "all"),
        default="all",
        help="one policy, or all side by side (default)",
    )
    p.add_argument(
        "--memory-col",
        metavar="COL",
        help="a second demand signal (memory): each step's demand is the higher of the two "
        "in instances, as the HPA takes the highest metric (default: CPU/--value-col only)",
    )
    p.add_argument(
        "--memory-unit-capacity",
        type=number_arg(minimum=MIN_UNIT, maximum=MAX_UNIT),
        metavar="X",
        help="memory one instance holds (default: like --unit-capacity, from the column)",
    )
    p.add_argument(
        "--confidence-threshold",
        type=number_arg(minimum=0.0, maximum=1.0),
        metavar="P",
        help="least confidence a policy acts on (default: env CONFIDENCE_THRESHOLD or 0.7)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument(
        "--report",
        metavar="FILE.html",
        help="write a self-contained HTML report with charts",
    )
    p.set_defaults(handler=run_replay)


def _progress_printer(enabled: bool):
    last = [0.0]

    def progress(message: str) -> None:
        now = time.monotonic()
        if enabled and now - last[0] >= 1.0:
            last[0] = now
            print(f"  {message}", file=sys.stderr, flush=True)

    return progress


def load_demand(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Read the trace onto a regular grid: (timestamps, values, step_s, unit_capacity)."""
    from foresight.core.timeseries_io import load_series, to_regular_grid

    t, v = load_series(args.csv, args.value_col, args.time_col, args.observed_col)
    finite = v[np.isfinite(v)]
    if len(finite) == 0:
        raise InputError(f"{args.csv}: column {args.value_col!r} has no observed values")
    if finite.min() < 0:
        raise InputError(
            f"{args.csv}: demand must be >= 0 (column {args.value_col!r} has {finite.min():g})"
        )
    if args.time_col is None:
        step = args.step_s or 60.0
        t = np.arange(len(v)) * step
        grid_t, grid_v = t, v
    else:
        if len(t) < 2:
            raise InputError(f"{args.csv}: need at least 2 rows to replay (got {len(t)})")
        span = float(np.nanmax(t) - np.nanmin(t))
        if args.step_s and span / args.step_s > MAX_STEPS:
            raise InputError(f"--step-s {args.step_s:g} gives more than {MAX_STEPS:,} steps")
        grid_t, grid_v, _ = to_regular_grid(t, v, args.step_s, where=str(args.csv))
        step = float(grid_t[1] - grid_t[0]) if len(grid_t) > 1 else float(args.step_s or 60)
    if len(grid_v) > MAX_STEPS:
        raise InputError(
            f"{len(grid_v):,} steps is too many to replay (max {MAX_STEPS:,}); "
            "pass a coarser --step-s"
        )
    unit = args.unit_capacity
    if unit is None:
        peak = float(np.quantile(grid_v[np.isfinite(grid_v)], PEAK_QUANTILE))
        if not peak > 0:
            raise InputError(f"{args.csv}: demand is all zero; pass --unit-capacity")
        unit = peak / PEAK_INSTANCES
    return grid_t, grid_v, step, unit


def load_memory(args: argparse.Namespace, steps: int) -> tuple[np.ndarray, float]:
    """The ``--memory-col`` signal on the same grid as the demand: (values, unit capacity)."""
    memory = argparse.Namespace(
        **{**vars(args), "value_col": args.memory_col, "unit_capacity": args.memory_unit_capacity}
    )
    _, values, _, unit = load_demand(memory)
    if len(values) != steps:  # the same rows on the same grid: cannot differ
        raise InputError(f"--memory-col gives {len(values):,} steps, the demand {steps:,}")
    return values, unit


def run_replay(args: argparse.Namespace) -> int:
    """Handle ``replay``: load, replay every chosen policy, print, write the report."""
    from foresight.replay.report import write_report
    from foresight.replay.simulation import replay

    max_instances = (
        from_environment().max_instances if args.max_instances is None else args.max_instances
    )
    if args.min_instances > max_instances:
        raise InputError(
            f"--min-instances {args.min_instances} is above --max-instances {max_instances}"
        )
    if args.report is not None:
        check_output(args.report, "--report")  # before the replay, which can take minutes
    t, v, step, unit = load_demand(args)
    if args.boot_s / step >= len(v):
        raise InputError(
            f"--boot-s {args.boot_s:g} is {args.boot_s / step:,.0f} steps of {step:g} s, "
            f"as long as the whole trace ({len(v):,} steps); nothing would ever boot"
        )
    # Every input is read and checked before the first note: a bad one is one line.
    memory_read = None if args.memory_col is None else load_memory(args, len(v))
    if args.unit_capacity is None:
        print(
            f"unit capacity {unit:.4g} (the {PEAK_QUANTILE:.1%} quantile needs "
            f"{PEAK_INSTANCES} instances; set --unit-capacity to override)",
            file=sys.stderr,
        )
    demand = v / unit
    if memory_read is not None:
        memory_values, memory_unit = memory_read
        if args.memory_unit_capacity is None:
            print(
                f"memory unit capacity {memory_unit:.4g} (set --memory-unit-capacity)",
                file=sys.stderr,
            )
        memory = memory_values / memory_unit
        # The highest signal wins (a missing one is left out, as live).
        demand = np.fmax(demand, memory)
        share = float(np.mean(memory[np.isfinite(memory)] > (v / unit)[np.isfinite(memory)]))
        print(f"memory is the higher signal in {share:.0%} of steps", file=sys.stderr)
    confidence = (
        from_environment().confidence_threshold
        if args.confidence_threshold is None
        else args.confidence_threshold
    )
    policies = tuple(POLICIES) if args.policy == "all" else (args.policy,)
    progress = _progress_printer(len(v) * len(policies) > 20_000)
    print(
        f"replaying {len(v):,} steps of {step:g} s through {', '.join(policies)}", file=sys.stderr
    )
    result = replay(
        t,
        demand,
        step_s=step,
        boot_s=args.boot_s,
        policies=policies,
        min_instances=args.min_instances,
        max_instances=max_instances,
        unit_capacity=unit,
        progress=progress,
        confidence_threshold=confidence,
    )
    if args.report is not None:
        write_report(result, args.report, title=f"Replay of {args.csv.name}", notes=_notes(result))
        print(f"report written to {args.report}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(summary_table(result))
    return 0


def _notes(result: ReplayResult) -> list[str]:
    q = result.forecast.quality
    q = q[np.isfinite(q)]
    notes = [
        f"Forecaster: {result.forecast.refits} refits ({result.forecast.fit_seconds:.1f} s); "
        "predictive/hybrid size for the forecast's 80 % upper edge at the boot lag."
    ]
    if len(q):
        notes.append(
            f"Forecast error at the boot lag is {np.median(q):.2f}x that of "
            f"assuming no change (median over the trace; the predictive policies "
            f"fall back to reactive when it exceeds 1)."
        )
    return notes


def summary_table(result: ReplayResult, extra: dict[str, str] | None = None) -> str:
    """One row per policy: actions, cost, instance-hours, overload, slack, flaps.

    A flap is a scale-down that a scale-up reversed within ``result.flap_window_s``.
    """
    head = (
        f"{'policy':<11} {'actions':>8} {'ups':>6} {'downs':>6} {'cost $':>9} "
        f"{'inst-h':>9} {'overload min':>13} {'overloaded':>10} {'slack':>6} "
        f"{'flaps':>6} {'flaps/day':>9}"
    )
    lines = [head, "-" * len(head)]
    for name, m in result.metrics.items():
        lines.append(
            f"{name:<11} {m.actions:>8,} {m.scale_ups:>6,} {m.scale_downs:>6,} "
            f"{m.cost:>9,.2f} {m.instance_hours:>9,.1f} {m.overload_minutes:>13,.0f} "
            f"{m.overload_ratio:>10.2%} {m.mean_slack:>6.1%} {m.flaps:>6,} "
            f"{m.flaps_per_day:>9.1f}"
        )
    lines.append(
        f"(flap: a scale-down reversed by a scale-up within {result.flap_window_s / 60:g} min)"
    )
    return "\n".join(lines)


def run_demo(args: argparse.Namespace) -> int:
    """The no-argument demo: six weeks of an LMS workload, compressed to seconds."""
    from foresight.evaluation.backtest import backtest
    from foresight.replay.report import verdict, write_report
    from foresight.replay.scenarios import lms_scenario
    from foresight.replay.simulation import replay
    from predictor import AnomalyDetector

    began = time.perf_counter()
    # The report's folder is checked before the run: a --data-dir that is a file (or one
    # that cannot be created) was a traceback after all the work, with exit code 1.
    out_dir = Path(getattr(args, "data_dir", None) or "data")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            f"--data-dir: {out_dir} is not a folder (the demo writes its report in it)"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"--data-dir: cannot use {out_dir} for the demo's report ({exc.strerror})"
        ) from None
    check_output(out_dir / "demo-report.html", "--data-dir")
    scenario = lms_scenario()
    days = len(scenario.demand) * scenario.step_s / 86_400
    print(
        f"Foresight demo: {days:.0f} days of a synthetic learning-management system at "
        f"{scenario.step_s / 60:.0f}-minute steps (daily and weekly cycles, exam "
        f"periods every 2 weeks for 3 days, one flash crowd), boot lag 300 s.",
        file=sys.stderr,
    )
    season = int(86_400 // scenario.step_s)
    accuracy = backtest(scenario.demand, scenario.timestamps, horizon=12, season_length=season)
    detector = AnomalyDetector()
    scores = detector.score_many(scenario.demand)
    flagged = np.flatnonzero(scores >= detector.threshold)
    result = replay(
        scenario.timestamps,
        scenario.demand,
        step_s=scenario.step_s,
        boot_s=300.0,
        max_instances=from_environment().max_instances,
        progress=_progress_printer(True),
    )
    flagged_t = scenario.timestamps[flagged]
    notes = []
    for start, end, label in scenario.events:
        if label == "exam period":
            continue  # expected, recurring load: the forecaster should carry it
        hits = flagged_t[(flagged_t >= start) & (flagged_t < end)]
        notes.append(
            f"the {label} on day {(start - scenario.timestamps[0]) / 86_400:.1f} "
            + (
                f"was flagged {(hits[0] - start) / 60:.0f} min after it began"
                if len(hits)
                else "was not flagged"
            )
        )
    ratio = accuracy.mase / accuracy.seasonal_naive_mase
    lines = [
        f"forecast accuracy on this synthetic trace (1 h ahead, last 30 % of the run; for "
        f"real traces see the README, 'Accuracy and performance'): MASE {accuracy.mase:.2f} vs "
        f"{accuracy.seasonal_naive_mase:.2f} for repeating yesterday ({1 - ratio:.0%} lower "
        f"error); {accuracy.coverage_80:.0%} of actuals inside the 80 % band",
        f"anomalies: {len(flagged)} of {len(scores):,} steps flagged; " + "; ".join(notes),
        "",
        summary_table(result),
        f"verdict: {verdict(result.metrics)}",
    ]
    print("\n".join(lines))
    path = write_report(
        result,
        out_dir / "demo-report.html",
        title="Foresight demo: a synthetic LMS workload, six weeks",
        notes=lines[:2] + _notes(result),
    )
    print(
        f"\nreport: {path.resolve()}  (open it in a browser; it works offline)\n"
        f"took {time.perf_counter() - began:.1f} s"
    )
    return 0
