"""A real Alertmanager for the tests: Debian's ``prometheus-alertmanager`` binary.

``run_alertmanager`` starts it on a free loopback port with a temp config and storage
path (clustering off), waits for ``/-/ready`` and stops it afterwards. The config routes
every alert to a webhook receiver at ``webhook_url`` (when given) with no grouping delay,
so a test can also see what Alertmanager itself sends to a webhook. Skips with a message
saying what to install when the binary is missing (``make test`` installs it).
"""

from __future__ import annotations

import json
import shutil
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser.browser_support import run_server, wait_for  # noqa: F401 (re-exported)

BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")
READY_TIMEOUT_S = 20.0
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def binary() -> str:
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "Alertmanager is not installed: `apt-get install prometheus-alertmanager` "
        "(`make test` does it) to run the notification tests"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> Any:
    with OPENER.open(url, timeout=5) as response:
        return json.loads(response.read())


def config(webhook_url: str | None) -> str:
    receiver = {"name": "hook"}
    if webhook_url:
        receiver["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    return json.dumps(  # JSON is YAML
        {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [receiver],
        }
    )


@contextmanager
def run_alertmanager(tmp: Path, webhook_url: str | None = None) -> Iterator[str]:
    """Run Alertmanager for the ``with`` block; yield its base URL."""
    exe = binary()
    port = free_port()
    (tmp / "am-data").mkdir(parents=True, exist_ok=True)
    cfg = tmp / "alertmanager.yml"
    cfg.write_text(config(webhook_url))
    base = f"http://127.0.0.1:{port}"
    command = [
        exe,
        f"--config.file={cfg}",
        f"--storage.path={tmp / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    log_path = tmp / "alertmanager.log"
    with run_server(command, log_path, f"{base}/-/ready", "alertmanager", READY_TIMEOUT_S):
        yield base
