"""The webhook sender thread outlives an exception it did not expect.

The platform is the real loopback server of ``platform_support``; the one fault is an
executor whose first ``apply`` raises an error no answer-parsing path catches (as an
``OverflowError`` from a count of 1e999 once did).
"""

from __future__ import annotations

from foresight.live.platform import PlatformLink
from foresight.scaling.webhook import WebhookExecutor
from tests.scaling.platform_support import run_platform


class FailsOnce(WebhookExecutor):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def apply(self, desired: int, now: float, reason: str):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("unexpected")
        return super().apply(desired, now, reason)


def test_the_sender_survives_an_unexpected_error_and_records_it():
    with run_platform() as platform:
        link = PlatformLink(FailsOnce(platform.scale_url, retries=1, backoff_s=0.0))
        link.send(3, 100.0, "first")
        link.send(4, 101.0, "second")
        assert link.wait_idle(10.0)
        first, second = link.results
        assert not first.ok and first.error == "RuntimeError: unexpected"
        assert first.desired == 3
        assert second.ok and second.desired == 4
        assert platform.replicas == 4 and [p["desired_instances"] for p in platform.posts] == [4]
        assert link.readings[0].actual is None and "unexpected" in link.readings[0].error
        assert link.readings[-1].actual == 4
