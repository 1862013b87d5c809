"""Parse numbers from user text — flags, environment, query strings — with one set of messages.

Every bad value becomes an ``InputError`` whose sentence names the value, what was given
and what is allowed (``limit must be a whole number from 1 to 10000 (got 'lots')``);
``number_arg`` adapts the same rule to argparse's ``type=``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from foresight.core.errors import InputError, quote_input


def bounds_text(minimum: float | None, maximum: float | None, above: float | None) -> str:
    if above is None and minimum is not None and maximum is not None:
        return f" from {minimum:g} to {maximum:g}"
    parts = [f"> {above:g}"] if above is not None else []
    parts += [f">= {minimum:g}"] if minimum is not None else []
    parts += [f"<= {maximum:g}"] if maximum is not None else []
    return " " + " and ".join(parts) if parts else ""


def parse_number(
    raw: str,
    name: str,
    *,
    kind: type = float,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> float:
    """Return ``raw`` as a finite ``kind`` (``float`` or ``int``) within the bounds.

    ``minimum``/``maximum`` are inclusive, ``above`` is an exclusive lower bound.
    Raises InputError naming ``name``, the allowed range and the text given.
    """
    what = "a whole number" if kind is int else "a number"
    bounds = bounds_text(minimum, maximum, above)
    try:
        value = kind(raw.strip())
    except ValueError:
        raise InputError(f"{name} must be {what}{bounds} (got {quote_input(raw)})") from None
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number{bounds} (got {quote_input(raw)})")
    if (
        (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
        or (above is not None and value <= above)
    ):
        raise InputError(f"{name} must be {what}{bounds} (got {quote_input(raw)})")
    return value


def number_arg(
    kind: type = float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> Callable[[str], float]:
    """Make an argparse ``type=`` that parses like ``parse_number`` (argparse names the flag)."""

    def parse(text: str) -> float:
        try:
            return parse_number(text, "", kind=kind, minimum=minimum, maximum=maximum, above=above)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc).lstrip()) from None

    parse.__name__ = "whole number" if kind is int else "number"
    return parse
