"""Contract: every documented JSON answer validates against its schema, with no extra keys.

The document comes from the same marshmallow schemas that validate requests, and every
object schema has ``additionalProperties: false``; so a key a handler sends without
documenting it fails here, as does a documented type the handler doesn't keep.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# GET paths with the query that makes the answer richest; {name} filled in below.
GETS = {
    "/api/metrics": "?limit=50",
    "/api/metrics/realtime": "",
    "/api/system/health": "",
    "/api/verification": "",
    "/api/stress-test": "",
    "/api/predictions": "?hours=1",
    "/api/metrics/{name}/forecast": "?hours=1",
    "/api/anomalies": "",
    "/api/scaling/status": "",
    "/api/scaling/history": "?limit=20",
    "/api/resources": "",
    "/api/scaling/desired": "",
    "/api/models": "",
    "/api/alerts": "",
    "/api/silences": "",
    "/api/scaling/alerts": "?hours=1",
    "/api/crash-risk": "?hours=1",
    "/api/predict": "?hours=1",
    "/api/risk/status": "",
    "/api/processes": "",
    "/api/devices": "",
}


def validator_for(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """Validate against ``schema``, resolving its ``#/components/...`` refs in ``doc``."""
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", resource)
    rooted = json.loads(json.dumps(schema).replace('"#/', '"urn:openapi#/'))
    return Draft202012Validator(rooted, registry=registry)


def json_schema(doc: dict[str, Any], operation: dict[str, Any], status: str) -> dict[str, Any]:
    response = operation["responses"][status]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response["content"]["application/json"]["schema"]


def test_every_documented_get_is_checked_here(client) -> None:
    doc = client.get("/api/openapi.json").get_json()
    documented = {
        path
        for path, item in doc["paths"].items()
        if "get" in item
        and "application/json" in item["get"]["responses"]["200"].get("content", {})
        and path != "/api/openapi.json"
    }
    assert documented == set(GETS)


@pytest.mark.parametrize("path", sorted(GETS))
def test_get_answers_match_their_schema(busy, client, path: str) -> None:
    doc = client.get("/api/openapi.json").get_json()
    url = path.replace("{name}", "cpu_percent") + GETS[path]
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    schema = json_schema(doc, doc["paths"][path]["get"], "200")
    errors = sorted(validator_for(doc, schema).iter_errors(body), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


# Follow-up GETs a poller makes with the cursor of a first answer: (path, cursor key).
CURSOR_GETS = [("/api/alerts", "cursor"), ("/api/metrics/realtime", "since")]


@pytest.mark.parametrize(("path", "param"), CURSOR_GETS)
def test_cursor_follow_ups_match_their_schema(busy, client, path: str, param: str) -> None:
    doc = client.get("/api/openapi.json").get_json()
    first = client.get(path).get_json()
    response = client.get(path, query_string={param: first["cursor"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    schema = json_schema(doc, doc["paths"][path]["get"], "200")
    errors = sorted(validator_for(doc, schema).iter_errors(response.get_json()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_the_check_is_strict(busy, client) -> None:
    """An undocumented key fails the same validator (the test can fail)."""
    doc = client.get("/api/openapi.json").get_json()
    body = client.get("/api/system/health").get_json()
    body["surprise"] = 1
    schema = json_schema(doc, doc["paths"]["/api/system/health"]["get"], "200")
    assert any("surprise" in e.message for e in validator_for(doc, schema).iter_errors(body))


def test_errors_match_the_error_schema(client) -> None:
    doc = client.get("/api/openapi.json").get_json()
    response = client.get("/api/metrics?limit=0")
    assert response.status_code == 400
    schema = json_schema(doc, doc["paths"]["/api/metrics"]["get"], "400")
    assert not list(validator_for(doc, schema).iter_errors(response.get_json()))


def test_operations_have_unique_ids_and_tags(client) -> None:
    doc = client.get("/api/openapi.json").get_json()
    ids = []
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                ids.append(operation["operationId"])
                assert operation["tags"], operation["operationId"]
    assert len(ids) == len(set(ids))


def test_unsafe_operations_document_the_token_rule(services) -> None:
    from dashboard import create_app

    client = create_app({"TESTING": True, "TOKEN": "a" * 20}, services=services).test_client()
    doc = client.get("/api/openapi.json").get_json()
    post = doc["paths"]["/api/scaling/mode"]["post"]
    assert post["security"] == [{"bearer": []}] and "401" in post["responses"]
    assert "security" not in doc["paths"]["/api/metrics"]["get"]


def test_pushed_samples_answer_matches_its_schema(client, clock) -> None:
    """POST /api/samples (a public contract): the answer, a 400, and the listing of targets."""
    doc = client.get("/api/openapi.json").get_json()
    operation = doc["paths"]["/api/samples"]["post"]
    samples = [{"timestamp": clock() - 1, "target": "web-1", "metric": "up", "value": 1.0}]
    response = client.post("/api/samples", json={"samples": samples})
    assert response.status_code == 200
    schema = json_schema(doc, operation, "200")
    assert not list(validator_for(doc, schema).iter_errors(response.get_json()))
    bad = client.post("/api/samples", json={"samples": [{"timestamp": 1}]})
    assert bad.status_code == 400
    assert not list(validator_for(doc, json_schema(doc, operation, "400")).iter_errors(bad.json))
    listed = client.get("/api/metrics?target=web-1").get_json()
    schema = json_schema(doc, doc["paths"]["/api/metrics"]["get"], "200")
    assert not list(validator_for(doc, schema).iter_errors(listed))
    assert listed["targets"]["up"] == ["web-1"] and "up" in listed["metrics"]
