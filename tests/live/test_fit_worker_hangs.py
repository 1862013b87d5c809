"""A fit worker that hangs, dies or raises (issue 8): the monitor notices within
``FIT_TIMEOUT_S``, kills and reaps it, says so in its health, and fits again at the next
job run, while the sampler keeps its beat. Real worker processes, stopped with SIGSTOP
or killed with SIGKILL; nothing is mocked."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import psutil
import pytest

from dashboard import create_app
from foresight.core.settings import Settings
from foresight.live.fit_worker import FitJob, FitWorker
from foresight.live.models import EXTRAS_KEY, TIERS
from foresight.live.services import build_services, run_cycle, stop
from tests.live.test_fit_worker import collect, job
from tests.live.test_live_models import seed_history

TIMEOUT_S = 2.0


def reaped(pid: int, within_s: float) -> bool:
    """True once ``pid`` no longer exists at all: exited *and* waited for (no zombie)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            psutil.Process(pid)
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def warm_worker(timeout_s: float = TIMEOUT_S) -> tuple[FitWorker, int]:
    """A worker that has answered one job (a cold start, spawn and imports, takes longer
    than TIMEOUT_S on a busy machine), then gets ``timeout_s``; and its pid."""
    worker = FitWorker(idle_s=30.0, timeout_s=300.0)
    warm, error = collect(worker, job(300))
    assert error is None
    worker.timeout_s = timeout_s
    return worker, warm.worker_pid


def test_a_stopped_worker_is_killed_after_the_timeout_and_the_next_job_gets_a_new_one(caplog):
    worker, pid = warm_worker()
    caplog.set_level(logging.ERROR, logger="foresight.live.fit_worker")
    try:
        os.kill(pid, signal.SIGSTOP)  # hung: alive, but never answers
        started = time.monotonic()
        outcome, error = collect(worker, job(300))
        noticed_s = time.monotonic() - started
        assert reaped(pid, within_s=30), "the hung worker was left behind"
        after, again = collect(worker, job(300))
    finally:
        worker.close()
    assert outcome is None and type(error).__name__ == "BrokenProcessPool"
    assert TIMEOUT_S <= noticed_s < TIMEOUT_S + 30
    assert again is None and after.kind == "served" and after.worker_pid != pid
    stats = worker.stats()
    assert stats["hangs"] == 1 and stats["crashes"] == 0 and stats["starts"] == 2
    last = stats["last_failure"]
    assert last["kind"] == "hang" and last["pid"] == pid
    assert f"FIT_TIMEOUT_S={TIMEOUT_S:g}" in last["message"]
    assert f"pid {pid}" in caplog.text and "killed" in caplog.text


def test_a_busy_worker_that_answers_is_not_taken_for_a_hung_one():
    # Jobs kept queued for twice the timeout (topped up while at least ten wait, however
    # fast this machine runs them); each answer counts as progress, so no kill.
    worker, pid = warm_worker(timeout_s=3.0)
    answers: list = []

    def done(j, outcome, error):
        answers.append((error, outcome.worker_pid if outcome else None))

    submitted = 0
    try:
        started = time.monotonic()
        while time.monotonic() - started < 2 * worker.timeout_s:
            while submitted - len(answers) < 20:
                assert worker.submit(job(300), done)
                submitted += 1
            time.sleep(0.001)
        deadline = time.monotonic() + 300
        while len(answers) < submitted and time.monotonic() < deadline:
            time.sleep(0.01)
        took_s = time.monotonic() - started
    finally:
        worker.close()
    assert took_s > worker.timeout_s
    assert answers == [(None, pid)] * submitted
    assert worker.stats()["hangs"] == 0 and worker.stats()["starts"] == 1


def test_a_fit_that_raises_is_reported_and_the_worker_keeps_serving():
    worker, _ = warm_worker()
    good = job(300)
    # A two-dimensional history: the fit itself raises (IndexError, not a "too short").
    broken = FitJob(
        "cpu_percent", "1h", good.values[None, :], good.timestamps, 12, 60.0, 22, good.now
    )
    try:
        outcome, error = collect(worker, broken)
        after, again = collect(worker, good)
    finally:
        worker.close()
    assert outcome is None and error is not None
    assert type(error).__name__ != "BrokenProcessPool"
    assert again is None and after.kind == "served"
    stats = worker.stats()
    assert stats["failed"] == 1 and stats["crashes"] == 0 and stats["starts"] == 1
    assert stats["last_failure"]["kind"] == "error"
    assert type(error).__name__ in stats["last_failure"]["message"]


def test_closing_does_not_wait_for_a_hung_worker():
    worker, pid = warm_worker(timeout_s=600.0)  # the watchdog would not act in time
    os.kill(pid, signal.SIGSTOP)
    assert worker.submit(job(300), lambda *a: None)
    started = time.monotonic()
    worker.close()
    assert time.monotonic() - started < 30
    assert reaped(pid, within_s=30)


@pytest.fixture
def monitor(tmp_path, clock):
    """Monitor services whose fit worker times out after TIMEOUT_S, and their API."""
    settings = Settings(data_dir=tmp_path / "data", fit_timeout_s=TIMEOUT_S)
    svc = build_services(settings, now=clock())
    svc.clock = clock
    live = svc.extras[EXTRAS_KEY]
    assert live.worker.timeout_s == TIMEOUT_S  # FIT_TIMEOUT_S reaches the worker
    live.worker.clock = clock  # failures are stamped in the test's time, as health reads it
    live.metrics = lambda: ["cpu_percent"]
    live.tiers = (TIERS[0],)
    live.refit_steps = 0  # a fit is due every FORECAST_REFIT_S: the timings below use it
    seed_history(svc.store, clock(), hours=30, step_s=60.0)
    client = create_app({"TESTING": True}, services=svc).test_client()
    yield svc, live, client
    stop(svc)


@pytest.mark.parametrize("sig", [signal.SIGSTOP, signal.SIGKILL], ids=["stopped", "killed"])
def test_the_monitor_recovers_from_a_hung_or_killed_worker_and_health_says_so(
    monitor, clock, sig, caplog
):
    svc, live, client = monitor
    svc.running = True  # as if started: health reports the worker, not a stopped sampler
    # Real fits take seconds on a busy machine: the short timeout is only for the hang.
    live.worker.timeout_s = 300.0
    live.run(clock())
    assert live.wait_idle(300)
    first = live.state("cpu_percent", TIERS[0])
    assert first.status == "ok", first.message
    assert client.get("/api/system/health").get_json()["fit_worker"]["last_failure"] is None
    pid = live.worker_stats()["last_worker_pid"]
    caplog.set_level(logging.ERROR)

    live.worker.timeout_s = TIMEOUT_S
    os.kill(pid, signal.SIGSTOP)  # the worker stops answering...
    clock.advance(live.refit_every_s)  # ...the model is due: its fit goes to that worker
    live.run(clock())
    if sig == signal.SIGKILL:  # ...and dies with the fit in its hands
        os.kill(pid, signal.SIGKILL)
    # The sampler does not wait for the worker: a tick runs while the fit is stuck.
    tick = threading.Thread(target=run_cycle, args=(svc, clock()))
    tick.start()
    tick.join(30)
    assert not tick.is_alive(), "a sampling tick waited for the fit worker"
    assert live.wait_idle(TIMEOUT_S + 60), "the lost fit was never noticed"
    assert reaped(pid, within_s=30), "the worker was left as a zombie"
    assert pid not in children()
    live.worker.timeout_s = 300.0

    kept = live.state("cpu_percent", TIERS[0])
    assert kept.status == "ok" and kept.fitted_at == first.fitted_at  # still served
    health = client.get("/api/system/health").get_json()
    block = health["fit_worker"]
    kind = "hang" if sig == signal.SIGSTOP else "crash"
    assert block["last_failure"]["kind"] == kind and block["timeout_s"] == 300.0
    assert block["hangs" if kind == "hang" else "crashes"] == 1
    assert health["status"] == "degraded"
    assert any(f"fit worker {'hung' if kind == 'hang' else 'died'}" in r for r in health["reasons"])
    assert "fit worker stopped while fitting cpu_percent" in caplog.text

    live.run(clock())  # the next job run, same time: the fit is retried at once
    assert live.wait_idle(300)
    again = live.state("cpu_percent", TIERS[0])
    assert again.fitted_at == clock() and again.status == "ok"
    stats = live.worker_stats()
    assert stats["last_worker_pid"] not in (None, pid) and stats["starts"] == 2
    clock.advance(301)  # the degraded status is for a while, not for ever
    health = client.get("/api/system/health").get_json()
    assert not any("fit worker" in reason for reason in health["reasons"]), health["reasons"]
