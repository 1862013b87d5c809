"""Annotation templates: ``str.format`` text filled from one observation's values.

``render`` is the reference: ``string.Formatter`` over the values, a known name the
evaluation did not provide rendering as "-". An active alert renders its annotations
on every tick, so ``compile_template`` parses a template once into its literal parts
and plain fields (``{value:.1f}``, ``{metric}``, ``{when!s}``) and fills only those;
a template with anything else (``{value.real}``, ``{metric[0]}``, a nested field in a
format spec, an automatic ``{}``) keeps the reference path. Both give the same text and
raise the same errors (a test compares them).
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping
from typing import Any

# What an annotation template may name ({value:.1f}, {threshold}, ...).
TEMPLATE_KEYS = (
    "name",
    "metric",
    "severity",
    "value",
    "threshold",
    "clear",
    "unit",
    "for_s",
    "when",
    "in_s",
    "probability",
    "cores",
)
_KNOWN = frozenset(TEMPLATE_KEYS)
_FORMATTER = string.Formatter()


class _Blank:
    """A template value the evaluation did not provide: renders as "-" for any format."""

    def __format__(self, spec: str) -> str:
        return "-"

    def __repr__(self) -> str:  # {name!r} of a missing value: "-", not an address
        return "-"


_BLANK = _Blank()


class _Context(dict):
    """Template values; a known name the evaluation did not provide renders as "-"."""

    def __missing__(self, key: str) -> _Blank:
        if key not in TEMPLATE_KEYS:
            raise KeyError(key)
        return _Blank()


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill an annotation template (``str.format`` syntax) from ``values``."""
    present = {k: v for k, v in values.items() if v is not None}
    return string.Formatter().vformat(template, (), _Context(present))


Renderer = Callable[[Mapping[str, Any]], str]


@functools.lru_cache(maxsize=1024)
def compile_template(template: str) -> Renderer:
    """A function that renders ``template`` as ``render`` does, parsed once."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError:
        return functools.partial(render, template)  # raises as render does
    fields: list[tuple[str, str | None, str | None, str]] = []
    for literal, name, spec, conversion in parts:
        if name is None:
            fields.append((literal, None, None, ""))
            continue
        plain = name.isidentifier() and "{" not in (spec or "")
        if not plain or conversion not in (None, "s", "r", "a"):
            return functools.partial(render, template)
        fields.append((literal, name, conversion, spec or ""))
    return functools.partial(_fill, tuple(fields))


def _fill(fields: tuple[tuple[str, str | None, str | None, str], ...], values: Mapping) -> str:
    out: list[str] = []
    for literal, name, conversion, spec in fields:
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if value is None:
            if name not in _KNOWN:
                raise KeyError(name)
            value = _BLANK
        if conversion is not None:
            value = _FORMATTER.convert_field(value, conversion)
        out.append(format(value, spec))
    return "".join(out)
