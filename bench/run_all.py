"""Run every ``bench/bench_*.py`` in turn with its default (modest) settings.

    .venv/bin/python bench/run_all.py                  # all of them (what `make bench` runs)
    .venv/bin/python bench/run_all.py --list           # what would run
    .venv/bin/python bench/run_all.py --only api store # a subset, by name without bench_

Each script prints its own figures and writes bench/out/<name>.json; this runner prints
a one-line summary per script at the end. The exit code is 1 if any script failed.
They run one at a time on purpose: they measure CPU time and latency. bench_tab.py (one
dashboard tab's requests per minute) needs Debian's chromium.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(only: list[str] | None) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in only}
        unknown = wanted - {p.stem.removeprefix("bench_") for p in found}
        if unknown:
            raise ValueError(
                f"unknown bench {sorted(unknown)}; "
                f"known: {[p.stem.removeprefix('bench_') for p in found]}"
            )
        found = [p for p in found if p.stem.removeprefix("bench_") in wanted]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benches")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    args = parser.parse_args()
    try:
        todo = scripts(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    if args.list:
        print("\n".join(p.name for p in todo))
        return 0
    summary = []
    for path in todo:
        print(f"\n=== {path.name} ===", flush=True)
        t0 = time.monotonic()
        code = subprocess.run([sys.executable, str(path)], cwd=HERE.parent).returncode
        summary.append((path.name, code, time.monotonic() - t0))
    print("\n=== summary ===")
    for name, code, took in summary:
        print(f"  {name:<24} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {took:7.1f} s")
    return 1 if any(code for _, code, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
