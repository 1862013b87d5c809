"""The live engine's state that survives a restart, and the rule for what wins then.

Two rows of the store's ``state`` table (``foresight.store.state``), JSON objects:

- ``scaling_engine``: the mode set through ``POST /api/scaling/mode`` (and when), and
  the last manual override (``POST /api/scaling/execute``): its count and its hold.
  Saved when either is set.
- ``scaling_pool``: the simulated pool's active instance count, instance size, storage,
  its bill (total and today's), the highest instance id given and its newest
  ``SAVED_EVENTS`` (50) events. Saved after every engine step, every override or fault,
  and when the monitor stops.

What wins after a restart (``plan``):

- A mode set through the API wins over ``SCALING_MODE`` until it is set again through
  the API; a monitor that never had one set keeps ``SCALING_MODE``.
- An override's hold comes back while it lasts (the pool is held at the override's
  count until then); an expired hold is not restored, and the start drops it from the
  saved row (so only the first start after it ended notes it).
- The storage and the instance size always come back (the vertical tier only grows
  them, and nothing shrinks them while the monitor is down).
- The bill's total always comes back; today's cost only when it was saved on the same
  UTC day (otherwise today's bill starts at 0, as it would at midnight).
- The instance count comes back when it was saved at most ``POOL_COUNT_MAX_AGE_S`` (one
  hour) before the start; an older one starts from ``MIN_INSTANCES`` (the demand it was
  sized for is old) and the engine scales from there. Counts are clamped to the current
  [min, max].
- Instance ids continue after the highest one saved, and the saved events open the
  pool's event log again (rows saved before these were kept: ids from 1, no events).

A row that is damaged (not JSON, a missing or mistyped field) is ignored with one
warning naming it, and that part starts from the settings: never a crash.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from foresight.pool.records import SIZES, PoolEvent
from foresight.scaling.records import EngineMode
from foresight.store.metric_store import MetricStore
from foresight.store.state import StateTable

logger = logging.getLogger(__name__)

ENGINE_ROW = "scaling_engine"
POOL_ROW = "scaling_pool"
POOL_COUNT_MAX_AGE_S = 3600.0  # a saved count older than this is not restored
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class EngineRecord:
    """The mode set through the API (None: never) and the last manual override."""

    mode: EngineMode | None = None
    mode_set_at: float | None = None
    hold_until: float | None = None  # None: the last override did not hold
    hold_instances: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": None if self.mode is None else self.mode.value,
            "mode_set_at": self.mode_set_at,
            "hold_until": self.hold_until,
            "hold_instances": self.hold_instances,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> EngineRecord:
        """Raise ValueError (naming the field) unless ``body`` is a saved record."""
        missing = [
            k for k in ("mode", "mode_set_at", "hold_until", "hold_instances") if k not in body
        ]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        mode = body.get("mode")
        if mode is not None and mode not in {m.value for m in EngineMode}:
            raise ValueError(f"mode {mode!r} is not one of {[m.value for m in EngineMode]}")
        return cls(
            None if mode is None else EngineMode(mode),
            _number(body, "mode_set_at", optional=True),
            _number(body, "hold_until", optional=True),
            _count(body, "hold_instances", optional=True),
        )


@dataclass(frozen=True, slots=True)
class PoolRecord:
    """The pool as ``ResourcePool.snapshot`` saw it at ``at`` (epoch s)."""

    at: float
    instances: int
    size: str
    storage_gb: float
    cost_total: float
    cost_today: float
    last_id: int = 0  # the highest instance id given (0: a row saved before ids were)
    events: tuple[PoolEvent, ...] = ()  # the newest events (oldest first)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> PoolRecord:
        """Raise ValueError (naming the field) unless ``body`` is a saved snapshot."""
        size = body.get("size")
        if size not in SIZES:
            raise ValueError(f"size {size!r} is not one of {list(SIZES)}")
        storage = _number(body, "storage_gb")
        if not storage > 0:
            raise ValueError(f"storage_gb must be > 0 (got {storage})")
        total, today = _number(body, "cost_total"), _number(body, "cost_today")
        if total < 0 or not 0 <= today <= total + 1e-9:
            raise ValueError(f"need 0 <= cost_today <= cost_total (got {today}, {total})")
        return cls(
            _number(body, "at"),
            _count(body, "instances"),
            size,
            storage,
            total,
            today,
            _count(body, "last_id", optional=True) or 0,
            _events(body.get("events", [])),
        )


@dataclass(frozen=True, slots=True)
class Restore:
    """What a start takes from the saved state (None: that part from the settings)."""

    mode: EngineMode | None = None
    mode_set_at: float | None = None
    hold_until: float | None = None
    hold_instances: int | None = None
    instances: int | None = None
    size: str | None = None
    storage_gb: float | None = None
    cost_total: float = 0.0
    cost_today: float | None = None
    saved_at: float | None = None  # the pool row's time
    notes: tuple[str, ...] = field(default=())
    last_id: int = 0  # instance ids continue after this
    events: tuple[PoolEvent, ...] = ()  # the pool's event log before the restart

    def to_dict(self) -> dict[str, Any]:
        """The status answer's ``restored`` object."""
        return {
            "saved_at": self.saved_at,
            "mode": None if self.mode is None else self.mode.value,
            "mode_set_at": self.mode_set_at,
            "hold_until": self.hold_until,
            "instances": self.instances,
            "instance_size": self.size,
            "storage_gb": self.storage_gb,
            "cost_today_usd": None if self.cost_today is None else round(self.cost_today, 6),
            "notes": list(self.notes),
        }


def plan(engine: EngineRecord | None, pool: PoolRecord | None, now: float) -> Restore:
    """Apply the module's rule: what a start at ``now`` takes from the saved rows."""
    notes: list[str] = []
    mode = None if engine is None else engine.mode
    if mode is not None:
        notes.append(f"mode {mode.value} set through the API wins over SCALING_MODE")
    hold_until = hold_instances = None
    if engine is not None and engine.hold_until is not None:
        if engine.hold_until > now and engine.hold_instances is not None:
            hold_until, hold_instances = engine.hold_until, engine.hold_instances
            notes.append(
                f"a manual override holds {hold_instances} instances for "
                f"{hold_until - now:.0f} s more"
            )
        else:
            notes.append("the manual override's hold had expired: not restored")
    if pool is None:
        return Restore(
            mode,
            None if engine is None else engine.mode_set_at,
            hold_until,
            hold_instances,
            instances=hold_instances,
            notes=tuple(notes),
        )
    same_day = math.floor(pool.at / DAY_S) == math.floor(now / DAY_S)
    if not same_day:
        notes.append("the saved bill is from another UTC day: today's cost starts at 0")
    age = now - pool.at
    instances = pool.instances if 0 <= age <= POOL_COUNT_MAX_AGE_S else None
    if instances is None:
        notes.append(
            f"the saved count is {age:.0f} s old (restored only within "
            f"{POOL_COUNT_MAX_AGE_S:.0f} s): starting from MIN_INSTANCES"
        )
    return Restore(
        mode,
        None if engine is None else engine.mode_set_at,
        hold_until,
        hold_instances,
        instances=hold_instances if hold_instances is not None else instances,
        size=pool.size,
        storage_gb=pool.storage_gb,
        cost_total=pool.cost_total,
        cost_today=pool.cost_today if same_day else None,
        saved_at=pool.at,
        notes=tuple(notes),
        last_id=pool.last_id,
        events=pool.events,
    )


class SavedScaling:
    """Load and save the two rows; a save that fails is kept trying (the store reports
    the fault), as the decisions' are."""

    def __init__(self, store: MetricStore) -> None:
        self.table = StateTable(store)
        self.error: str | None = None

    def load(self) -> tuple[EngineRecord | None, PoolRecord | None]:
        return (
            self._load(ENGINE_ROW, EngineRecord.from_dict),
            self._load(POOL_ROW, PoolRecord.from_dict),
        )

    def _load(self, name: str, parse):
        saved = self.table.load(name)
        if saved is None:
            return None
        try:
            return parse(saved[1])
        except (TypeError, ValueError) as exc:
            logger.warning(
                "saved %s state is damaged (%s): ignored, starting from the settings", name, exc
            )
            return None

    def save_engine(self, now: float, record: EngineRecord) -> None:
        self._save(ENGINE_ROW, now, record.to_dict())

    def save_pool(self, now: float, snapshot: dict[str, Any]) -> None:
        self._save(POOL_ROW, now, snapshot)

    def _save(self, name: str, now: float, body: dict[str, Any]) -> None:
        try:
            self.table.save(name, now, body)
        except (sqlite3.Error, OSError) as exc:  # disk full, ...: kept in memory
            if str(exc) != self.error:
                # the store reports the fault itself (health, one log line): no second line
                logger.debug("scaling %s state not saved (kept in memory): %s", name, exc)
            self.error = str(exc)
        else:
            self.error = None


def _number(body: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = body.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number (got {value!r})")
    return float(value)


def _events(items: Any) -> tuple[PoolEvent, ...]:
    """The saved events (``PoolEvent.to_dict``'s); ValueError naming what is wrong."""
    if not isinstance(items, list):
        raise ValueError(f"events must be a list (got {type(items).__name__})")
    events = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"an event must be an object (got {item!r})")
        kind, detail = item.get("kind"), item.get("detail")
        if not isinstance(kind, str) or not isinstance(detail, str):
            raise ValueError(f"an event needs a kind and a detail (got {item!r})")
        events.append(
            PoolEvent(
                _number(item, "timestamp"),
                kind,
                _count(item, "instance_id", optional=True),
                detail,
            )
        )
    return tuple(events)


def _count(body: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = body.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a whole number >= 0 (got {value!r})")
    return value
