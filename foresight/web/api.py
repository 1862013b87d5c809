"""flask-smorest wiring: one Api per app, Blueprints whose schemas validate and document.

Why flask-smorest (rather than APIFlask): it plugs into a plain ``Flask`` app built by
our own factory (APIFlask replaces the app class), it is maintained by the marshmallow
team whose schemas it uses, and it leaves responses to the handlers, so the cached-bytes
fast path of ``/api/metrics`` stays as it is while its schema is still documented.

Validation errors keep the API's one error shape: the parser turns marshmallow's
messages into one sentence and raises ``InputError``, which ``dashboard`` answers as
HTTP 400 ``{"error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

import flask_smorest
from flask import Flask
from webargs.flaskparser import FlaskParser

from foresight.core.errors import InputError
from foresight.web.responses import ErrorSchema

TITLE = "Foresight API"
DESCRIPTION = (
    "Live host metrics, history, forecasts, anomalies and scaling. Errors are JSON "
    '`{"error": "..."}` with the status code. State-changing requests take JSON bodies '
    "only and, when FORESIGHT_TOKEN is set, need `Authorization: Bearer <token>`."
)


_UNSET = object()


def _sent(data: Any, key: Any) -> Any:
    """What the request gave for ``key`` (a field name or a list index), or ``_UNSET``."""
    if isinstance(data, Mapping):
        return data.get(key, _UNSET)
    if isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
        return data[key]
    return _UNSET


def _named(key: Any, text: str, value: Any) -> str:
    """``text`` naming its field and the value sent: marshmallow's own messages ("Not a
    valid string.", "Field may not be null.") name neither, and left alone a body of five
    fields got back a 400 that did not say which one was wrong."""
    if text.startswith(f"{key} ") or text.startswith(f"{key}:"):
        return text  # our own messages already say "limit must be ... (got '0')"
    words = text[:1].lower() + text[1:].rstrip(".")
    quiet = value is _UNSET or value is None or "(got " in text  # None: "may not be null"
    got = "" if quiet else f" (got {value!r:.80})"
    return f"{key}: {words}{got}"


def sentence(messages: Any, data: Any = _UNSET) -> str:
    """One sentence from marshmallow's nested error messages; ``data`` is the input they
    are about, so a message can quote the value it refused."""
    if isinstance(messages, Mapping) and set(messages) <= {"json", "query", "path", "form"}:
        # webargs keys the messages by location; one location per request here
        merged: dict[str, Any] = {}
        for part in messages.values():
            merged.update(part if isinstance(part, Mapping) else {"_schema": part})
        messages = merged
    if not isinstance(messages, Mapping):
        return "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
    unknown = sorted(k for k, v in messages.items() if v == ["Unknown field."])
    parts: list[str] = []
    for key, value in messages.items():
        if key in unknown:
            continue
        text = value[0] if isinstance(value, list) and value else value
        if key == "_schema":
            parts.append("the body must be a JSON object")
        elif text == "Missing data for required field.":
            parts.append(f"{key} is required")
        elif isinstance(text, Mapping):
            parts.append(f"{key}: {sentence(text, _sent(data, key))}")
        else:
            parts.append(_named(key, str(text), _sent(data, key)))
    if unknown:
        parts.append(f"unknown field(s) {', '.join(unknown)}")
    return "; ".join(parts)


class Parser(FlaskParser):
    """webargs' Flask parser, raising our InputError (HTTP 400) with one sentence."""

    DEFAULT_VALIDATION_STATUS = 400

    def handle_error(
        self, error: Any, req: Any, schema: Any, *, error_status_code: Any, error_headers: Any
    ) -> NoReturn:
        raise InputError(sentence(error.messages, getattr(error, "data", _UNSET)))

    def load_querystring(self, req: Any, schema: Any) -> Any:
        """The query string, refusing a repeated parameter (which value would count?)."""
        for name in schema.fields:
            values = req.args.getlist(name)
            if len(values) > 1:
                raise InputError(f"give {name} once (got {len(values)} values)")
        return super().load_querystring(req, schema)

    def _handle_invalid_json_error(
        self, error: Any, req: Any, *args: Any, **kwargs: Any
    ) -> NoReturn:
        raise InputError(f"the body must be JSON (got a parse error: {error})")


class Blueprint(flask_smorest.Blueprint):
    """A smorest Blueprint using our parser; an argument schema given as a class is made
    once, here, not at every request (webargs instantiates a class per request: its
    fields deep-copied each time). Loading keeps no state on the schema."""

    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema: Any, **kwargs: Any) -> Any:
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)


class Api(flask_smorest.Api):
    """The app's Api: our error schema, no routes of its own, no catch-all error handler
    (``dashboard`` owns the JSON error handlers)."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        return None


def make_api(app: Flask, version: str = "1") -> Api:
    """Configure and attach the Api (call once per app, before registering blueprints)."""
    app.config.setdefault("API_TITLE", TITLE)
    app.config.setdefault("API_VERSION", version)
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {"description": DESCRIPTION},
            "components": {
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "FORESIGHT_TOKEN",
                    }
                }
            },
        },
    )
    return Api(app)


def _openapi_path(rule: str) -> str:
    """Flask's ``/api/metrics/<name>/forecast`` as OpenAPI's ``/api/metrics/{name}/forecast``."""
    out = []
    for part in rule.split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "{" + part[1:-1].split(":")[-1] + "}"
        out.append(part)
    return "/".join(out)


UNSAFE = ("post", "put", "patch", "delete")


def document(
    api: Api,
    app: Flask,
    *,
    token_required: bool,
    bounds: Mapping[tuple[str, str], Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document: the generated spec plus operationIds and the token rule.

    ``bounds`` adds this monitor's own limits to schema fields, e.g.
    ``{("StressBody", "cores"): {"maximum": 2}}``: the document describes the server
    that serves it, so a client (or schemathesis) knows what it will accept.
    """
    doc = api.spec.to_dict()
    schemas = doc.get("components", {}).get("schemas", {})
    for (schema, field), limits in (bounds or {}).items():
        schemas[schema]["properties"][field].update(limits)
    endpoints = {
        (_openapi_path(rule.rule), method.lower()): rule.endpoint.rsplit(".", 1)[-1]
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
    }
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method not in (*UNSAFE, "get"):
                continue
            name = endpoints.get((path, method))
            if name and "operationId" not in operation:
                operation["operationId"] = name
            if method in UNSAFE and token_required:
                operation["security"] = [{"bearer": []}]
                operation.setdefault("responses", {})["401"] = {
                    "description": "The request lacks 'Authorization: Bearer <token>'",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
    return doc
