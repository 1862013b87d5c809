"""A real Prometheus for the tests: Debian's binary on a free loopback port.

``run_prometheus`` writes a config scraping the given targets every second (job
``foresight``), starts ``/usr/bin/prometheus`` with its own TSDB dir, waits for
``/-/ready`` and stops it afterwards (``stop_process``). It skips the test, saying what
to install, when the binary is missing (``make test`` installs Debian's ``prometheus``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.browser_support import run_server

STARTUP_TIMEOUT_S = 30.0


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip(
            "prometheus is not installed: `apt-get install prometheus` (`make test` does it)"
        )
    return found


def write_config(path: Path, targets: Sequence[str], scrape_interval_s: float = 1.0) -> Path:
    listed = ", ".join(f'"{t}"' for t in targets)
    path.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_interval_s:g}s\n"
        f"  evaluation_interval: {scrape_interval_s:g}s\n"
        "scrape_configs:\n"
        "  - job_name: foresight\n"
        "    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: [{listed}]\n"
    )
    return path


@contextmanager
def run_prometheus(
    workdir: Path, port: int, targets: Sequence[str], *, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """Run Prometheus on 127.0.0.1:``port`` for the block; yield its base URL.

    ``workdir`` keeps the config, the TSDB (``data/``, reused when started again, so a
    restart keeps the history) and the log.
    """
    binary = prometheus_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir / "prometheus.yml", targets)
    base = f"http://127.0.0.1:{port}"
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=30d",
        *extra_args,
    ]
    log_path = workdir / "prometheus.log"
    with run_server(command, log_path, f"{base}/-/ready", "prometheus", STARTUP_TIMEOUT_S):
        yield base
