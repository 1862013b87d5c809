"""The Flask app: dashboard page, JSON API, OpenAPI docs and Prometheus ``/metrics``.

``create_app(test_config=None, services=None)`` builds everything per call (flaskr
style); nothing happens at import time and no scheduler is started here —
``foresight.cli.monitor.run`` starts sampling. ``python dashboard.py [flags]`` is
``python main.py --monitor [flags]``.

The API lives in ``foresight.web``'s blueprints, imported and registered below; they get
the token rule and the JSON error shape from here.
"""

from __future__ import annotations

import hmac
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    render_template_string,
    request,
)
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException, InternalServerError

from foresight.core.catalog import metric_info
from foresight.core.errors import InputError
from foresight.core.settings import Settings
from foresight.live.services import Services, build_services
from foresight.web import models_api, predictions_api, scaling_api
from foresight.web import monitor_api as api_monitor
from foresight.web.openapi import DOCS_HTML, build_document
from foresight.web.prometheus import make_registry

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _register_errors(app: Flask) -> None:
    @app.errorhandler(InputError)
    def bad_input(exc: InputError) -> Response:
        return _error(400, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if not _is_api():
            return exc
        message = exc.description or exc.name
        if exc.code == 404:
            message = f"no API endpoint at {request.path}; see /api/docs"
        elif exc.code == 405:
            allowed = exc.get_response().headers.get("Allow", "")
            message = (
                f"method {request.method} is not allowed for {request.path}; allowed: {allowed}"
            )
        response = _error(exc.code or 500, message)
        if exc.code == 405:
            response.headers["Allow"] = exc.get_response().headers.get("Allow", "")
        return response

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError) -> Response | InternalServerError:
        # Flask has already logged the original exception with its traceback.
        if not _is_api():
            return exc
        return _error(
            500, "internal error while handling the request; the server log has the details"
        )


def _register_auth(app: Flask) -> None:
    @app.before_request
    def require_token() -> Response | None:
        token = current_app.config.get("TOKEN")
        if not token or request.method in SAFE_METHODS or request.routing_exception:
            return None  # nothing to protect (a 404/405 follows for unrouted requests)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return _error(
            401,
            f"{request.method} {request.path} changes state and needs "
            "the header 'Authorization: Bearer <token>' (FORESIGHT_TOKEN)",
            {"WWW-Authenticate": 'Bearer realm="foresight"'},
        )


def page_context(services: Services) -> dict[str, Any]:
    """What templates/index.html gets: catalog, interval, host facts, token rule."""
    catalog = [metric_info(n).to_dict() for n in services.known_metrics()]
    return {
        "catalog": catalog,
        "interval_s": services.settings.interval_s,
        "host": api_monitor.facts(),
        "token_required": bool(current_app.config["TOKEN"]),
        "stress": services.stress.status().to_dict(),
    }


def _register_pages(app: Flask, registry_doc: dict[str, Any]) -> None:
    @app.get("/")
    def index() -> str:
        return render_template("index.html", **page_context(app.extensions["foresight"]))

    @app.get("/api/docs")
    def api_docs() -> str:
        return render_template_string(DOCS_HTML)

    @app.get("/api/openapi.json")
    def openapi_json() -> Response:
        return jsonify(registry_doc)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        body = generate_latest(app.extensions["foresight_registry"])
        return Response(
            body,
            mimetype=CONTENT_TYPE_LATEST.split(";")[0],
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )


def create_app(
    test_config: Mapping[str, Any] | None = None, services: Services | None = None
) -> Flask:
    """Build the app around ``services`` (built from config when None, not started)."""
    app = Flask(__name__)
    app.config.from_mapping(TOKEN=None, DATA_DIR="data", INTERVAL_S=1.0, RETENTION_DAYS=7.0)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep documented key order
    if services is not None:
        app.config["TOKEN"] = services.settings.token
    if test_config is not None:
        app.config.from_mapping(test_config)
    if services is None:
        services = build_services(
            Settings(
                data_dir=Path(app.config["DATA_DIR"]),
                interval_s=float(app.config["INTERVAL_S"]),
                retention_days=float(app.config["RETENTION_DAYS"]),
                token=app.config["TOKEN"],
            )
        )
    app.extensions["foresight"] = services
    app.extensions["foresight_cache"] = api_monitor.TickCache()
    app.extensions["foresight_fragments"] = api_monitor.PointFragments()
    app.extensions["foresight_registry"] = make_registry(services)
    _register_errors(app)
    _register_auth(app)
    extra_paths: dict[str, Any] = {}
    for module in (api_monitor, scaling_api, predictions_api, models_api):
        app.register_blueprint(module.blueprint)
        extra_paths.update(getattr(module, "OPENAPI_PATHS", {}))
    _register_pages(app, build_document(extra_paths))
    return app


if __name__ == "__main__":
    import main

    sys.exit(main.main(["--monitor", *sys.argv[1:]]))
