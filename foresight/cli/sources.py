"""The monitor's ``--source`` flags: where samples come from (``foresight.sources``).

``--source local`` (the default) samples this host; ``--source prometheus`` reads named
PromQL queries from ``--prometheus-url``: ``--prometheus-query NAME=PROMQL``
(repeatable, a public contract) and/or ``--prometheus-queries FILE`` (TOML);
``--source sql`` reads a table (its flags: ``foresight.cli.source_args``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from foresight.core.environment import SOURCE_NAMES
from foresight.core.errors import InputError
from foresight.sources.queries import parse_flag


def _query(raw: str) -> tuple[str, str]:
    try:
        return parse_flag(raw)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--source`` and the Prometheus flags to the monitor's parser."""
    parser.add_argument(
        "--source",
        choices=SOURCE_NAMES,
        default=None,
        help="where samples come from: local (this host, the default), prometheus "
        "(--prometheus-*) or sql (a table's rows, --sql-*)",
    )
    parser.add_argument(
        "--prometheus-url",
        metavar="URL",
        default=None,
        help="--source prometheus: the Prometheus server, e.g. http://127.0.0.1:9090",
    )
    parser.add_argument(
        "--prometheus-query",
        metavar="NAME=PROMQL",
        action="append",
        type=_query,
        default=None,
        help="--source prometheus: store each series of PROMQL under metric NAME, its labels "
        "as the target (repeatable)",
    )
    parser.add_argument(
        "--prometheus-queries",
        metavar="FILE",
        type=Path,
        default=None,
        help="--source prometheus: a TOML file of [[query]] tables (name, promql, "
        "target_labels); see README",
    )


def settings_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The Settings fields these flags set (None: not given)."""
    url = getattr(args, "prometheus_url", None)
    if url is not None:
        from foresight.core.env_parsers import parse_url

        url = parse_url(url, "--prometheus-url")
    path = getattr(args, "prometheus_queries", None)
    if path is not None and not Path(path).is_file():
        raise InputError(f"--prometheus-queries must name an existing file (got {str(path)!r})")
    queries = getattr(args, "prometheus_query", None)
    return {
        "source": getattr(args, "source", None),
        "prometheus_url": url,
        "prometheus_queries": None if queries is None else tuple(queries),
        "prometheus_queries_path": path,
    }
