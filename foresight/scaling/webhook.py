"""An executor for a real platform: POST each desired count to a webhook, with retries."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from foresight.core.errors import InputError
from resource_manager import ExecutionResult

logger = logging.getLogger(__name__)


class WebhookExecutor:
    """POST the desired count as JSON to ``url``, retrying failures with backoff.

    Body: ``{"desired_instances": N, "timestamp": now, "reason": "..."}``; a bearer
    ``token`` is sent when given. Connection errors, timeouts and HTTP 5xx/429 are
    retried ``retries`` times, waiting ``backoff_s * 2**k`` seconds; other 4xx are not
    retried. A failure is logged and returned (``ok=False`` with the error), never
    dropped. ``sleep`` is injectable so tests need not wait.
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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError(f"webhook URL must start with http:// or https:// (got {url!r})")
        if retries < 0 or not timeout_s > 0 or backoff_s < 0:
            raise InputError(
                f"bad webhook settings (retries {retries}, timeout "
                f"{timeout_s} s, backoff {backoff_s} s)"
            )
        self.url, self.timeout_s, self.retries = url, timeout_s, retries
        self.backoff_s, self.token, self._sleep = backoff_s, token, sleep

    def apply(self, desired: int, now: float, reason: str) -> ExecutionResult:
        body = json.dumps(
            {"desired_instances": int(desired), "timestamp": now, "reason": reason}
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        error = ""
        for attempt in range(1, self.retries + 2):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                return ExecutionResult(self.name, desired, True, int(desired), attempt)
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
