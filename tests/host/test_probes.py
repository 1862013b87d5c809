"""The HTTP probe's kept-alive connection, and the connection counts leaving it out."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from foresight.host.probes import HttpProbe, connection_counts
from metrics_collector import MetricsCollector


class Server(http.server.ThreadingHTTPServer):
    """HTTP/1.1 on loopback; counts the connections it accepted."""

    daemon_threads = True
    accepted = 0
    drop_after_response = False  # close each connection without saying so (stale)

    def get_request(self) -> tuple[socket.socket, object]:
        request = super().get_request()
        self.accepted += 1
        return request


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the response says otherwise
    server: Server

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/fail")
            body = b""
        else:
            self.send_response(500 if self.path == "/fail" else 200)
            body = b"{}"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.drop_after_response:
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def url(srv: Server, path: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_a_loopback_probe_keeps_one_connection(server: Server) -> None:
    probe = HttpProbe(url(server, "/ok"))
    try:
        readings = [probe.read() for _ in range(5)]
        port = probe.local_port
        assert port is not None
        assert all(r["api_success"] == 1.0 and r["api_response_ms"] >= 0 for r in readings)
        assert server.accepted == 1
        assert probe.read()["api_success"] == 1.0 and probe.local_port == port
    finally:
        probe.close()
    assert probe.local_port is None


def test_an_error_status_keeps_its_latency(server: Server) -> None:
    probe = HttpProbe(url(server, "/fail"))
    try:
        for _ in range(3):
            reading = probe.read()
            assert reading["api_success"] == 0.0 and reading["api_response_ms"] >= 0
        assert server.accepted == 1
    finally:
        probe.close()


def test_a_connection_the_server_dropped_is_retried_once(server: Server) -> None:
    server.drop_after_response = True
    probe = HttpProbe(url(server, "/ok"))
    try:
        for _ in range(4):
            time.sleep(0.05)  # the server has closed its side by the next request
            assert probe.read()["api_success"] == 1.0
        assert server.accepted == 4
    finally:
        probe.close()


def test_a_redirect_is_followed_as_urllib_does(server: Server) -> None:
    probe = HttpProbe(url(server, "/redirect"))  # 302 to /fail (500): a failure
    try:
        for _ in range(2):
            reading = probe.read()
            assert reading["api_success"] == 0.0 and reading["api_response_ms"] >= 0
    finally:
        probe.close()


def test_refused_gives_no_latency() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        probe = HttpProbe(f"http://127.0.0.1:{port}/")
        assert probe.read() == {"api_success": 0.0}
        assert probe.read() == {"api_success": 0.0}


def test_the_probes_own_connection_is_not_counted(server: Server, tmp_path: Path) -> None:
    port = server.server_address[1]
    collector = MetricsCollector(
        tmp_path, url(server, "/ok"), connections_port=port, connections_every_s=1.0
    )
    client = socket.create_connection(("127.0.0.1", port))  # one real client
    try:
        collector.collect(100.0)
        deadline = time.monotonic() + 5.0
        while connection_counts(port)["connections_established"] < 2:
            assert time.monotonic() < deadline, connection_counts(port)
            time.sleep(0.05)
        values = collector.collect(102.0).values
        assert values["api_success"] == 1.0
        assert values["connections_established"] == 1.0 and values["active_connections"] == 1.0
        assert connection_counts(port)["connections_established"] == 2.0  # probe + client
    finally:
        client.close()
        collector.close()
