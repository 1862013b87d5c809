"""The Flask app: dashboard page, JSON API, OpenAPI docs and Prometheus ``/metrics``.

``create_app(test_config=None, services=None)`` builds everything per call (flaskr
style); nothing happens at import time and no scheduler is started here —
``foresight.cli.monitor.run`` starts sampling. ``python dashboard.py [flags]`` is
``python main.py --monitor [flags]``.

The API lives in ``foresight.web``'s blueprints, imported and registered below; they get
the token rule and the JSON error shape from here.
"""

from __future__ import annotations

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
    request,
    send_from_directory,
)
from prometheus_client.exposition import choose_encoder
from werkzeug.exceptions import HTTPException, InternalServerError

from foresight.core.catalog import metric_info
from foresight.core.errors import InputError
from foresight.core.settings import Settings
from foresight.live import alerting as live_alerting
from foresight.live.services import Services, build_services
from foresight.web import (
    alerts_api,
    models_api,
    predictions_api,
    risk_api,
    samples_api,
    scaling_api,
    security,
    system_api,
)
from foresight.web import monitor_api as api_monitor
from foresight.web.api import Api, Blueprint, document, make_api
from foresight.web.prometheus import make_registry
from metrics_collector import cpu_count

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
        if security.bearer_matches(token):
            return None
        return _error(
            401,
            f"{request.method} {request.path} changes state and needs "
            "the header 'Authorization: Bearer <token>' (FORESIGHT_TOKEN)",
            {"WWW-Authenticate": 'Bearer realm="foresight"'},
        )


def page_context(services: Services) -> dict[str, Any]:
    """What templates/index.html gets: catalog, interval, host facts, token rule."""
    catalog = [metric_info(n).to_dict() for n in sorted(services.target_metrics())]
    return {
        "catalog": catalog,
        "target_cpus": target_cpus(services),
        "interval_s": services.settings.interval_s,
        "host": security.redact_host_details(api_monitor.facts()),
        "token_required": bool(current_app.config["TOKEN"]),
        "stress": services.stress.status().to_dict(),
    }


def target_cpus(services: Services) -> dict[str, int | None]:
    """Every target's logical CPU count ("": this host; None: unknown, so no per-CPU
    load levels for it), for the per-CPU thresholds the page shows per target."""
    alerts = services.extras.get(live_alerting.EXTRAS_KEY)
    targets = dict.fromkeys(["", *sorted({t for f in services.targets().values() for t in f})])
    if alerts is None:  # no counts are read without the alerts stage: this host's only
        return {t: None if t else cpu_count() for t in targets}
    return {t: alerts.cpus.cores(t) for t in targets}


pages = Blueprint("pages", __name__, description="The dashboard, these docs, Prometheus")


@pages.route("/", methods=["GET"])
@pages.doc(responses={"200": {"description": "The dashboard (HTML)"}})
def index() -> str:
    """The live dashboard."""
    return render_template("index.html", **page_context(current_app.extensions["foresight"]))


@pages.route("/api/docs", methods=["GET"])
@pages.doc(responses={"200": {"description": "Swagger UI (HTML)"}})
def api_docs() -> str:
    """Interactive API documentation."""
    return render_template("api_docs.html")


@pages.route("/api/openapi.json", methods=["GET"])
@pages.doc(
    responses={
        "200": {
            "description": "This OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
)
def openapi_json() -> Response:
    """This document."""
    api: Api = current_app.extensions["foresight_api"]
    services: Services = current_app.extensions["foresight"]
    bounds: dict[tuple[str, str], dict[str, float]] = {
        ("StressBody", "cores"): {"maximum": services.stress.max_cores}
    }
    scaling = services.extras.get(scaling_api.EXTRAS_KEY)
    if scaling is not None:
        pool = scaling.pool
        bounds[("ExecuteBody", "instances")] = {
            "minimum": pool.min_instances,
            "maximum": pool.max_instances,
        }
    token_required = bool(current_app.config["TOKEN"])
    return jsonify(document(api, current_app, token_required=token_required, bounds=bounds))


@pages.route("/metrics", methods=["GET"])
@pages.doc(
    responses={
        "200": {
            "description": "Prometheus exposition (text format, base units)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
)
def prometheus_metrics() -> Response:
    """Prometheus exposition of the app's own registry (content negotiated by Accept)."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(current_app.extensions["foresight_registry"])
    return Response(body, headers={"Content-Type": content_type})


def favicon() -> Response:
    """``/favicon.ico``: the SVG icon (browsers ask for this path before any <link>)."""
    static = current_app.static_folder
    assert static is not None
    return send_from_directory(static, "img/favicon.svg", mimetype="image/svg+xml", max_age=86400)


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
    api = make_api(app)
    app.extensions["foresight_api"] = api
    _register_errors(app)
    _register_auth(app)
    app.add_url_rule("/favicon.ico", "favicon", favicon)  # an asset: not in the API docs
    security.install(app, services.settings)
    for blueprint in (
        api_monitor.blueprint,
        scaling_api.blueprint,
        predictions_api.blueprint,
        models_api.blueprint,
        alerts_api.blueprint,
        risk_api.blueprint,
        system_api.blueprint,
        samples_api.blueprint,
        pages,
    ):
        api.register_blueprint(blueprint)
    return app


if __name__ == "__main__":
    import main

    sys.exit(main.main(["--monitor", *sys.argv[1:]]))
