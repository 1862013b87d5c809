"""Request guards and response headers: no cross-site writes, no DNS rebinding.

Loopback is not a trust boundary (DESIGN.md): any page in the operator's browser can
send a "simple" cross-site POST (``fetch(url, {mode: "no-cors"})``, a text/plain form)
without a CORS preflight, and a rebinding DNS name makes the browser treat this server
as the attacker's own origin. ``install(app, settings)`` adds, per request:

1. ``Host`` must be a loopback name, ``--host``, or one of FORESIGHT_ALLOWED_HOSTS
   (on a wildcard bind also an IP literal or this machine's hostname: rebinding needs
   a DNS *name*) — else 421. This covers GETs too.
2. The request line and headers are bounded (414/431 as JSON, well below waitress's own
   plain-text limit) and so is the body (1 MiB, 413 as JSON).
3. State-changing methods (POST, PUT, PATCH, DELETE): a cross-site or same-site
   ``Origin``/``Sec-Fetch-Site`` gets 403. Then, after the token rule (401), a body
   must be ``application/json`` (415), which a no-cors fetch or an HTML form cannot
   send, and a POST/PUT/PATCH body must be one JSON object (400).

and to every response: ``nosniff``, frame denial and a Content-Security-Policy that
allows only this origin's own scripts, styles and requests.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, request

from foresight.core.errors import InputError
from foresight.core.settings import Settings, is_loopback
from foresight.web.json_provider import SafeJSONProvider

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# POST /api/samples takes up to 10,000 samples: ~100-700 bytes each with long targets.
BODY_LIMITS: dict[str, int] = {"/api/samples": 8 * MAX_BODY_BYTES}
MAX_URL_BYTES = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024
# waitress's own limits (plain-text errors, but nothing bigger is ever buffered): twice
# the app's, so a request just over the app's limit still gets the JSON answer.
SERVER_MAX_BODY_BYTES = 2 * max(MAX_BODY_BYTES, *BODY_LIMITS.values())
SERVER_MAX_HEADER_BYTES = 2 * MAX_HEADER_BYTES

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NEEDS_BODY = frozenset({"POST", "PUT", "PATCH"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    # other sites can't pull our JSON in with <script>/<img> (no-cors reads)
    "Cross-Origin-Resource-Policy": "same-origin",
}
EXTENSION_KEY = "foresight_security"


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which ``Host`` names this server answers, and whether it listens beyond loopback."""

    bind_host: str
    allowed: frozenset[str]
    suffixes: tuple[str, ...]
    any_ip_literal: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        bind = settings.host.strip("[]").lower()
        names = {n.lower() for n in settings.allowed_hosts or ()}
        wildcard = bind in WILDCARD_HOSTS
        if not wildcard:
            names.add(bind)
        else:
            names.add(socket.gethostname().lower())
        return cls(
            bind_host=bind,
            allowed=frozenset(n for n in names if not n.startswith(".")),
            suffixes=tuple(n for n in names if n.startswith(".")),
            any_ip_literal=wildcard,
        )

    @property
    def beyond_loopback(self) -> bool:
        return not is_loopback(self.bind_host)

    def accepts(self, name: str) -> bool:
        """True when a request for host ``name`` (no port, lower case) may be served."""
        if is_loopback(name) or name in self.allowed:
            return True
        if any(name.endswith(s) or name == s[1:] for s in self.suffixes):
            return True
        if self.any_ip_literal:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False


def split_host(value: str) -> tuple[str, int | None]:
    """``"[::1]:5000"`` → ``("::1", 5000)``; ``"Example.org."`` → ``("example.org", None)``.

    Raises InputError for a port that is not a number.
    """
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, _, port_text = value.partition(":")
    else:
        name, port_text = value, ""
    port = None
    if port_text:
        if not port_text.isdigit() or len(port_text) > 5:
            raise InputError("the Host header has a port that is not a number")
        port = int(port_text)
    return name.rstrip("."), port


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def bearer_matches(token: str | None) -> bool:
    """True when the request carries ``Authorization: Bearer <token>`` (timing-safe)."""
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode()
    )


def _policy() -> HostPolicy:
    return current_app.extensions[EXTENSION_KEY]


def _same_origin(origin: str, host: str, port: int | None) -> bool:
    """Does an ``Origin`` header name this server: its scheme, ``Host`` name and port?

    Behind a TLS-terminating proxy the scheme matches only when waitress is told the
    original one (its ``trusted_proxy`` settings); until then such writes get 403.
    """
    if origin == "null":  # sandboxed frames, file: and data: pages
        return False
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme != request.scheme or not parts.hostname:
        return False
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname.rstrip(".") == host and (origin_port or default) == (port or default)


def _guard() -> Response | None:
    """Host, size and origin checks (before the token rule; no body is read)."""
    try:
        host, port = split_host(request.host)
    except InputError as exc:
        return _error(400, str(exc))
    if not _policy().accepts(host):
        return _error(
            421,
            f"this server does not answer for host {host[:100]!r}; use localhost or the "
            "--host it was started with, or list the name in FORESIGHT_ALLOWED_HOSTS",
        )
    url_bytes = len(request.environ.get("REQUEST_URI") or request.full_path)
    if url_bytes > MAX_URL_BYTES:
        return _error(414, f"the URL is {url_bytes} bytes; at most {MAX_URL_BYTES} are accepted")
    header_bytes = sum(len(k) + len(v) + 4 for k, v in request.headers.items())
    if header_bytes > MAX_HEADER_BYTES:
        return _error(
            431,
            f"the request headers are {header_bytes} bytes; at most {MAX_HEADER_BYTES} "
            "are accepted",
        )
    length = request.content_length
    limit = BODY_LIMITS.get(request.path, MAX_BODY_BYTES)
    request.max_content_length = limit
    if length is not None and length > limit:
        return _error(413, f"the body is {length} bytes; at most {limit} bytes are accepted")
    if request.method not in STATE_CHANGING:
        return None
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if (origin is not None and not _same_origin(origin.strip().lower(), host, port)) or (
        fetch_site in ("cross-site", "same-site")
    ):
        return _error(
            403,
            f"{request.method} {request.path} changes state and is accepted only from "
            "this server's own pages (the request came from another origin)",
        )
    return None


def _require_json_object() -> Response | None:
    """A state-changing body must be JSON, and a POST/PUT/PATCH one a JSON object.

    Runs after the token rule, so an unauthorised client never gets its body parsed.
    """
    if request.method not in STATE_CHANGING or request.routing_exception is not None:
        return None  # a 404/405 follows for unrouted requests
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    has_body = bool(request.content_length) or chunked
    if (has_body or request.method in NEEDS_BODY) and request.mimetype != "application/json":
        given = request.mimetype or "none"
        return _error(
            415,
            f"{request.method} {request.path} takes a JSON body with the header "
            f"'Content-Type: application/json' (got {given[:100]!r})",
        )
    if request.method not in NEEDS_BODY:
        return None
    raw = request.get_data(cache=True)
    limit = BODY_LIMITS.get(request.path, MAX_BODY_BYTES)
    if chunked and len(raw) >= limit and request.environ["wsgi.input"].read(1):
        # werkzeug cuts a chunked body off at MAX_CONTENT_LENGTH without a word; the
        # server-terminated stream still holding data means the body was longer
        return _error(413, f"the body is longer than {limit} bytes, the most accepted")
    if not raw.strip():
        raise InputError(
            f"{request.method} {request.path} needs a JSON object body (got an empty body)"
        )
    try:
        body = current_app.json.loads(raw)
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(f"the body must be JSON (got a parse error: {exc})") from None
    if not isinstance(body, dict):
        kind = "null" if body is None else type(body).__name__
        raise InputError(f"the body must be a JSON object like {{...}} (got {kind})")
    return None


def _add_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def install(app: Flask, settings: Settings) -> None:
    """Add the guards and headers to ``app``; call after the token rule is registered.

    The guard goes first among the before-request hooks (a cross-site or oversized
    request is refused before anything reads it); the body checks go last, after the
    token rule.
    """
    app.json = SafeJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[EXTENSION_KEY] = HostPolicy.from_settings(settings)
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(0, _guard)
    hooks.append(_require_json_object)
    app.after_request(_add_headers)


def host_details_visible() -> bool:
    """True on a loopback bind, or beyond it when the request carries the valid token."""
    return not _policy().beyond_loopback or bearer_matches(current_app.config.get("TOKEN"))


HIDDEN_KEYS = frozenset({"hostname", "python", "pid", "path"})


def redact_host_details(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` without host details unless ``host_details_visible()``.

    Drops hostname, Python version, pid and file paths at any depth, and cuts
    ``platform`` (which names the kernel) down to the OS name. Returns a copy.
    """
    if host_details_visible():
        return payload
    return _redacted(payload)


def jsonify_redacted(payload: dict[str, Any]) -> Response:
    """``jsonify(redact_host_details(payload))``: for GETs that show host details."""
    return jsonify(redact_host_details(payload))


def _redacted(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in HIDDEN_KEYS:
            continue
        if key == "platform" and isinstance(item, str):
            item = item.split("-", 1)[0]
        elif isinstance(item, dict):
            item = _redacted(item)
        out[key] = item
    return out
