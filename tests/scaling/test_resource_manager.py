"""The simulated pool (lifecycle, cost, health checks, limits) and the executors."""

from __future__ import annotations

import json

import pytest

from foresight.core.errors import InputError
from foresight.scaling.webhook import WebhookExecutor, actual_count
from resource_manager import DAY_S, ResourcePool, SimulatedExecutor
from tests.http_support import QuietHandler, loopback_server

T0 = 1_767_571_200.0  # Monday 2026-01-05 00:00 UTC: a fake clock, passed in


def pool(**kw) -> ResourcePool:
    params = dict(
        start_s=T0,
        min_instances=1,
        max_instances=10,
        initial=1,
        boot_s=300.0,
        pending_s=30.0,
        drain_s=60.0,
        daily_budget=100.0,
    )
    params.update(kw)
    return ResourcePool(**params)


def states(p: ResourcePool) -> list[str]:
    return [i.state.value for i in p.instances()]


def test_lifecycle_pending_booting_ready_draining_terminated():
    p = pool()
    assert p.scale_to(2, T0) == 2
    assert states(p) == ["ready", "pending"]
    p.tick(T0 + 29)
    assert states(p) == ["ready", "pending"]
    p.tick(T0 + 30)
    assert states(p) == ["ready", "booting"]
    s = p.state(T0 + 299)
    assert (s.ready, s.booting) == (1, 1)
    s = p.state(T0 + 300)
    assert (s.ready, s.booting, s.desired) == (2, 0, 2)
    p.scale_to(1, T0 + 400)
    assert sorted(states(p)) == ["draining", "ready"]
    assert p.state(T0 + 400).ready == 1
    p.tick(T0 + 459)
    assert len(p.instances()) == 2
    p.tick(T0 + 460)
    assert states(p) == ["ready"]
    kinds = [e.kind for e in p.events]
    assert kinds == ["launch", "launch", "ready", "drain", "terminated"]


def test_cost_is_billed_from_launch_to_end_of_draining():
    p = pool(initial=2)
    p.tick(T0 + 3600)
    assert p.state(T0 + 3600).cost_total == pytest.approx(2 * 0.10)
    p.scale_to(1, T0 + 3600)  # one drains for 60 s more
    p.tick(T0 + 7200)
    assert p.cost_total == pytest.approx(0.2 + 0.1 + 0.1 * 60 / 3600)
    assert p.instance_seconds == pytest.approx(3 * 3600 + 60)


def test_cost_today_resets_at_midnight_utc():
    p = pool(initial=1)
    p.tick(T0 + DAY_S - 60)
    assert p.state(T0 + DAY_S - 60).cost_today == pytest.approx(0.1 * (24 - 1 / 60))
    s = p.state(T0 + DAY_S + 3600)
    assert s.cost_today < 0.2 and s.cost_total == pytest.approx(0.1 * 25)


def test_cost_today_after_one_tick_across_midnight_is_the_part_since_midnight():
    # One tick may span midnight (or days, after a suspend): today's share is split off.
    p = pool(initial=1)
    p.tick(T0 + DAY_S - 60)
    assert p.state(T0 + DAY_S + 3600).cost_today == pytest.approx(0.10)
    s = p.state(T0 + 3 * DAY_S + 1800)
    assert s.cost_today == pytest.approx(0.05)
    assert s.cost_total == pytest.approx(0.10 * (3 * 24 + 0.5))


def test_scale_down_cancels_not_yet_ready_instances_first():
    p = pool(initial=2)
    p.scale_to(4, T0 + 10)
    p.scale_to(2, T0 + 20)  # the two booting ones go, at once
    s = p.state(T0 + 20)
    assert (s.ready, s.booting, s.draining) == (2, 0, 0)
    assert [e.kind for e in p.events][-2:] == ["cancel", "cancel"]


@pytest.mark.parametrize("target, expected", [(0, 2), (-5, 2), (3, 3), (50, 6)])
def test_scale_to_is_clamped_to_min_and_max(target, expected):
    p = pool(min_instances=2, max_instances=6, initial=2)
    assert p.scale_to(target, T0) == expected
    assert p.state(T0).desired == expected


def test_failed_instance_is_replaced_by_health_check():
    p = pool(initial=3)
    victim = p.instances()[0].id
    p.mark_failed(victim, T0 + 100)
    s = p.state(T0 + 100)
    assert (s.ready, s.booting) == (2, 1)  # replacement is booting
    assert victim not in [i.id for i in p.instances()]
    assert [e.kind for e in p.events][-3:] == ["unhealthy", "failed", "launch"]
    assert p.state(T0 + 400).ready == 3
    with pytest.raises(InputError):
        p.mark_failed(victim, T0 + 500)


def test_a_draining_instance_that_fails_is_not_replaced():
    # It was on its way out: the health check ends it (billing stops) and launches
    # nothing, so the pool stays at the count the engine asked for.
    p = pool(initial=2)
    p.scale_to(1, T0 + 10)
    (victim,) = [i.id for i in p.instances() if i.state.value == "draining"]
    p.mark_failed(victim, T0 + 20)
    s = p.state(T0 + 20)
    assert (s.ready, s.booting, s.draining) == (1, 0, 0)
    assert victim not in [i.id for i in p.instances()]
    assert [e.kind for e in p.events][-2:] == ["unhealthy", "failed"]
    assert p.instance_seconds == pytest.approx(2 * 10 + 2 * 10)  # billed until it failed


def test_time_must_not_go_backwards():
    p = pool()
    p.tick(T0 + 10)
    with pytest.raises(ValueError, match="backwards"):
        p.tick(T0 + 5)


@pytest.mark.parametrize(
    "kw",
    [
        dict(min_instances=-1),
        dict(min_instances=5, max_instances=4),
        dict(boot_s=-1.0),
        dict(size="huge"),
    ],
)
def test_bad_pool_settings_are_input_errors(kw):
    with pytest.raises(InputError):
        pool(**kw)


def test_max_instances_comes_from_the_environment(monkeypatch):
    from foresight.core.settings import from_environment
    from foresight.live.scaling import from_settings

    monkeypatch.setenv("MAX_INSTANCES", "4")
    live = from_settings(from_environment(), T0)
    assert live.max_configured == 4 and live.pool.max_instances == min(4, live.max_reachable)
    monkeypatch.setenv("MAX_INSTANCES", "lots")
    with pytest.raises(InputError, match="MAX_INSTANCES"):
        from_environment()


def test_vertical_tier_resize_and_storage():
    p = pool(initial=1)
    p.resize("large", T0)
    p.scale_to(2, T0)
    p.tick(T0 + 300)
    assert p.ready_capacity() == pytest.approx(1.0 + 2.0)
    p.grow_storage(150, T0 + 300, "disk forecast")
    assert p.state(T0 + 300).storage_gb == 150
    with pytest.raises(InputError, match="only grow"):
        p.grow_storage(100, T0 + 400)


def test_simulated_executor_applies_to_the_pool():
    p = pool()
    result = SimulatedExecutor(p).apply(3, T0, "test")
    assert result.ok and result.applied == 3 and p.state(T0).desired == 3


# ---- webhook executor against a tiny local server --------------------------------------
class _Receiver(QuietHandler):
    statuses: list[int] = []
    bodies: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append({"body": body, "auth": self.headers.get("Authorization")})
        status = type(self).statuses.pop() if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def receiver():
    _Receiver.statuses, _Receiver.bodies = [], []
    with loopback_server(_Receiver) as url:
        yield f"{url}/scale", _Receiver


def test_webhook_posts_desired_count_as_json(receiver):
    url, handler = receiver
    result = WebhookExecutor(url, token="s3cret").apply(4, T0, "forecast peak")
    assert result.ok and result.attempts == 1 and result.applied == 4
    assert handler.bodies == [
        {
            "body": {"desired_instances": 4, "timestamp": T0, "reason": "forecast peak"},
            "auth": "Bearer s3cret",
        }
    ]


def test_webhook_retries_server_errors_with_backoff(receiver):
    url, handler = receiver
    handler.statuses = [200, 503, 500]  # popped from the end: 500, 503, then 200
    waits: list[float] = []
    result = WebhookExecutor(url, retries=3, backoff_s=0.5, sleep=waits.append).apply(2, T0, "")
    assert result.ok and result.attempts == 3
    assert waits == [0.5, 1.0]


def test_webhook_does_not_retry_a_rejection(receiver):
    url, handler = receiver
    handler.statuses = [400]
    waits: list[float] = []
    result = WebhookExecutor(url, sleep=waits.append).apply(2, T0, "")
    assert not result.ok and result.attempts == 1 and "HTTP 400" in result.error
    assert waits == []


def test_webhook_failure_is_reported_after_retries(caplog):
    waits: list[float] = []
    # Port 9 on loopback: nothing listens there (connection refused, no network).
    result = WebhookExecutor(
        "http://127.0.0.1:9/scale", retries=2, backoff_s=0.1, timeout_s=1.0, sleep=waits.append
    ).apply(3, T0, "")
    assert not result.ok and result.attempts == 3 and "cannot reach" in result.error
    assert waits == [0.1, 0.2]
    assert "webhook executor failed" in caplog.text
    assert json.dumps(result.to_dict())


def test_webhook_rejects_bad_urls():
    with pytest.raises(InputError):
        WebhookExecutor("ftp://example/scale")


@pytest.mark.parametrize("count", [b"1e999", b"-1e999", b"NaN", b"Infinity"])
def test_a_non_finite_count_from_the_platform_is_a_bad_count(count):
    # json reads these as inf / nan; int(inf) raised OverflowError, which escaped apply()
    # and read_status() and ended the monitor's webhook sender thread for good.
    body = b'{"replicas": ' + count + b"}"
    with pytest.raises(ValueError, match="replicas must be a whole number >= 0"):
        actual_count(body)

    class Answer(QuietHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self._answer()

        def do_GET(self):
            self._answer()

        def _answer(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with loopback_server(Answer) as base:
        url = f"{base}/scale"
        hook = WebhookExecutor(url, status_url=url)
        result = hook.apply(3, T0, "test")
        assert result.ok and result.actual is None  # sent; no count to believe
        reading = hook.read_status(3, T0)
        assert reading.actual is None and "replicas must be a whole number" in reading.error
