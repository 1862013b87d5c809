"""Request values that need the monitor's state: time ranges, metric names, horizons.

The schemas in ``foresight.web.schemas`` parse and bound each value; these helpers
resolve what depends on "now" or on which metrics exist. Bad values raise InputError.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, current_app

from foresight.core.errors import InputError


def relative(value: float | None, now: float) -> float | None:
    """Epoch seconds, where a negative value means seconds before ``now``."""
    if value is None:
        return None
    return now + value if value < 0 else value


def time_range(
    since: float | None,
    until: float | None,
    now: float,
    default_window_s: float = 300.0,
    names: tuple[str, str] = ("since", "until"),
) -> tuple[float, float]:
    """Resolve ``since``/``until`` (None: the last ``default_window_s`` up to now).

    ``names`` are what the request called the two bounds, for the error message.
    """
    end = now if until is None else relative(until, now)
    assert end is not None
    start = end - default_window_s if since is None else relative(since, now)
    assert start is not None
    if start > end:
        first, second = names
        raise InputError(
            f"{first} must be <= {second} (got {first}={_when(start)}, {second}={_when(end)}): "
            "the range ends before it starts"
        )
    return start, end


def range_bounds(query: dict[str, Any]) -> tuple[float | None, float | None, tuple[str, str]]:
    """``since``/``until`` from a query that may say ``from``/``to`` (the page URL's words).

    Returns the two bounds and the names the request used for them (``time_range``'s
    message quotes those). Both names for one bound is a 400.
    """
    bounds: list[float | None] = []
    names: list[str] = []
    for plain, alias, name in (("since", "from_", "from"), ("until", "to", "to")):
        if plain in query and alias in query:
            raise InputError(
                f"give {plain} or {name}, not both "
                f"(got {plain}={query[plain]:g}, {name}={query[alias]:g})"
            )
        bounds.append(query.get(plain, query.get(alias)))
        names.append(name if alias in query else plain)
    return bounds[0], bounds[1], (names[0], names[1])


def _when(epoch_s: float) -> str:
    """Epoch seconds and, when it is a date, its ISO form: what either spelling meant."""
    number = f"{epoch_s:.3f}".rstrip("0").rstrip(".")
    try:
        iso = datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return number
    return f"{number} ({iso})"


def metric_list(raw: str | None, known: list[str]) -> list[str] | None:
    """Parse ``metric=a,b``; None means all. Unknown names raise, listing the known ones."""
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


def target_series(services: Any, target: str | None) -> dict[str, str]:
    """``{metric: series key}`` of ``target`` (None or "": this host).

    An unknown target raises InputError listing the known ones.
    """
    series = services.target_metrics(target)
    if target and not series:
        known = sorted({t for found in services.targets().values() for t in found if t})
        listed = ", ".join(repr(t) for t in known[:20]) + (" ..." if len(known) > 20 else "")
        raise InputError(f"unknown target {target!r}; known targets: {listed or 'none'}")
    return series


def of_series(items: list[dict], series: dict[str, str]) -> list[dict]:
    """Records (``{"metric": key, ...}``) of one target's series, keyed by metric name."""
    names = {key: metric for metric, key in series.items()}
    return [{**item, "metric": names[item["metric"]]} for item in items if item["metric"] in names]


def check_metric(name: str, known: list[str]) -> None:
    """Raise InputError unless ``name`` is a known metric."""
    if name not in known:
        raise InputError(f"unknown metric {name!r}; known metrics: {', '.join(known)}")


def horizon(hours: int | None, minutes: int | None) -> tuple[int | None, int | None, float]:
    """``hours`` (default 1) or, instead, ``minutes``: (hours, minutes, horizon in s)."""
    if hours is not None and minutes is not None:
        raise InputError("give hours or minutes, not both")
    if minutes is not None:
        return None, minutes, minutes * 60.0
    hours = hours or 1
    return hours, None, hours * 3600.0


def extension(key: str, what: str) -> tuple[Any, Any]:
    """Return ``(the live service stored under services.extras[key], services)``.

    When that part is switched off in this monitor, abort with HTTP 503; the app's error
    handler turns it into ``{"error": "<what> is not running ..."}``.
    """
    services = current_app.extensions["foresight"]
    live = services.extras.get(key)
    if live is None:
        abort(
            503,
            description=f"{what} is not running in this monitor (switched off in its settings)",
        )
    return live, services
