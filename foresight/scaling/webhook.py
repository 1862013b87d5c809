"""An executor for a real platform: POST each desired count to a webhook, with retries,
and read back the count the platform actually runs.

The read-back comes from the webhook's own answer when it carries a count, or from a
status URL (``SCALING_STATUS_URL``) answered with GET. Counts are read from JSON as
``actual_instances``, ``replicas``, ``ready_replicas`` or ``readyReplicas`` at the top
level or under ``status`` (a Kubernetes scale subresource or Deployment answers
``{"status": {"replicas": n}}``); the first present, in that order, wins.
"""

from __future__ import annotations

import json
import logging
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from foresight.core.errors import InputError
from foresight.pool.execution import ExecutionResult

logger = logging.getLogger(__name__)

COUNT_KEYS = ("actual_instances", "replicas", "ready_replicas", "readyReplicas")
MAX_BODY_BYTES = 1 << 20  # a status answer bigger than 1 MB is not a status answer


def actual_count(body: bytes) -> int | None:
    """The instance count a platform's JSON answer reports, or None if it reports none.

    Raises ValueError for a count that is not a whole number >= 0 (the platform said
    something, and it is wrong: that is worth an error, not silence).
    """
    try:
        doc = json.loads(body) if body.strip() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # not JSON (an "OK" text body): no count in it
    for scope in (doc, doc.get("status") if isinstance(doc, dict) else None):
        if not isinstance(scope, dict):
            continue
        for key in COUNT_KEYS:
            if key in scope:
                value: Any = scope[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key} must be a whole number >= 0 (got {value!r})")
                # json reads 1e999 and NaN as inf and nan: int() of those raises
                if not math.isfinite(value) or value < 0 or value != int(value):
                    raise ValueError(f"{key} must be a whole number >= 0 (got {value!r})")
                return int(value)
    return None


@dataclass(frozen=True, slots=True)
class Readback:
    """One reading of the platform's count: from the webhook's answer or the status URL."""

    timestamp: float  # epoch s of the decision (or poll) the reading belongs to
    desired: int  # what Foresight had asked for then
    actual: int | None  # None: the reading failed (see error)
    source: str  # "response" or "status_url"
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "timestamp": self.timestamp,
            "desired": self.desired,
            "actual": self.actual,
            "source": self.source,
            "error": self.error,
        }


class WebhookExecutor:
    """POST the desired count as JSON to ``url``, retrying failures with backoff.

    Body: ``{"desired_instances": N, "timestamp": now, "reason": "..."}``; a bearer
    ``token`` is sent when given (to ``status_url`` too). Connection errors, timeouts and
    HTTP 5xx/429 are retried ``retries`` times, waiting ``backoff_s * 2**k`` seconds;
    other 4xx are not retried. A failure is logged and returned (``ok=False`` with the
    error), never dropped. A success carries ``actual`` when the answer (or, failing
    that, ``status_url``) reports the platform's count. ``sleep`` is injectable so
    tests need not wait.
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        token: str | None = None,
        status_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for what, value in (("webhook URL", url), ("status URL", status_url)):
            if value is not None and not value.startswith(("http://", "https://")):
                raise InputError(f"{what} must start with http:// or https:// (got {value!r})")
        if retries < 0 or not timeout_s > 0 or backoff_s < 0:
            raise InputError(
                f"bad webhook settings (retries {retries}, timeout "
                f"{timeout_s} s, backoff {backoff_s} s)"
            )
        self.url, self.timeout_s, self.retries = url, timeout_s, retries
        self.backoff_s, self.token, self._sleep = backoff_s, token, sleep
        self.status_url = status_url

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def apply(self, desired: int, now: float, reason: str) -> ExecutionResult:
        body = json.dumps(
            {"desired_instances": int(desired), "timestamp": now, "reason": reason}
        ).encode()
        error = ""
        for attempt in range(1, self.retries + 2):
            request = urllib.request.Request(
                self.url, data=body, headers=self._headers(), method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    answer = response.read(MAX_BODY_BYTES)
                try:
                    actual = actual_count(answer)
                except ValueError as exc:
                    logger.warning("webhook %s answered a bad count: %s", self.url, exc)
                    actual = None
                return ExecutionResult(
                    self.name, desired, True, int(desired), attempt, actual=actual
                )
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code} from {self.url}"
                if exc.code < 500 and exc.code != 429:
                    break  # the receiver rejected the request: retrying will not help
            except (urllib.error.URLError, OSError) as exc:
                error = f"cannot reach {self.url}: {getattr(exc, 'reason', exc)}"
            if attempt <= self.retries:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
        logger.error("webhook executor failed after %d attempt(s): %s", attempt, error)
        return ExecutionResult(self.name, desired, False, None, attempt, error)

    def read_status(self, desired: int, now: float) -> Readback:
        """GET ``status_url`` once and read the platform's count from its answer."""
        if self.status_url is None:
            raise InputError("no status URL configured (SCALING_STATUS_URL)")
        request = urllib.request.Request(self.status_url, headers=self._headers(), method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                actual = actual_count(response.read(MAX_BODY_BYTES))
        except urllib.error.HTTPError as exc:
            return Readback(now, desired, None, "status_url", f"HTTP {exc.code} from status URL")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return Readback(now, desired, None, "status_url", f"cannot reach status URL: {reason}")
        except ValueError as exc:
            return Readback(now, desired, None, "status_url", f"status URL: {exc}")
        if actual is None:
            return Readback(
                now, desired, None, "status_url", f"no count ({', '.join(COUNT_KEYS)}) in answer"
            )
        return Readback(now, desired, actual, "status_url")
