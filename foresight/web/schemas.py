"""Request schemas for the JSON API: query strings and bodies, written once.

flask-smorest validates every request against these and generates the OpenAPI document
from the same classes, so the two cannot drift. Numbers are parsed by
``foresight.core.validate.parse_number`` for query text, and checked with the same
messages for JSON numbers, so a bad value reads the same everywhere:
``limit must be a whole number from 1 to 10000 (got '0')``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from foresight.core.errors import InputError
from foresight.core.validate import bounds_text, parse_number
from foresight.live.stress import DEFAULT_SECONDS, MAX_SECONDS
from foresight.scaling.policies import EngineMode

DEFAULT_LIMIT = 300
MAX_LIMIT = 10_000
MAX_STEP_S = 1e8
MAX_TIME_S = 1e10
MAX_HOURS = 168
MAX_ANOMALIES = 1000
DEFAULT_ANOMALIES = 100
HISTORY_POINTS = 2880  # the live engine keeps 12 h of 15-s decisions
DEFAULT_HISTORY = 480


class _Bounded:
    """Shared by Float and Integer: parse query text or check a JSON number, one message.

    ``text=False`` (JSON bodies) refuses numbers sent as strings, like ``"10"``.
    """

    kind: type = float

    def __init__(
        self,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        above: float | None = None,
        text: bool = True,
        **kwargs: Any,
    ) -> None:
        self.minimum, self.maximum, self.above, self.text = minimum, maximum, above, text
        metadata = dict(kwargs.pop("metadata", {}))
        if minimum is not None:
            metadata["minimum"] = minimum
        if maximum is not None:
            metadata["maximum"] = maximum
        if above is not None:
            metadata["exclusiveMinimum"] = above
        super().__init__(metadata=metadata, **kwargs)  # type: ignore[call-arg]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        name = getattr(self, "data_key", None) or attr or "value"
        bounds = dict(minimum=self.minimum, maximum=self.maximum, above=self.above)
        if isinstance(value, str) and self.text:
            try:
                return parse_number(value, name, kind=self.kind, **bounds)
            except InputError as exc:
                raise ValidationError(str(exc)) from None
        what = "a whole number" if self.kind is int else "a number"
        allowed = bounds_text(self.minimum, self.maximum, self.above)
        wrong = f"{name} must be {what}{allowed} (got {value!r})"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(wrong)
        if not math.isfinite(value) or (self.kind is int and value != int(value)):
            raise ValidationError(wrong)
        try:
            return parse_number(repr(self.kind(value)), name, kind=self.kind, **bounds)
        except InputError:
            raise ValidationError(wrong) from None


class Float(_Bounded, fields.Float):
    """A finite number within bounds (query text or JSON)."""

    kind = float


class Integer(_Bounded, fields.Integer):
    """A whole number within bounds (query text or JSON; 2.0 counts as 2)."""

    kind = int


def _epoch(what: str) -> Float:
    # Beyond ±1e10 s (year 2286) no one means a time; the bound keeps every derived
    # width and step finite (1e308 - -1e308 is Infinity, which is not JSON).
    return Float(
        minimum=-MAX_TIME_S,
        maximum=MAX_TIME_S,
        metadata={
            "description": f"{what}, epoch seconds; a negative value means seconds before now"
        },
    )


_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?"
)


class Bool(fields.Boolean):
    """A JSON ``true`` or ``false`` only. marshmallow's Boolean also takes "yes", "on",
    "0" and 1, so ``{"alerts": "no"}`` would have been read as a choice."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Instant(fields.Field):
    """A time as the dashboard's URL writes it: epoch seconds or ISO 8601 (``...Z``).

    Numbers follow ``_epoch`` (negative: seconds before now); an ISO time without a
    zone is UTC. Bad text is a 400 that quotes it.
    """

    def __init__(self, what: str, **kwargs: Any) -> None:
        description = (
            f"{what}: epoch seconds (negative: seconds before now) or ISO 8601 "
            "such as 2026-12-01T10:00:00Z, as the dashboard's URL has it"
        )
        either = [
            {"type": "number", "minimum": -MAX_TIME_S, "maximum": MAX_TIME_S},
            {"type": "string", "format": "date-time"},
        ]
        super().__init__(metadata={"anyOf": either, "description": description}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        name = getattr(self, "data_key", None) or attr or "value"
        text = str(value).strip()
        try:
            float(text)
        except ValueError:
            pass  # not a number: an ISO time
        else:
            try:
                return parse_number(text, name, kind=float, minimum=-MAX_TIME_S, maximum=MAX_TIME_S)
            except InputError as exc:
                raise ValidationError(str(exc)) from None
        try:
            if not _DATE_TIME.fullmatch(text):  # a date alone is not an instant
                raise ValueError(text)
            when = datetime.fromisoformat(text.upper())
        except ValueError:
            raise ValidationError(
                f"{name} must be epoch seconds or an ISO 8601 time (got {text!r})"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()  # years 1..9999: within MAX_TIME_S


# ---- query strings -----------------------------------------------------------------------
def _target() -> fields.String:
    return fields.String(
        validate=validate.Length(max=500),
        metadata={
            "description": "Whose series (default: this host). A target as `/api/metrics` "
            'lists it under `targets`, e.g. `instance="web-1:9100",job="node"`; '
            "series are then keyed by their plain metric names."
        },
    )


class MetricsQuery(Schema):
    metric = fields.String(
        metadata={
            "description": "Comma-separated metric names (default: all). An unknown name is "
            "a 400 listing the known ones."
        }
    )
    since = _epoch("Range start (default: until - 300)")
    until = _epoch("Range end (default: now)")
    from_ = Instant("Instead of since, the range start", data_key="from")
    to = Instant("Instead of until, the range end", data_key="to")
    limit = Integer(
        minimum=1,
        maximum=MAX_LIMIT,
        load_default=DEFAULT_LIMIT,
        metadata={"description": "Most points per metric"},
    )
    step = Float(
        minimum=0.001,
        maximum=MAX_STEP_S,
        metadata={"description": "Bucket width in seconds (widened to fit `limit`)"},
    )
    target = _target()


class RealtimeQuery(Schema):
    since = Float(
        minimum=-MAX_TIME_S,
        maximum=MAX_TIME_S,
        metadata={
            "description": "Cursor: samples with timestamp > since (default: the last 300 s; "
            "negative: seconds before now)"
        },
    )
    target = _target()


class HorizonQuery(Schema):
    hours = Integer(
        minimum=1,
        maximum=MAX_HOURS,
        metadata={
            "description": "Hours ahead (default 1). Up to 1 h uses 1-minute steps, up to "
            "24 h 15-minute steps, beyond that hourly steps. Not with `minutes`."
        },
    )
    minutes = Integer(
        minimum=1,
        maximum=59,
        metadata={
            "description": "Instead of hours: minutes ahead. Up to 5 min uses 10-second "
            "steps, beyond that 1-minute steps."
        },
    )


class TargetHorizonQuery(HorizonQuery):
    target = _target()


class AnomaliesQuery(Schema):
    metric = fields.String(metadata={"description": "Only this metric"})
    target = _target()
    since = _epoch("Oldest anomaly")
    limit = Integer(minimum=1, maximum=MAX_ANOMALIES, load_default=DEFAULT_ANOMALIES)


class HistoryQuery(Schema):
    since = Float(
        minimum=-MAX_TIME_S,
        maximum=MAX_TIME_S,
        metadata={
            "description": "Cursor: only points and decisions after this time (pass the "
            "last answer's `cursor`); without it, the newest `limit`"
        },
    )
    limit = Integer(
        minimum=1,
        maximum=HISTORY_POINTS,
        load_default=DEFAULT_HISTORY,
        metadata={"description": "Most recent capacity points"},
    )


# ---- bodies ------------------------------------------------------------------------------
class StressBody(Schema):
    seconds = Float(
        text=False,
        above=0,
        maximum=MAX_SECONDS,
        load_default=DEFAULT_SECONDS,
        metadata={"description": "How long to burn"},
    )
    cores = Integer(
        text=False,
        minimum=1,
        load_default=1,
        metadata={"description": "Worker processes; at most the host's CPU count"},
    )


class ExecuteBody(Schema):
    instances = Integer(
        text=False,
        required=True,
        minimum=0,
        metadata={
            "description": "Instances wanted; the pool's min/max (GET "
            "/api/scaling/status) bound it, and a count outside them is a 400"
        },
    )
    hold_s = Float(
        text=False,
        minimum=0,
        maximum=86_400,
        load_default=600.0,
        metadata={
            "description": "Seconds the override holds before automatic decisions resume "
            "(0: they resume at once)"
        },
    )


class EmptyBody(Schema):
    """`{}`: the action takes no parameters (every POST carries one JSON object)."""


class ModeBody(Schema):
    mode = fields.String(
        required=True,
        error_messages={"invalid": "mode must be one of auto, dry-run, paused (got a non-string)"},
        validate=validate.OneOf(
            [m.value for m in EngineMode],
            error="mode must be one of auto, dry-run, paused (got {input!r})",
        ),
        metadata={"description": "auto acts; dry-run records decisions only; paused does neither"},
    )
