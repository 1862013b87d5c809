"""``main.py --monitor`` reloads its alert rules on SIGHUP (the real process, a real signal)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
RULES = "rules: [{name: StaleA, kind: stale, window: 30s}]\n"


def health(base: str) -> dict:
    with OPENER.open(f"{base}/api/system/health", timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_the_rules_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORESIGHT_", "METRICS_"))}
    env.update(
        FORESIGHT_ALERT_RULES=str(rules), FORESIGHT_LIVE_MODELS="0", FORESIGHT_LIVE_SCALING="0"
    )
    log = open(tmp_path / "server.log", "wb")  # closed in finally
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "--monitor",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--interval",
            "0.5",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if health(base)["ticks"] >= 1:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "server.log"
            ).read_text()
            time.sleep(0.2)
        assert health(base)["alerts"]["rules"]["load_count"] == 1
        # same size, same mtime: only the signal can make the monitor read it again
        stamp = rules.stat()
        rules.write_text(RULES.replace("StaleA", "StaleB"))
        os.utime(rules, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        time.sleep(1.5)
        assert health(base)["alerts"]["rules"]["load_count"] == 1
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while health(base)["alerts"]["rules"]["load_count"] != 2:
            assert proc.poll() is None and time.monotonic() < deadline, "no reload after SIGHUP"
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.mark.slow
def test_sigterm_while_responses_are_written_stops_the_monitor(tmp_path: Path) -> None:
    """A SIGTERM that lands inside waitress's write handler once was logged there and
    swallowed, and the monitor kept running: it must stop however busy the server is."""
    import threading

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORESIGHT_", "METRICS_"))}
    env.update(FORESIGHT_LIVE_MODELS="0", FORESIGHT_LIVE_SCALING="0")
    command = [sys.executable, str(ROOT / "main.py"), "--monitor", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "data"), "--interval", "0.2"]
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        stop = threading.Event()

        def hammer() -> None:  # big bodies, so most of the loop's time is in writes
            while not stop.is_set():
                try:
                    OPENER.open(f"{base}/api/metrics?since=-3600&limit=1000", timeout=5).read()
                except OSError:
                    time.sleep(0.05)

        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(6)]
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if health(base)["ticks"] >= 5:
                        break
                except OSError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
            for thread in threads:
                thread.start()
            time.sleep(2.0)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0, (tmp_path / "server.log").read_text()[-2000:]
        finally:
            stop.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
