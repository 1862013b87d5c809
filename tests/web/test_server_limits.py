"""Issue 13 against the real server (``main.py --monitor`` under waitress, as users run it):
rebinding Host names, body and header limits, and hostile JSON, over real sockets.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from foresight.web.security import MAX_BODY_BYTES, MAX_HEADER_BYTES, SERVER_MAX_BODY_BYTES
from tests.browser.browser_support import run_monitor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with run_monitor(tmp_path_factory.mktemp("limits"), needs_browser=False) as base:
        url = urlsplit(base)
        yield url.hostname or "127.0.0.1", url.port or 80


def request(
    server: tuple[str, int],
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, bytes]:
    """Send one request; return (status, content type, body)."""
    conn = http.client.HTTPConnection(*server, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def scaling_mode(server: tuple[str, int]) -> str:
    return json.loads(request(server, "GET", "/api/scaling/status")[2])["mode"]


def test_rebinding_host_is_refused(server) -> None:
    status, kind, body = request(
        server, "GET", "/api/system/health", headers={"Host": "evil.example"}
    )
    assert (
        status == 421 and kind == "application/json" and "evil.example" in json.loads(body)["error"]
    )
    status, _, _ = request(
        server, "GET", "/api/system/health", headers={"Host": f"localhost:{server[1]}"}
    )
    assert status == 200


def test_body_just_over_the_limit_gets_the_apps_json_413(server) -> None:
    body = json.dumps({"mode": "paused", "pad": "x" * MAX_BODY_BYTES}).encode()
    status, kind, answer = request(
        server, "POST", "/api/scaling/mode", body, {"Content-Type": "application/json"}
    )
    assert status == 413 and kind == "application/json", answer[:200]
    assert str(MAX_BODY_BYTES) in json.loads(answer)["error"]
    assert scaling_mode(server) == "auto"


def test_100_mb_body_is_refused_before_it_is_buffered(server) -> None:
    """waitress answers from the headers alone: the 100 MB never need to be sent."""
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(
            (
                "POST /api/scaling/mode HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server[1]}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        started = time.monotonic()
        received = b""
        while chunk := sock.recv(4096):  # waitress closes the connection after it
            received += chunk
        answer = received.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert str(SERVER_MAX_BODY_BYTES) in answer
    assert time.monotonic() - started < 5
    assert scaling_mode(server) == "auto"


def test_big_headers_get_json_431(server) -> None:
    status, kind, body = request(
        server, "GET", "/api/system/health", headers={"X-Big": "b" * (MAX_HEADER_BYTES + 10)}
    )
    assert status == 431 and kind == "application/json" and len(body) < 200
    status, kind, body = request(server, "GET", "/api/metrics?metric=" + "m" * 20_000)
    assert status == 414 and kind == "application/json" and len(body) < 200


@pytest.mark.parametrize("path", ["/api/stress-test", "/api/scaling/mode", "/api/scaling/execute"])
def test_nested_json_is_400_over_the_wire(server, path: str) -> None:
    for depth in (5000, 100_000):
        status, kind, body = request(
            server, "POST", path, b"[" * depth, {"Content-Type": "application/json"}
        )
        assert status == 400 and kind == "application/json", (path, depth, body[:200])


def test_absurd_range_is_400_and_every_answer_is_json(server) -> None:
    status, _, body = request(server, "GET", "/api/metrics?since=-1e308&until=1e308")
    assert status == 400
    json.loads(body, parse_constant=pytest.fail)


def test_the_server_still_answers(server) -> None:
    status, _, body = request(server, "GET", "/api/system/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
