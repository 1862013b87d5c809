"""Foresight command line: the demo, ``--monitor``, and the offline subcommands.

    python main.py                      time-compressed end-to-end demo
    python main.py --monitor [...]      sample this host and serve the dashboard
    python main.py SUBCOMMAND --help    backtest, detect, replay, export, import, ...

This is the only module that configures logging or exits. Subcommands live in
``foresight.cli``: each module has ``register(subparsers)``, which adds its parsers with
``set_defaults(handler=fn)``; ``fn(args) -> int`` returns the exit code and raises
``InputError`` for bad input (exit 2, one line on stderr).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from foresight.cli import forecast, risk, scaling, source_args, sources, store
from foresight.core.environment import MAX_INTERVAL_S, MIN_INTERVAL_S
from foresight.core.errors import InputError
from foresight.core.validate import number_arg

logger = logging.getLogger("foresight")

MAX_RETENTION_DAYS = 36_500.0  # a century: beyond it the cut-off is no longer a date


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(prog: str = "main.py") -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="Foresight: monitor a host, forecast its load, detect anomalies "
        "and scale a resource pool ahead of demand.",
    )
    parser.add_argument(
        "--monitor", action="store_true", help="sample this host and serve the live dashboard"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any other address needs FORESIGHT_TOKEN)",
    )
    parser.add_argument(
        "--port",
        type=number_arg(int, minimum=0, maximum=65535),
        default=5000,
        help="port to listen on (default 5000)",
    )
    parser.add_argument(
        "--interval",
        type=number_arg(minimum=MIN_INTERVAL_S, maximum=MAX_INTERVAL_S),
        default=None,
        metavar="S",
        help="seconds between samples (default: env METRICS_INTERVAL or 1)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        metavar="DIR",
        help="where the SQLite history lives (default ./data)",
    )
    parser.add_argument(
        "--retention-days",
        type=number_arg(above=0, maximum=MAX_RETENTION_DAYS),
        default=7.0,
        metavar="D",
        help="keep raw samples this many days, then rollups (default 7)",
    )
    parser.add_argument(
        "--lstm",
        action="store_true",
        help="--monitor: add the seeds' LSTM to the live forecast candidates (needs the "
        "lstm extra; env FORESIGHT_LSTM=1 does the same)",
    )
    sources.add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    source_args.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for module in (store, forecast, scaling, risk):  # in the order their help is listed
        module.register(sub)
    return parser


# Flags of the top-level parser the demo uses too; every other one is --monitor's.
_DEMO_FLAGS = {"help", "monitor", "data_dir", "verbose", "command"}


def _refuse_monitor_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Raise InputError for a --monitor flag given without --monitor: `main.py --port
    8080` ran the six-week demo and never served, saying nothing of the port."""
    for action in parser._actions:  # argparse has no public list of its arguments
        if action.dest in _DEMO_FLAGS or not action.option_strings:
            continue
        if getattr(args, action.dest, None) != action.default:
            flag = max(action.option_strings, key=len)
            raise InputError(
                f"{flag} applies to --monitor only (without --monitor this runs the demo); "
                f"add --monitor to serve the dashboard"
            )


def main(argv: list[str] | None = None, prog: str = "main.py") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command is not None:
            if args.monitor:
                raise InputError("--monitor cannot be combined with a subcommand")
            return int(args.handler(args))
        if args.monitor:
            from foresight.cli import monitor  # imports Flask: only when serving

            return int(monitor.run(args))
        _refuse_monitor_flags(parser, args)
        return int(scaling.run_demo(args))
    except InputError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def console() -> int:
    """The ``foresight`` console script: ``foresight monitor [flags]`` is ``--monitor``."""
    argv = sys.argv[1:]
    if argv[:1] == ["monitor"]:
        argv = ["--monitor", *argv[1:]]
    return main(argv, prog="foresight")


if __name__ == "__main__":
    sys.exit(main())
