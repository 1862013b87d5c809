"""Series keys: one metric of one target as one string, so every stage stays keyed by name.

A *target* is what a value was measured on: the local host (the empty target), or a
Prometheus series' labels, or a pushed sample's ``target``. A series is stored, forecast,
scored and alerted on under its key:

- ``NAME`` for the local host (so a single-host store is exactly what it was), and
- ``NAME@TARGET`` for any other target, ``TARGET`` being a canonical label string:
  Prometheus' own text form without the braces, labels sorted by name, e.g.
  ``up@instance="127.0.0.1:5000",job="foresight"``; or a pushed plain name (``web-1``).

Metric names never contain ``@`` (``METRIC_NAME`` below, Prometheus' own rule), so the
first ``@`` always splits a key; a target may contain anything printable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

LOCAL_TARGET = ""
SEPARATOR = "@"
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$")
MAX_TARGET_CHARS = 500


def series_key(metric: str, target: str = LOCAL_TARGET) -> str:
    """The key of ``metric`` on ``target`` (the bare name for the local host)."""
    return metric if not target else f"{metric}{SEPARATOR}{target}"


def split_key(key: str) -> tuple[str, str]:
    """``(metric, target)`` of a series key; the target is "" for the local host."""
    metric, _, target = key.partition(SEPARATOR)
    return metric, target


def metric_of(key: str) -> str:
    """The metric name of a series key (the part the catalog and alert rules know)."""
    return key.partition(SEPARATOR)[0]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def canonical_target(labels: Mapping[str, str], keep: Iterable[str] | None = None) -> str:
    """Prometheus-style ``a="x",b="y"`` of ``labels`` sorted by name, without ``__name__``.

    ``keep`` limits the target to those label names (e.g. ``["instance"]``); labels that
    are absent are left out. No labels: the empty (local) target.
    """
    wanted = None if keep is None else set(keep)
    items = sorted(
        (k, v) for k, v in labels.items() if k != "__name__" and (wanted is None or k in wanted)
    )
    return ",".join(f'{k}="{_escape(str(v))}"' for k, v in items)


_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


_ESCAPED = re.compile(r"\\(.)")


def _unescape(found: re.Match) -> str:
    return "\n" if found.group(1) == "n" else found.group(1)


def target_labels(target: str) -> dict[str, str] | None:
    """The labels of a Prometheus-style target (``canonical_target``'s inverse), or None
    for a plain name (a pushed ``web-1``) that is not one."""
    labels: dict[str, str] = {}
    at = 0
    while at < len(target):
        found = _LABEL.match(target, at)
        if found is None:
            return None
        labels[found.group(1)] = _ESCAPED.sub(_unescape, found.group(2))
        at = found.end()
    return labels or None


def check_metric_name(name: object, where: str = "metric") -> str:
    """Return ``name`` if it is a valid metric name, else raise ValueError saying why."""
    if not isinstance(name, str) or not METRIC_NAME.match(name):
        raise ValueError(
            f"{where} must be a metric name (letters, digits, '_' or ':', not starting "
            f"with a digit, at most 200 characters; got {name!r})"
        )
    return name


def check_target(target: object, where: str = "target") -> str:
    """Return ``target`` if it is a usable target string, else raise ValueError."""
    if not isinstance(target, str):
        raise ValueError(f"{where} must be a string (got {target!r})")
    if len(target) > MAX_TARGET_CHARS or not target.isprintable():
        raise ValueError(
            f"{where} must be printable and at most {MAX_TARGET_CHARS} characters "
            f"(got {target[:60]!r}{'...' if len(target) > 60 else ''})"
        )
    return target


def targets_by_metric(keys: Iterable[str]) -> dict[str, list[str]]:
    """``{metric: [target, ...]}`` of some series keys, both sorted ("" = local host)."""
    found: dict[str, set[str]] = {}
    for key in keys:
        metric, target = split_key(key)
        found.setdefault(metric, set()).add(target)
    return {m: sorted(t) for m, t in sorted(found.items())}


def of_target(keys: Iterable[str], target: str) -> dict[str, str]:
    """``{metric: key}`` of the series of one target among ``keys``."""
    out: dict[str, str] = {}
    for key in keys:
        metric, found = split_key(key)
        if found == target:
            out[metric] = key
    return out
