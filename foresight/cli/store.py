"""``main.py export`` and ``main.py import``: JSON history files in and out of the store."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from foresight.core.atomic_file import check_output
from foresight.core.errors import InputError
from foresight.core.validate import number_arg
from foresight.store.json_io import (
    IMPORT_BATCH_VALUES,
    MAX_TIMESTAMP,
    export_history,
    read_history,
    store_history,
)
from foresight.store.metric_store import SCHEMA_VERSION, MetricStore
from foresight.store.readonly import connect_read_only

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
        "store in short transactions of 20,000 values, so a running monitor keeps "
        "sampling (values already stored are kept, so an interrupted import is "
        "completed by running it again).",
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
    check_output(args.out, "--out")
    now = time.time()
    since = None if args.since is None else (now + args.since if args.since < 0 else args.since)
    until = None if args.until is None else (now + args.until if args.until < 0 else args.until)
    metrics = None
    if args.metric:
        metrics = [m.strip() for item in args.metric for m in item.split(",") if m.strip()]
    db = Path(args.data_dir) / "foresight.db"
    if not db.exists():
        _open_store(args, must_exist=True)  # raises the "no history" error
    # Read-only: export works on a read-only filesystem, file or folder (a backup).
    conn = connect_read_only(db, SCHEMA_VERSION)
    try:
        written = export_history(conn, args.out, metrics, since, until, progress=_progress, now=now)
    finally:
        conn.close()
    print(file=sys.stderr)
    print(f"exported {written} values to {args.out}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    # Validate first: a rejected file must not create the data dir or an empty store.
    history = read_history(Path(args.file))
    db = Path(args.data_dir) / "foresight.db"
    print(
        f"{args.file}: {history.n_points:,} values of {len(history.metrics)} metric(s) "
        f"are valid; importing into {db}",
        file=sys.stderr,
        flush=True,
    )
    with _open_store(args, must_exist=False) as store:
        added = store_history(store, history, progress=_batch_progress)
    print(file=sys.stderr)
    print(f"imported {added} new values into {db}", file=sys.stderr)
    return 0


def _batch_progress(done: int, total: int) -> None:
    # about every 5 %: a 2 M-value import is 100 batches
    if done == total or done * 20 // total != (done - IMPORT_BATCH_VALUES) * 20 // total:
        print(f"\r{done:,}/{total:,} values", end="", file=sys.stderr, flush=True)
