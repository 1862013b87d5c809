"""Errors shared by every layer: one type for "the user gave us bad input"."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from a user (CLI flag, CSV file, query string, JSON body, config).

    The message is one sentence that names the offending value and what is allowed.
    ``main.py`` turns it into exit code 2 with one line on stderr; the API turns it
    into HTTP 400 ``{"error": message}``.
    """


MAX_QUOTED_CHARS = 200


def quote_input(value: object, limit: int = MAX_QUOTED_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages that echo user input.

    A 100 KB header line or JSON value must not become a 100 KB error line.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"
