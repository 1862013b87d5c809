"""Issue 13, web side: cross-site writes, rebinding, body limits, hostile JSON, headers,
host-detail redaction, the verification cache and the stress-test cooldown.

Each test sends what the audit sent (through Flask's test client, against real services
on a tmp store) and checks both the answer and that no state changed.
"""

from __future__ import annotations

import io
import json
import math
import time

import pytest

from dashboard import create_app
from foresight.core.settings import Settings
from foresight.live import services as monitor
from foresight.web.json_provider import MAX_DEPTH, SafeJSONProvider, depth_of
from foresight.web.security import MAX_BODY_BYTES, HostPolicy, split_host

TOKEN = "a-long-enough-test-token"


def stress_running(client) -> bool:
    return client.get("/api/stress-test").get_json()["running"]


def mode(client) -> str:
    return client.get("/api/scaling/status").get_json()["mode"]


# -- defect 1: cross-site writes -----------------------------------------------------------
def test_no_cors_text_plain_fetch_is_415_and_starts_nothing(client) -> None:
    # fetch(url, {mode: "no-cors", body: '{"seconds":5,"cores":1}'}) sends text/plain
    response = client.post(
        "/api/stress-test", data='{"seconds":5,"cores":1}', content_type="text/plain"
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.get_json()["error"]
    assert stress_running(client) is False


def test_text_plain_form_cannot_pause_scaling(client) -> None:
    # <form enctype="text/plain"><input name='{"mode":"paused","pad":"' value='"}'>
    body = '{"mode":"paused","pad":"="}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        response = client.post("/api/scaling/mode", data=body, content_type=content_type)
        assert response.status_code == 415, content_type
    response = client.post(
        "/api/scaling/execute", data='{"instances":7}', content_type="text/plain"
    )
    assert response.status_code == 415
    assert mode(client) == "auto"


@pytest.mark.parametrize("body", ["", "   ", "null", "[]", '"x"', "3"])
def test_every_post_needs_a_json_object(client, body: str) -> None:
    for path in ("/api/stress-test", "/api/scaling/mode", "/api/scaling/execute"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400, (path, body)
        assert "JSON object" in response.get_json()["error"]
    assert stress_running(client) is False  # the old empty-body default start is gone


def test_delete_without_a_body_still_cancels(client) -> None:
    assert client.delete("/api/stress-test").status_code == 200
    response = client.delete("/api/stress-test", data="x", content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://localhost:8000"},  # another port is another origin
        {"Origin": "https://localhost"},  # another scheme (default port 443)
        {"Origin": "null"},  # sandboxed frames, file: pages
        {"Origin": "not a url"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_origin_writes_are_403(client, headers: dict[str, str]) -> None:
    for method, path, body in (
        ("POST", "/api/stress-test", {"seconds": 5, "cores": 1}),
        ("POST", "/api/scaling/mode", {"mode": "paused"}),
        ("POST", "/api/scaling/execute", {"instances": 7}),
        ("DELETE", "/api/stress-test", None),
    ):
        response = client.open(path, method=method, json=body, headers=headers)
        assert response.status_code == 403, (method, path, headers)
        assert "another origin" in response.get_json()["error"]
    assert stress_running(client) is False and mode(client) == "auto"


def test_same_origin_writes_pass(client) -> None:
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    response = client.post("/api/scaling/mode", json={"mode": "dry-run"}, headers=headers)
    assert response.status_code == 200 and mode(client) == "dry-run"
    # a user typing the URL (Sec-Fetch-Site: none) and a client with no Origin pass too
    response = client.post(
        "/api/scaling/mode", json={"mode": "auto"}, headers={"Sec-Fetch-Site": "none"}
    )
    assert response.status_code == 200 and mode(client) == "auto"


def test_foreign_host_is_421_for_reads_too(client) -> None:
    for path in ("/", "/api/metrics", "/api/system/health", "/api/verification", "/metrics"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 421, path
        assert "evil.example" in response.get_json()["error"]
    assert (
        client.post(
            "/api/scaling/mode", json={"mode": "paused"}, headers={"Host": "evil.example:5000"}
        ).status_code
        == 421
    )
    assert mode(client) == "auto"
    for host in (
        "localhost",
        "localhost:5000",
        "127.0.0.1:5000",
        "127.9.9.9",
        "[::1]:5000",
        "LOCALHOST.",
    ):
        assert client.get("/api/system/health", headers={"Host": host}).status_code == 200, host
    assert client.get("/", headers={"Host": "localhost:x"}).status_code == 421


def test_host_policy_configured_names(monkeypatch: pytest.MonkeyPatch) -> None:
    named = HostPolicy.from_settings(
        Settings(host="10.1.2.3", token=TOKEN, allowed_hosts=("mon.example.org", ".corp.example"))
    )
    assert named.accepts("10.1.2.3") and named.accepts("mon.example.org")
    assert named.accepts("a.b.corp.example") and named.accepts("corp.example")
    assert not named.accepts("evil.example") and not named.accepts("10.1.2.4")
    assert not named.accepts("xcorp.example")
    wildcard = HostPolicy.from_settings(Settings(host="0.0.0.0", token=TOKEN))
    # rebinding needs a DNS name: on a wildcard bind any IP literal is this server
    assert wildcard.accepts("192.168.7.7") and wildcard.accepts("fe80::1")
    assert not wildcard.accepts("evil.example")
    assert split_host("[::1]:8080") == ("::1", 8080)
    assert split_host("Example.ORG.") == ("example.org", None)


# -- defect 8: body limit; defect 3: nesting -----------------------------------------------
def test_body_over_1_mib_is_a_json_413(client) -> None:
    body = json.dumps({"mode": "paused", "pad": "x" * MAX_BODY_BYTES})
    response = client.post("/api/scaling/mode", data=body, content_type="application/json")
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.get_json()["error"]
    assert mode(client) == "auto"


def test_chunked_body_over_the_limit_is_a_json_413(client) -> None:
    body = b'{"mode": "paused", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = client.post(
        "/api/scaling/mode",
        input_stream=io.BytesIO(body),  # no Content-Length: read until the limit
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as waitress sets it
    )
    assert response.status_code == 413 and "error" in response.get_json()
    assert mode(client) == "auto"


@pytest.mark.parametrize("path", ["/api/stress-test", "/api/scaling/mode", "/api/scaling/execute"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 100_000])
def test_deeply_nested_json_is_400_not_500(client, path: str, depth: int) -> None:
    for body in ("[" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400, (path, depth)
        error = response.get_json()["error"]
        assert f"nested more than {MAX_DEPTH} levels" in error or "must be JSON" in error


def test_depth_limit_is_exact(client) -> None:
    assert depth_of(1) == 0 and depth_of([]) == 1 and depth_of({"a": [[1]]}) == 3
    ok = '{"mode": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    response = client.post("/api/scaling/mode", data=ok, content_type="application/json")
    assert response.status_code == 400 and "mode must be one of" in response.get_json()["error"]
    deep = '{"mode": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"
    response = client.post("/api/scaling/mode", data=deep, content_type="application/json")
    assert f"nested more than {MAX_DEPTH} levels" in response.get_json()["error"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_bodies_are_400(client, constant: str) -> None:
    response = client.post(
        "/api/stress-test", data=f'{{"seconds": {constant}}}', content_type="application/json"
    )
    assert response.status_code == 400 and constant in response.get_json()["error"]


def test_long_url_and_headers_get_json_answers(client) -> None:
    response = client.get("/api/metrics?metric=" + "a" * 20_000)
    assert response.status_code == 414 and "at most" in response.get_json()["error"]
    assert len(response.data) < 200  # the message does not quote the URL
    response = client.get("/api/metrics", headers={"X-Big": "b" * 70_000})
    assert response.status_code == 431 and len(response.data) < 200


# -- defect 6: valid JSON always -----------------------------------------------------------
def test_absurd_time_range_is_400_not_infinity(client) -> None:
    response = client.get("/api/metrics?since=-1e308&until=1e308")
    assert response.status_code == 400
    assert "since must be" in response.get_json()["error"]
    for query in ("since=-1e10&until=1e10", "since=-1e10", "until=1e10&since=0"):
        response = client.get(f"/api/metrics?{query}")
        assert response.status_code == 200, query
        json.loads(response.data, parse_constant=pytest.fail)  # no NaN/Infinity


def test_provider_never_writes_infinity(app) -> None:
    provider = app.json
    assert isinstance(provider, SafeJSONProvider)
    text = provider.dumps({"a": math.inf, "b": [1.0, math.nan, {"c": -math.inf}], "d": 2})
    assert json.loads(text, parse_constant=pytest.fail) == {
        "a": None,
        "b": [1.0, None, {"c": None}],
        "d": 2,
    }


# -- defect 11: headers, redaction ---------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/api/docs", "/api/metrics", "/api/nope", "/metrics", "/static/css/dashboard.css"]
)
def test_security_headers_on_every_response(client, path: str) -> None:
    response = client.get(path)
    response.close()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_api_docs_page_has_no_inline_script(client) -> None:
    html = client.get("/api/docs").get_data(as_text=True)
    assert "js/api_docs.js" in html and 'data-spec-url="/api/openapi.json"' in html
    assert "<script>" not in html and "style=" not in html
    assert 'href="/"' in html  # back to the dashboard


@pytest.fixture
def remote_client(tmp_path, clock):
    """An app whose services are bound beyond loopback (0.0.0.0) with a token."""
    settings = Settings(data_dir=tmp_path / "remote", host="0.0.0.0", token=TOKEN)
    svc = monitor.build_services(settings, now=clock())
    svc.clock = clock
    svc.collector.prime()
    monitor.run_cycle(svc, clock.advance(1.0))
    yield create_app({"TESTING": True}, services=svc).test_client()
    monitor.stop(svc)


HOST_DETAILS = ("hostname", "python", "pid", "path")


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    return set()


def test_host_details_hidden_beyond_loopback_without_the_token(remote_client, tmp_path) -> None:
    import socket

    hostname = socket.gethostname()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/system/health", "/api/verification"):
        anonymous = remote_client.get(path)
        body = anonymous.get_json()
        assert not _keys(body) & set(HOST_DETAILS), (path, _keys(body) & set(HOST_DETAILS))
        assert str(tmp_path) not in anonymous.get_data(as_text=True)
        assert "-" not in body["host"]["platform"]  # "Linux", not the kernel release
        full = remote_client.get(path, headers=auth).get_json()
        assert full["host"]["hostname"] == hostname and full["host"]["pid"] > 0
        wrong = remote_client.get(path, headers={"Authorization": "Bearer wrong"}).get_json()
        assert "hostname" not in wrong["host"]
    assert remote_client.get("/api/system/health", headers=auth).get_json()["store"]["path"]
    page = remote_client.get("/").get_data(as_text=True)
    assert f"<title>Foresight — {hostname}" not in page and str(tmp_path) not in page


def test_loopback_shows_host_details(client) -> None:
    body = client.get("/api/system/health").get_json()
    assert body["host"]["hostname"] and body["store"]["path"].endswith("foresight.db")


# -- defect 9: verification per tick, stress cooldown --------------------------------------
def test_verification_reads_psutil_once_per_tick(client, services, clock) -> None:
    services.collector.prime()
    monitor.run_cycle(services, clock.advance(1.0))
    first = client.get("/api/verification").get_json()["fresh"]
    clock.advance(0.4)
    again = client.get("/api/verification").get_json()["fresh"]
    assert again == first  # same tick: the same reading, not a new 0.1 s measurement
    monitor.run_cycle(services, clock.advance(0.6))
    later = client.get("/api/verification").get_json()["fresh"]
    assert later["timestamp"] == clock() != first["timestamp"]


def test_stress_cooldown_after_cancel_is_429_with_retry_after(client, services, clock) -> None:
    cooldown_s = services.stress.cooldown_s
    assert cooldown_s >= 5
    assert client.post("/api/stress-test", json={"seconds": 5, "cores": 1}).status_code == 202
    assert client.delete("/api/stress-test").status_code == 200
    clock.advance(1.0)
    response = client.post("/api/stress-test", json={"seconds": 5, "cores": 1})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == math.ceil(cooldown_s - 1.0)
    assert "try again in" in response.get_json()["error"]
    assert stress_running(client) is False
    # a bad body is still a 400 first, and the cooldown ends on time
    assert client.post("/api/stress-test", json={"seconds": 500}).status_code == 400
    clock.advance(cooldown_s)
    assert client.post("/api/stress-test", json={"seconds": 5, "cores": 1}).status_code == 202
    client.delete("/api/stress-test")


def test_stress_cooldown_counts_from_a_natural_end(services, clock) -> None:
    stress = services.stress
    stress.start(0.2, 1, clock())
    deadline = time.monotonic() + 20
    while stress.status().running and time.monotonic() < deadline:
        time.sleep(0.1)  # the worker burns 0.2 s of real time, then exits
    clock.advance(0.2 + stress.cooldown_s - 0.5)  # ended at +0.2 s; 0.5 s of cooldown left
    from foresight.live.stress import StressCooldownError

    with pytest.raises(StressCooldownError) as caught:
        stress.start(0.2, 1, clock())
    assert caught.value.retry_after_s == pytest.approx(0.5)
    assert caught.value.retry_header() == "1"
    clock.advance(0.5)
    assert stress.start(0.2, 1, clock()).cores == 1
    stress.cancel(clock())


# -- defect 10: what the schema says and the code does agree -------------------------------
@pytest.mark.parametrize(
    "query,message",
    [
        ("since=", "since must be a number from -1e+10 to 1e+10 (got '')"),
        ("limit=", "limit must be a whole number from 1 to 10000 (got '')"),
        ("limit=5&limit=6", "give limit once (got 2 values)"),
        ("since=-10&since=-20", "give since once"),
    ],
)
def test_empty_or_repeated_query_values_are_400(client, query: str, message: str) -> None:
    response = client.get(f"/api/metrics?{query}")
    assert response.status_code == 400 and message in response.get_json()["error"]


def test_whole_number_floats_are_whole_numbers(client) -> None:
    response = client.post("/api/scaling/execute", json={"instances": 2.0})
    assert response.status_code == 200 and response.get_json()["target"] == 2
    assert client.post("/api/scaling/execute", json={"instances": 2.5}).status_code == 400
    started = client.post("/api/stress-test", json={"seconds": 1, "cores": 1.0})
    assert started.status_code == 202 and started.get_json()["cores"] == 1
    client.delete("/api/stress-test")
