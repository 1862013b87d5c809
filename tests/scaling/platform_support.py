"""A tiny real platform for the webhook tests: an HTTP server on a free loopback port.

It keeps a replica count the way a scaler would: ``POST /scale`` with
``{"desired_instances": n}`` sets it to ``min(n, quota)`` (a namespace quota the
platform enforces), and ``GET /status`` answers ``{"status": {"replicas": n}}`` as a
Kubernetes scale subresource does. ``answer`` picks what the POST answers with:
``"replicas"`` (``{"replicas": n}``), ``"actual"`` (``{"actual_instances": n}``),
``"empty"`` (no body: the status URL must be read) or ``"bad"`` (a negative count).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.http_support import QuietHandler, loopback_server


class Platform:
    def __init__(self, quota: int, answer: str) -> None:
        self.quota, self.answer = quota, answer
        self.replicas = 1
        self.posts: list[dict] = []
        self.status_reads = 0
        self.lock = threading.Lock()
        self.url = ""

    @property
    def scale_url(self) -> str:
        return f"{self.url}/scale"

    @property
    def status_url(self) -> str:
        return f"{self.url}/status"


@contextmanager
def run_platform(quota: int = 1000, answer: str = "replicas") -> Iterator[Platform]:
    """Serve a Platform on 127.0.0.1 for the ``with`` block."""
    platform = Platform(quota, answer)

    class Handler(QuietHandler):
        def _send(self, doc: object | None) -> None:
            body = b"" if doc is None else json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with platform.lock:
                platform.posts.append(doc)
                platform.replicas = min(int(doc["desired_instances"]), platform.quota)
                n = platform.replicas
            answers = {
                "replicas": {"replicas": n},
                "actual": {"actual_instances": n},
                "empty": None,
                "bad": {"replicas": -3},
            }
            self._send(answers[platform.answer])

        def do_GET(self) -> None:
            with platform.lock:
                platform.status_reads += 1
                n = platform.replicas
            self._send({"kind": "Scale", "status": {"replicas": n}})

    with loopback_server(Handler) as platform.url:
        yield platform
