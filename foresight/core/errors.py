"""Errors shared by every layer: one type for "the user gave us bad input"."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from a user (CLI flag, CSV file, query string, JSON body, config).

    The message is one sentence that names the offending value and what is allowed.
    ``main.py`` turns it into exit code 2 with one line on stderr; the API turns it
    into HTTP 400 ``{"error": message}``.
    """
