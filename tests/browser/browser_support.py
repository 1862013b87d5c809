"""What every browser test needs: the real monitor in a subprocess, and Debian's chromium.

``run_monitor`` starts ``main.py --monitor`` on a free loopback port with its own data
dir, waits until it has sampled twice, yields its base URL and stops it afterwards.
``launch_chromium`` starts /usr/bin/chromium through Playwright (never ``playwright
install``); both skip the test, with a message saying what to install, when chromium or
the playwright package is missing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 60.0  # a loaded shared machine needed ~15 s to start one monitor
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
# Settings of the developer's shell that would change what the tests expect.
_DROPPED_ENV = ("FORESIGHT_TOKEN", "METRICS_INTERVAL")


def seed_cpu_history(data_dir: Path, hours: float = 1.0, **constant: float) -> Path:
    """Seed ``data_dir``'s store with ``hours`` of cpu_percent 5 s apart (a 40–50 % saw
    tooth of one minute) and each ``constant`` metric at its value; returns the store path."""
    from foresight.store.metric_store import MetricStore

    now = time.time()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "foresight.db"
    with MetricStore(path) as store:
        store.append_many(
            (now - ago, {"cpu_percent": 40.0 + (ago % 60) / 6, **constant})
            for ago in range(int(hours * 3600), 5, -5)
        )
    return path


def get_json(url: str) -> Any:
    """GET ``url`` (no proxy) and decode its JSON body."""
    with _OPENER.open(url, timeout=5) as resp:
        return json.loads(resp.read())


def push_samples(base: str, samples: list[dict]) -> dict:
    """``POST /api/samples`` on a loopback monitor (no proxy, no token); its JSON answer."""
    request = urllib.request.Request(
        f"{base}/api/samples",
        data=json.dumps({"samples": samples}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with _OPENER.open(request, timeout=10) as resp:
        return json.loads(resp.read())


def wait_for(
    check: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition", every_s: float = 0.2
) -> Any:
    """Poll ``check`` until it returns something truthy (and return that); fail the test
    after ``timeout_s`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


def require_browser() -> None:
    """Skip the calling test unless /usr/bin/chromium and playwright are installed."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's chromium "
            "(`make test` does it with apt) to run the browser tests"
        )
    pytest.importorskip(
        "playwright.sync_api", reason="the playwright pip package is missing (requirements-dev.txt)"
    )


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    return _free_port()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


@contextmanager
def run_monitor(
    tmp: Path,
    *,
    token: str | None = None,
    interval_s: float = 0.5,
    extra_env: Mapping[str, str] | None = None,
    needs_browser: bool = True,
    extra_args: Sequence[str] = (),
    port: int | None = None,
    min_ticks: int = 2,
) -> Iterator[str]:
    """Run the real monitor for the ``with`` block; yield its base URL.

    Its store is ``tmp / "data"`` (seed it first to start with history) and its output
    goes to ``tmp / "server.log"``, quoted when it exits early or never answers.
    ``interval_s`` is the sampling interval in seconds; ``extra_env`` adds settings such
    as ``FORECAST_JOB_S``, ``extra_args`` more flags (``--source prometheus ...``), ``port``
    a port chosen beforehand (``free_port()``). Skips when the browser is missing, so no
    server starts (``needs_browser=False``: HTTP-only tests that run without it).
    """
    if needs_browser:
        require_browser()
    port = _free_port() if port is None else port
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    if token is not None:
        env["FORESIGHT_TOKEN"] = token
    env.update(extra_env or {})
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "main.py"),
                "--monitor",
                "--port",
                str(port),
                "--data-dir",
                str(tmp / "data"),
                "--interval",
                str(interval_s),
                *extra_args,
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the monitor exited with {proc.returncode}:\n{_log_tail(log_path)}")
            try:
                if get_json(f"{base}/api/system/health").get("ticks", 0) >= min_ticks:
                    break
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the monitor did not answer /api/system/health within "
                    f"{STARTUP_TIMEOUT_S:g} s:\n{_log_tail(log_path)}"
                )
            time.sleep(0.2)
        yield base
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s: a test's server never outlives the test."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def run_server(
    command: Sequence[str], log_path: Path, ready_url: str, name: str, timeout_s: float
) -> Iterator[subprocess.Popen]:
    """Start a real server binary (output appended to ``log_path``), wait until
    ``ready_url`` answers 200, yield the process, and stop it after the block.

    Fails the test, quoting the log's tail, when it exits early or is not ready in time.
    """
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}:\n{_log_tail(log_path)}")
            try:
                with _OPENER.open(ready_url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not ready in {timeout_s:g} s:\n{_log_tail(log_path)}")
            time.sleep(0.1)
        yield proc
    finally:
        stop_process(proc)


def launch_chromium(playwright: Any) -> Any:
    """Start headless /usr/bin/chromium; use the browser as a context manager to close it."""
    require_browser()
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def open_page(
    browser: Any, url: str, errors: list[str], *, width: int = 1280, height: int = 900
) -> Any:
    """A new page of ``width`` x ``height`` at ``url``; its page errors go into ``errors``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page


def screenshot_dir(default: Path) -> Path:
    """Where screenshots go: ``FORESIGHT_SCREENSHOT_DIR`` if set, else ``default``."""
    path = Path(os.environ.get("FORESIGHT_SCREENSHOT_DIR") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path
