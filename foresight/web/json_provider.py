"""The app's JSON provider: bounded nesting on the way in, never NaN/Infinity on the way out.

``json.loads`` recurses once per nesting level, so ``"[" * 5000`` escapes as a
``RecursionError`` (an HTTP 500) from any handler that parses a body. Here a body nested
deeper than ``MAX_DEPTH`` levels is an ``InputError`` (HTTP 400), and so are the
non-standard constants ``NaN``/``Infinity`` that Python's parser accepts by default.

Responses are encoded with ``allow_nan=False``; should a non-finite float reach one, it
is written as ``null`` (and logged) rather than as ``Infinity``, which is not JSON.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from flask.json.provider import DefaultJSONProvider

from foresight.core.errors import InputError

logger = logging.getLogger(__name__)

MAX_DEPTH = 32  # no body we accept is nested more than 2 levels; 32 leaves room


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (use a finite number or null)")


def depth_of(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, ``[]`` is 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        # only containers go on the stack: a 10,000-sample push has 50,000 scalars
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def loads_bounded(text: str | bytes) -> Any:
    """Parse JSON text; raise InputError when nested more than MAX_DEPTH levels.

    A syntax error (or NaN/Infinity) raises ``ValueError`` with the parser's message.
    """
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise InputError(f"the JSON body is nested more than {MAX_DEPTH} levels deep") from None
    if depth_of(value) > MAX_DEPTH:
        raise InputError(f"the JSON body is nested more than {MAX_DEPTH} levels deep")
    return value


def finite_or_none(value: Any) -> Any:
    """A copy of ``value`` with every NaN/±Infinity float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's provider with bounded parsing and strictly valid JSON output."""

    sort_keys = False  # keep the documented key order

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        return loads_bounded(s)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs["allow_nan"] = False
        try:
            return super().dumps(obj, **kwargs)
        except ValueError as exc:
            if "out of range float" not in str(exc).lower():
                raise
            logger.warning("a response held NaN or Infinity; encoded as null (%s)", exc)
            return super().dumps(finite_or_none(obj), **kwargs)
