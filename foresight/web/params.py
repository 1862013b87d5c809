"""Query-string parsing for the JSON API: every bad value becomes an InputError (HTTP 400)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, current_app

from foresight.core.errors import InputError
from foresight.core.validate import parse_number

# since/until beyond ±1e10 s (year 2286) is no range anyone means; bounding them keeps
# every derived width and step finite (1e308 - -1e308 is Infinity, which is not JSON).
MAX_TIME_S = 1e10


def _single(args: Mapping[str, str], name: str) -> str | None:
    """``args[name]``, or None when absent; InputError when repeated (a MultiDict) or empty."""
    getlist = getattr(args, "getlist", None)
    if getlist is not None and len(getlist(name)) > 1:
        raise InputError(f"give {name} once (got {len(getlist(name))} values)")
    raw = args.get(name)
    if raw is not None and raw.strip() == "":
        raise InputError(f"{name} must not be empty; leave it out for the default")
    return raw


def query_float(
    args: Mapping[str, str],
    name: str,
    default: float | None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    """Parse a finite number from ``args[name]`` within [minimum, maximum].

    Absent: ``default``. Given empty (``?name=``) or more than once: InputError.
    """
    raw = _single(args, name)
    if raw is None:
        return default
    return parse_number(raw, name, minimum=minimum, maximum=maximum)


def query_int(
    args: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int
) -> int:
    """Parse a whole number from ``args[name]`` within [minimum, maximum] (as query_float)."""
    raw = _single(args, name)
    if raw is None:
        return default
    return int(parse_number(raw, name, kind=int, minimum=minimum, maximum=maximum))


def time_range(
    args: Mapping[str, str], now: float, default_window_s: float = 300.0
) -> tuple[float, float]:
    """Parse ``since``/``until`` (epoch seconds; a negative value is seconds before now).

    Each must be within ±MAX_TIME_S, else InputError (HTTP 400).
    """
    since = query_float(args, "since", None, minimum=-MAX_TIME_S, maximum=MAX_TIME_S)
    until = query_float(args, "until", None, minimum=-MAX_TIME_S, maximum=MAX_TIME_S)
    until = now if until is None else (now + until if until < 0 else until)
    since = until - default_window_s if since is None else (now + since if since < 0 else since)
    if since > until:
        raise InputError(f"since must be <= until (got since={since:g}, until={until:g})")
    return since, until


def metric_list(args: Mapping[str, str], known: list[str]) -> list[str] | None:
    """Parse ``metric=a,b``; None means all. Unknown names raise, listing the known ones."""
    raw = args.get("metric")
    if raw is None or raw.strip() == "":
        return None
    names = list(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"unknown metric(s) {', '.join(repr(n) for n in unknown)}; "
            f"known metrics: {', '.join(known)}"
        )
    return names


def extension(key: str, what: str) -> tuple[Any, Any]:
    """Return ``(the live service stored under services.extras[key], services)``.

    When that extension is not installed in this monitor, abort with HTTP 503; the
    app's error handler turns it into ``{"error": "<what> is not running ..."}``.
    """
    services = current_app.extensions["foresight"]
    live = services.extras.get(key)
    if live is None:
        abort(
            503,
            description=f"{what} is not running in this monitor "
            f"(its extension module is not installed)",
        )
    return live, services
