"""Helpers shared by the bench scripts: a free port, a monitor subprocess, JSON output.

Not a benchmark itself (run_all.py only runs ``bench_*.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
# Loopback only, and never through a proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout_s: float = 5.0) -> Any:
    with OPENER.open(url, timeout=timeout_s) as resp:
        return json.loads(resp.read())


def wait_http(url: str, timeout_s: float = 30.0, proc: subprocess.Popen | None = None) -> Any:
    """Poll ``url`` until it answers 200 with JSON; raise RuntimeError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before {url} answered")
        try:
            return get_json(url, timeout_s=2.0)
        except (OSError, ValueError) as exc:
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s ({last})")


@contextmanager
def monitor(
    data_dir: Path,
    interval_s: float = 1.0,
    extra: Sequence[str] = (),
    log_path: Path | None = None,
    *,
    root: Path = ROOT,
    python: str = PYTHON,
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run ``main.py --monitor`` on a free loopback port; yield (process, base URL).

    ``root`` and ``python``: another checkout and its interpreter (a before/after run).
    """
    port = free_port()
    cmd = [
        python,
        str(root / "main.py"),
        "--monitor",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--interval",
        str(interval_s),
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if k != "FORESIGHT_TOKEN"}
    log = open(log_path or os.devnull, "wb")
    proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        # A seeded store and a busy machine make start-up slow: wait up to 2 minutes.
        wait_http(f"{base}/api/system/health", timeout_s=120.0, proc=proc)
        yield proc, base
    finally:
        stop_process(proc)
        log.close()


def stop_process(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after ``timeout_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def progress(text: str | None = None) -> None:
    """On a terminal, overwrite stderr's progress line with ``text`` (None: end the line)."""
    if sys.stderr.isatty():
        print(
            "" if text is None else f"\r  {text}",
            end="" if text else "\n",
            file=sys.stderr,
            flush=True,
        )


def write_json(name: str, result: dict) -> Path:
    """Write ``result`` to bench/out/<name>.json and return the path."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
