"""Parsers of environment values: text in, a typed value out, or an InputError that names
the variable and carries the offending text.

Each takes ``(raw, name)``; ``number`` and ``choice`` build one. The table that uses them
is ``foresight.core.environment.ENVIRONMENT``.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foresight.core.errors import InputError
from foresight.core.series import check_metric_name, check_target
from foresight.core.validate import parse_number

SIGNAL_NAMES = ("cpu", "memory")  # foresight.scaling.signals.SIGNAL_NAMES (a test keeps them equal)


def number(
    minimum: float | None = None, maximum: float | None = None, cast: Callable[[float], Any] = float
) -> Callable[[str, str], Any]:
    def parse(raw: str, name: str) -> Any:
        value = parse_number(raw, name, minimum=minimum, maximum=maximum)
        if cast is int and value != int(value):
            raise InputError(f"{name} must be a whole number (got {raw.strip()!r})")
        return cast(value)

    return parse


def text(raw: str, name: str) -> str | None:
    return raw.strip() or None


MIN_TOKEN_CHARS = 16


def token(raw: str, name: str) -> str:
    """A bearer token: at least 16 printable ASCII characters, no whitespace.

    A token with spaces or non-ASCII characters could never be sent back in an
    ``Authorization`` header byte for byte, and a short one can be guessed.
    """
    if any(ch.isspace() for ch in raw):
        raise InputError(
            f"{name} must not contain whitespace (got {len(raw)} characters including "
            "spaces, tabs or newlines); remove them"
        )
    if not raw.isascii() or not raw.isprintable():
        raise InputError(f"{name} must be printable ASCII characters only")
    if len(raw) < MIN_TOKEN_CHARS:
        raise InputError(
            f"{name} must be at least {MIN_TOKEN_CHARS} characters (got {len(raw)}); "
            "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    return raw


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^\.?{_LABEL}(?:\.{_LABEL})*$")


def host_names(raw: str, name: str) -> tuple[str, ...]:
    """A comma-separated list of host names or IP addresses, without ports.

    A leading dot (``.example.org``) also accepts every subdomain.
    """
    names: list[str] = []
    for item in (part.strip().lower() for part in raw.split(",")):
        if not item:
            continue
        bare = item.strip("[]")
        try:
            ipaddress.ip_address(bare)
        except ValueError:
            if not _HOST_NAME.match(item) or len(item) > 253:
                raise InputError(
                    f"{name} must list host names or IP addresses separated by commas, "
                    f"without scheme or port (got {item!r})"
                ) from None
            names.append(item)
        else:
            names.append(bare)
    if not names:
        raise InputError(f"{name} lists no host names (got {raw!r})")
    return tuple(dict.fromkeys(names))


def existing_file(raw: str, name: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise InputError(f"{name} must name an existing file (got {raw.strip()!r})")
    return path


def parse_url(raw: str, name: str) -> str:
    """An http(s) URL without a trailing slash; InputError naming ``name`` otherwise."""
    text = raw.strip().rstrip("/")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{name} must be an http:// or https:// URL (got {raw.strip()!r})")
    return text


def sql_url(raw: str, name: str) -> str:
    from foresight.core import sql_engine  # SQLAlchemy: only when one is set

    return sql_engine.sql_url(raw, name)


def flag(raw: str, name: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InputError(f"{name} must be 1 or 0 (got {raw.strip()!r})")


def choice(options: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(raw: str, name: str) -> str:
        text = raw.strip()
        if text not in options:
            raise InputError(f"{name} must be one of {', '.join(options)} (got {text!r})")
        return text

    return parse


def series_key(raw: str, name: str) -> str | None:
    """A series key ``NAME`` or ``NAME@TARGET`` (foresight.core.series), or None if empty."""
    text = raw.strip()
    if not text:
        return None
    metric, _, target = text.partition("@")
    try:
        check_metric_name(metric, name)
        check_target(target, name)
    except ValueError as exc:
        raise InputError(f"{exc} (a series key NAME or NAME@TARGET)") from None
    return text


def signal_names(raw: str, name: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    bad = [n for n in names if n not in SIGNAL_NAMES]
    if bad or not names:
        raise InputError(
            f"{name} must list some of {', '.join(SIGNAL_NAMES)} (got {raw.strip()!r})"
        )
    return names
