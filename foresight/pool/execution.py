"""The executor interface a real platform plugs into, and what an executor reports.

The simulated pool is the default executor (``resource_manager.SimulatedExecutor``);
``foresight.scaling.webhook.WebhookExecutor`` POSTs the desired count to a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What an executor did with a desired count: success, attempts and any error."""

    executor: str
    desired: int
    ok: bool
    applied: int | None = None
    attempts: int = 1
    error: str | None = None
    actual: int | None = None  # the count the platform says it runs, when it says

    def to_dict(self) -> dict:
        return {
            "executor": self.executor,
            "desired": self.desired,
            "ok": self.ok,
            "applied": self.applied,
            "attempts": self.attempts,
            "error": self.error,
            "actual": self.actual,
        }


class Executor(Protocol):
    """Something that makes ``desired`` instances happen (a pool, a webhook, ...)."""

    name: str

    def apply(self, desired: int, now: float, reason: str) -> ExecutionResult: ...
