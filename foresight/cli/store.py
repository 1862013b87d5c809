"""``main.py export`` and ``main.py import``: JSON history files in and out of the store."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from foresight.core.errors import InputError
from foresight.core.validate import number_arg
from foresight.store.json_io import MAX_TIMESTAMP, export_history, import_history
from foresight.store.metric_store import MetricStore

logger = logging.getLogger(__name__)


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    # Also accepted after the subcommand (``main.py export --data-dir X``); when absent
    # the top-level --data-dir (default ./data) applies.
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="where the SQLite history lives (default ./data)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` and ``import`` subcommands."""
    export = subparsers.add_parser(
        "export",
        help="write the stored history to a JSON file",
        description="Write raw stored values to a JSON history file (the shape "
        "GET /api/metrics serves).",
    )
    export.add_argument(
        "--out",
        required=True,
        metavar="FILE.json",
        help="file to write (replaced only when complete; a device, FIFO or - for stdout "
        "is written through)",
    )
    _data_dir_option(export)
    export.add_argument(
        "--since",
        type=number_arg(minimum=-MAX_TIMESTAMP, maximum=MAX_TIMESTAMP),
        default=None,
        metavar="T",
        help="epoch seconds, or negative seconds before now (default: all)",
    )
    export.add_argument(
        "--until",
        type=number_arg(minimum=-MAX_TIMESTAMP, maximum=MAX_TIMESTAMP),
        default=None,
        metavar="T",
        help="epoch seconds, or negative seconds before now (default: now)",
    )
    export.add_argument(
        "--metric",
        action="append",
        default=None,
        metavar="NAME",
        help="metric to export (repeat or comma-separate; default: all)",
    )
    export.set_defaults(handler=run_export)

    imp = subparsers.add_parser(
        "import",
        help="load a JSON history file into the store",
        description="Validate a JSON history file completely, then add its values to the "
        "store in one transaction (values already stored are kept).",
    )
    imp.add_argument("file", type=Path, metavar="FILE.json")
    _data_dir_option(imp)
    imp.set_defaults(handler=run_import)


def _open_store(args: argparse.Namespace, must_exist: bool) -> MetricStore:
    data_dir = Path(args.data_dir)
    db = data_dir / "foresight.db"
    if must_exist and not db.exists():
        raise InputError(
            f"no history at {db}; run `main.py --monitor --data-dir "
            f"{data_dir}` first or pass --data-dir"
        )
    return MetricStore(db, retention_days=getattr(args, "retention_days", 7.0))


def _progress(metric: str, index: int, total: int) -> None:
    print(f"\r[{index + 1}/{total}] {metric:<40}", end="", file=sys.stderr, flush=True)


def run_export(args: argparse.Namespace) -> int:
    now = time.time()
    since = None if args.since is None else (now + args.since if args.since < 0 else args.since)
    until = None if args.until is None else (now + args.until if args.until < 0 else args.until)
    metrics = None
    if args.metric:
        metrics = [m.strip() for item in args.metric for m in item.split(",") if m.strip()]
    with _open_store(args, must_exist=True) as store:
        written = export_history(
            store, Path(args.out), metrics, since, until, progress=_progress, now=now
        )
    print(file=sys.stderr)
    print(f"exported {written} values to {args.out}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    if not Path(args.file).is_file():
        raise InputError(f"no such file: {args.file}")
    print(f"validating {args.file} ...", file=sys.stderr, flush=True)
    with _open_store(args, must_exist=False) as store:
        added = import_history(store, Path(args.file))
    print(
        f"imported {added} new values into {Path(args.data_dir) / 'foresight.db'}", file=sys.stderr
    )
    return 0
