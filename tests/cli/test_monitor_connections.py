"""``main.py --monitor`` counts the connections to its own port (the real process).

waitress reports the port it bound as text; the collector compares it with psutil's
integer ports, so a text port counted nothing, ever: every connection metric stayed 0
and the load score lost its connections term.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.browser.browser_support import get_json, run_monitor, wait_for

pytestmark = pytest.mark.slow
HELD = 3  # connections held open, idle: ESTABLISHED on the server's side


def test_the_monitor_counts_connections_to_its_own_port(tmp_path: Path) -> None:
    env = {"FORESIGHT_CONNECTIONS_EVERY_S": "1"}
    with run_monitor(tmp_path, needs_browser=False, extra_env=env) as base:
        port = int(base.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(HELD)]
        try:

            def established() -> float:
                q = "metric=connections_established,active_connections"
                metrics = get_json(f"{base}/api/metrics?{q}")["metrics"]
                current = metrics["connections_established"]["current"]
                value = current["value"] if current else 0.0
                return value if value >= HELD else 0.0

            wait_for(established, timeout_s=30, what=f"{HELD} ESTABLISHED connections counted")
            metrics = get_json(f"{base}/api/metrics?metric=active_connections")["metrics"]
            assert metrics["active_connections"]["current"]["value"] >= HELD
        finally:
            for s in held:
                s.close()
