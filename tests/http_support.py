"""Real HTTP servers on a free loopback port, for tests that need a peer to talk to.

``loopback_server(Handler)`` starts a ``ThreadingHTTPServer`` on ``127.0.0.1:0`` in a
daemon thread, yields its base URL (``http://127.0.0.1:<port>``), and shuts it down and
closes its socket on the way out, whatever the test did. ``QuietHandler`` is a request
handler that keeps the server's access log off the test output.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseRequestHandler


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def loopback_server(handler: Callable[..., BaseRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
