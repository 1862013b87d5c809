"""Every API endpoint: shapes, the 400 table, the token rule, OpenAPI, /metrics."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest
from flask import Blueprint
from prometheus_client.parser import text_string_to_metric_families

from dashboard import create_app
from foresight.live import services as monitor


@pytest.fixture
def sampled(services: monitor.Services, clock) -> monitor.Services:
    """Services with ten 1-s ticks collected at the fake clock's times."""
    services.collector.prime()
    for _ in range(10):
        monitor.run_cycle(services, clock.advance(1.0))
    return services


def test_metrics_default_window_and_shape(client, sampled, clock) -> None:
    body = client.get("/api/metrics").get_json()
    assert body["until"] == clock() and body["since"] == clock() - 300
    assert body["limit"] == 300 and body["step_s"] is None  # raw from the ring buffer
    cpu = body["metrics"]["cpu_percent"]
    assert cpu["unit"] == "%" and cpu["warning"] == 80 and cpu["critical"] == 90
    assert cpu["current"]["timestamp"] == clock()
    assert cpu["current"]["level"] in {"ok", "warning", "critical"}
    assert len(cpu["points"]) == 10  # primed before the first tick
    assert all(0 <= v <= 100 for _, v in cpu["points"])
    assert len(body["metrics"]["memory_percent"]["points"]) == 10


def test_metrics_selection_limit_and_step(client, sampled, clock) -> None:
    start = clock() - 10
    body = client.get(
        f"/api/metrics?metric=memory_percent,load1&since={start}&until={clock()}&limit=3"
    ).get_json()
    assert set(body["metrics"]) == {"memory_percent", "load1"}
    assert all(len(m["points"]) <= 3 for m in body["metrics"].values())
    assert body["step_s"] == pytest.approx(10 / 3)
    body = client.get(f"/api/metrics?metric=load1&since={start}&step=5").get_json()
    assert body["step_s"] == pytest.approx(5.0)
    # buckets [s, s+5), [s+5, s+10) and the instant s+10 (until is inclusive)
    assert [t for t, _ in body["metrics"]["load1"]["points"]] == [
        start + 2.5,
        start + 7,
        start + 10,
    ]
    relative = client.get("/api/metrics?metric=load1&since=-4.5").get_json()
    assert len(relative["metrics"]["load1"]["points"]) == 5


def test_metrics_store_and_buffer_agree(client, sampled, clock, app) -> None:
    start = clock() - 20
    from_buffer = client.get(f"/api/metrics?since={start}&until={clock()}").get_json()
    sampled.recent.clear()
    app.extensions["foresight_cache"] = type(app.extensions["foresight_cache"])()
    from_store = client.get(f"/api/metrics?since={start}&until={clock()}").get_json()
    for name, metric in from_buffer["metrics"].items():
        assert metric["points"] == from_store["metrics"][name]["points"], name
    assert from_store["metrics"]["load1"]["current"]["timestamp"] == clock()


def test_metrics_are_cached_per_tick(client, sampled, clock) -> None:
    first = client.get("/api/metrics?limit=5").data
    clock.advance(0.5)  # same tick: the same bytes
    assert client.get("/api/metrics?limit=5").data == first
    monitor.run_cycle(sampled, clock.advance(0.5))
    assert client.get("/api/metrics?limit=5").data != first


BAD_QUERIES = [
    ("metric=nope", "unknown metric(s) 'nope'; known metrics: active_connections, api_response_ms"),
    ("metric=cpu_percent,zzz", "'zzz'"),
    ("since=abc", "since must be a number"),
    ("until=nan", "until must be a finite number"),
    ("since=inf", "since must be a finite number"),
    ("since=2000000000&until=1900000000", "since must be <= until"),
    # the dashboard URL's words: a reversed pair is a 400 quoting both, not the default
    (
        "from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
        "from must be <= to (got from=1796169600 (2026-12-02T00:00:00Z), "
        "to=1796083200 (2026-12-01T00:00:00Z))",
    ),
    ("from=2000000000&to=1900000000", "from must be <= to (got from=2000000000"),
    ("since=1900000000&to=1800000000", "since must be <= to"),
    ("from=-10&to=-20", "from must be <= to"),
    ("from=1&since=2", "give since or from, not both (got since=2, from=1)"),
    ("to=1&until=2", "give until or to, not both"),
    ("from=yesterday", "from must be epoch seconds or an ISO 8601 time (got 'yesterday')"),
    ("from=2026-12-01", "from must be epoch seconds or an ISO 8601 time"),
    ("to=1e30", "to must be a number from -1e+10 to 1e+10"),
    ("limit=0", "limit must be a whole number from 1 to 10000"),
    ("limit=10001", "limit must be"),
    ("limit=2.5", "limit must be"),
    ("limit=lots", "limit must be"),
    ("step=0", "step must be a number from 0.001"),
    ("step=-5", "step must be a number from 0.001"),
    ("step=x", "step must be a number"),
]


def test_from_and_to_are_since_and_until_in_the_page_urls_words(client, sampled) -> None:
    plain = client.get("/api/metrics?since=-200&until=-100&metric=cpu_percent").get_json()
    iso = {
        k: datetime.fromtimestamp(plain[k], UTC).isoformat().replace("+00:00", "Z")
        for k in ("since", "until")
    }
    both = client.get(
        f"/api/metrics?from={iso['since']}&to={iso['until']}&metric=cpu_percent"
    ).get_json()
    assert (both["since"], both["until"]) == (plain["since"], plain["until"])
    assert both == plain


@pytest.mark.parametrize("query,message", BAD_QUERIES)
def test_metrics_bad_parameters_are_400(client, sampled, query: str, message: str) -> None:
    response = client.get(f"/api/metrics?{query}")
    assert response.status_code == 400
    assert set(response.get_json()) == {"error"}
    assert message in response.get_json()["error"]


@pytest.mark.parametrize("query", ["since=abc", "since=nan"])
def test_realtime_bad_cursor_is_400(client, query: str) -> None:
    response = client.get(f"/api/metrics/realtime?{query}")
    assert response.status_code == 400 and "since" in response.get_json()["error"]


def test_realtime_cursor(client, sampled, clock) -> None:
    body = client.get("/api/metrics/realtime").get_json()
    assert len(body["samples"]) == 10 and body["cursor"] == clock()
    assert body["interval_s"] == 1.0 and body["server_time"] == clock()
    assert body["current"]["memory_percent"]["unit"] == "%"
    cursor = body["cursor"]
    assert client.get(f"/api/metrics/realtime?since={cursor}").get_json()["samples"] == []
    monitor.run_cycle(sampled, clock.advance(1.0))
    newer = client.get(f"/api/metrics/realtime?since={cursor}").get_json()
    assert [s["timestamp"] for s in newer["samples"]] == [clock()]
    assert newer["cursor"] == clock()
    assert set(newer["samples"][0]["values"]) >= {"cpu_percent", "memory_percent"}


def test_health(client, sampled, clock) -> None:
    body = client.get("/api/system/health").get_json()
    assert body["status"] == "stopped"  # the scheduler is not started in tests
    assert body["last_sample_age_s"] == 0.0 and body["interval_s"] == 1.0
    assert body["store"]["samples"] >= 10 * 10 and body["store"]["size_bytes"] > 0
    stats = sampled.store.stats()  # the cheap counts health uses say what stats() says
    assert (body["store"]["samples"], body["store"]["metrics"]) == (
        stats["values"],
        stats["metrics"],
    )
    assert set(body["jitter_ms"]) == {"p50", "p99", "max"}
    assert {
        "hostname",
        "platform",
        "cpu_count",
        "boot_time",
        "python",
        "psutil_version",
        "pid",
    } <= set(body["host"])
    sampled.running = True
    assert client.get("/api/system/health").get_json()["status"] == "ok"
    clock.advance(60)
    assert client.get("/api/system/health").get_json()["status"] == "degraded"


def test_verification(client, sampled, clock) -> None:
    body = client.get("/api/verification").get_json()
    assert body["pid"] > 0 and body["psutil_version"]
    assert body["stored"]["timestamp"] == clock()
    assert 0 <= body["fresh"]["values"]["memory_percent"] <= 100
    assert "memory_percent" in body["difference"]
    assert body["samples"]["in_memory"] == 10


def test_stress_test_lifecycle(client) -> None:
    assert client.get("/api/stress-test").get_json()["running"] is False
    started = client.post("/api/stress-test", json={"seconds": 5, "cores": 1})
    assert started.status_code == 202
    assert started.get_json()["running"] is True and started.get_json()["cores"] == 1
    try:
        assert client.post("/api/stress-test", json={"seconds": 1}).status_code == 409
        status = client.get("/api/stress-test").get_json()
        assert status["running"] is True and 0 < status["remaining_s"] <= 5
    finally:
        cancelled = client.delete("/api/stress-test")
    assert cancelled.status_code == 200 and cancelled.get_json()["running"] is False


BAD_BODIES = [
    ('{"seconds": 121}', "seconds must be a number > 0 and <= 120"),
    ('{"seconds": 0}', "seconds must be"),
    ('{"seconds": "10"}', "seconds must be"),
    ('{"cores": 0}', "cores must be a whole number >= 1"),
    ('{"cores": 999}', "cores must be a whole number from 1 to"),
    ('{"cores": 1.5}', "cores must be"),
    ('{"cores": true}', "cores must be"),
    ('{"speed": 3}', "unknown field(s) speed"),
    ("[1]", "must be a JSON object"),
    ("{nope", "must be JSON"),
]


@pytest.mark.parametrize("body,message", BAD_BODIES)
def test_stress_test_bad_bodies_are_400(client, body: str, message: str) -> None:
    response = client.post("/api/stress-test", data=body, content_type="application/json")
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert client.get("/api/stress-test").get_json()["running"] is False


def test_token_rule(services, clock) -> None:
    app = create_app({"TESTING": True, "TOKEN": "s3cret"}, services=services)
    client = app.test_client()
    assert client.get("/api/stress-test").status_code == 200  # reads stay open
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        response = client.post("/api/stress-test", json={"seconds": 1}, headers=headers)
        assert response.status_code == 401
        assert "Authorization: Bearer" in response.get_json()["error"]
        assert client.delete("/api/stress-test", headers=headers).status_code == 401
    ok = client.post(
        "/api/stress-test", json={"seconds": 200}, headers={"Authorization": "Bearer s3cret"}
    )
    assert ok.status_code == 400  # authorised; then the body is checked


def test_json_errors_for_404_405_and_500(services, monkeypatch: pytest.MonkeyPatch) -> None:
    bp = Blueprint("fake", __name__, url_prefix="/api/fake")

    @bp.get("/boom")
    def boom() -> str:
        raise RuntimeError("bug")

    @bp.post("/change")
    def change() -> str:
        return "changed"

    app = create_app(
        {"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "TOKEN": "t"}, services=services
    )
    app.register_blueprint(bp)  # a blueprint added later gets the same rules
    client = app.test_client()
    assert client.get("/api/nope").get_json() == {
        "error": "no API endpoint at /api/nope; see /api/docs"
    }
    response = client.post("/api/metrics")
    assert response.status_code == 405 and "allowed: " in response.get_json()["error"]
    response = client.get("/api/fake/boom")
    assert response.status_code == 500 and set(response.get_json()) == {"error"}
    assert client.post("/api/fake/change").status_code == 401  # the token rule covers it


def test_openapi_document_is_valid_and_complete(app, client) -> None:
    from openapi_spec_validator import validate

    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api") or rule.rule == "/metrics":
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            assert path in doc["paths"], f"{rule.rule} is not in the OpenAPI document"
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in doc["paths"][path], f"{method} {rule.rule}"
    params = {p["name"] for p in doc["paths"]["/api/metrics"]["get"]["parameters"]}
    assert params == {"metric", "since", "until", "from", "to", "limit", "step", "target"}


def test_api_docs_page_uses_local_assets(client) -> None:
    html = client.get("/api/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui-bundle.js" in html and "/api/openapi.json" in html
    assert "http" not in html.replace("http-equiv", "")


def test_prometheus_metrics_parse(client, sampled) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(True))}
    assert 0 <= families["foresight_cpu_utilisation_ratio"].samples[0].value <= 1
    assert 0 <= families["foresight_memory_utilisation_ratio"].samples[0].value <= 1
    cores = families["foresight_cpu_core_utilisation_ratio"].samples
    assert cores and all("cpu" in s.labels for s in cores)  # node_exporter's label
    assert families["foresight_sampler_ticks"].type == "counter"
    assert "foresight_network_receive_bytes_per_second" not in families  # rate() the counter
    assert families["foresight_sampler_jitter_seconds"].type == "summary"
    assert families["process_resident_memory_bytes"].samples[0].value > 0
    assert families["foresight_build_info"].samples[0].labels["version"]
    assert "foresight_store_size_bytes" in families


def test_two_apps_have_separate_registries(services) -> None:
    a = create_app({"TESTING": True}, services=services)
    b = create_app({"TESTING": True}, services=services)
    assert a.extensions["foresight_registry"] is not b.extensions["foresight_registry"]
    assert a.test_client().get("/metrics").status_code == 200


def test_index_page_renders(client, sampled) -> None:
    response = client.get("/")
    assert response.status_code == 200 and b"<html" in response.data.lower()


def test_create_app_without_services_starts_nothing(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    svc = app.extensions["foresight"]
    try:
        assert not svc.running and not svc.scheduler.running
        assert app.test_client().get("/api/system/health").get_json()["status"] == "stopped"
    finally:
        monitor.stop(svc)


def test_metrics_endpoint_serves_default_query_fast(client, sampled) -> None:
    client.get("/api/metrics?limit=300")
    started = time.perf_counter()
    for _ in range(200):
        client.get("/api/metrics?limit=300")
    per_request_ms = (time.perf_counter() - started) / 200 * 1000
    assert per_request_ms < 10  # cached bytes: no SQLite, no JSON encoding


# marshmallow's own messages name neither the field nor the value: a 400 said only
# "Not a valid string." about a body of several fields.
UNNAMED_FIELD_BODIES = [
    ("/api/train", {"metric": 5}, "metric: not a valid string (got 5)"),
    ("/api/scaling/mode", {"mode": None}, "mode: field may not be null"),
    ("/api/risk/predict/batch", {"rows": 5}, "rows: not a valid list (got 5)"),
    ("/api/risk/predict/batch", {"rows": [5]}, "rows: 0: not a valid mapping type (got 5)"),
    (
        "/api/silences",
        {"matchers": [{"name": 1, "value": "x"}], "ends_at": 5},
        "matchers: 0: name: not a valid string (got 1)",
    ),
    # JSON booleans only: marshmallow's Boolean read "yes", "no", "0" and 1 as choices
    ("/api/risk/train", {"alerts": "yes"}, "alerts: not a valid boolean (got 'yes')"),
    (
        "/api/silences",
        {"matchers": [{"name": "a", "value": "x", "isRegex": 1}], "ends_at": 5},
        "matchers: 0: isRegex: not a valid boolean (got 1)",
    ),
]


@pytest.mark.parametrize("path,body,message", UNNAMED_FIELD_BODIES)
def test_a_400_names_the_field_and_the_value(client, path: str, body: dict, message: str) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == message


def test_argument_schemas_made_once_answer_concurrent_requests_each_its_own(app) -> None:
    """Argument schemas are made once per route, not per request (foresight.web.api's
    Blueprint): eight threads at once, each with its own good or bad limit, each get the
    answer to their own query (the error quotes their own value)."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(i: int) -> tuple[int, int, str]:
        client = app.test_client()
        value = str(1 + i % 7) if i % 2 else f"x{i}"
        response = client.get(f"/api/alerts?limit={value}")
        return i, response.status_code, str(response.get_json())

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(400)))
    for i, status, body in answers:
        if i % 2:
            assert status == 200, body
        else:
            assert status == 400 and f"(got 'x{i}')" in body, body
