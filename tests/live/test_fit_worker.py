"""Fits in a child process (issue 8): refits never run in the monitor's interpreter, the
monitor keeps only arrays (no scikit-learn or SciPy), and a dying worker is survived."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import psutil

from foresight.live.fit_worker import FitJob, FitWorker, run_job
from foresight.live.forecasting import RESELECT_EVERY_S
from foresight.live.models import EXTRAS_KEY, TIERS
from tests.conftest import ROOT
from tests.live.test_live_models import seed_history


def job(n: int, horizon: int = 12, now: float = 1_800_000_000.0) -> FitJob:
    ts = now - 60.0 * np.arange(n, 0, -1)
    rng = np.random.default_rng(3)
    values = 40 + 10 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 2, n)
    return FitJob("cpu_percent", "1h", values, ts, horizon, 60.0, horizon + 10, now)


def collect(worker: FitWorker, fit: FitJob) -> tuple:
    """Submit one job and wait for its answer: (outcome, error)."""
    got: list = []
    ready = threading.Event()

    def done(j, outcome, error):
        got.append((outcome, error))
        ready.set()

    assert worker.submit(fit, done)
    assert ready.wait(120), "the worker never answered"
    return got[0]


def gone(pid: int, within_s: float) -> bool:
    """True once ``pid`` has exited (or is a zombie) within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_fit_runs_in_another_process_and_comes_back_as_arrays():
    worker = FitWorker(idle_s=30.0)
    try:
        outcome, error = collect(worker, job(2000))
    finally:
        worker.close()
    assert error is None and outcome.kind == "served"
    assert outcome.worker_pid != os.getpid()
    assert outcome.cpu_s > 0
    assert all(isinstance(a, np.ndarray) for a in outcome.arrays.values())
    json.dumps(outcome.doc)  # plain JSON: what model_files saves
    stats = worker.stats()
    assert stats["jobs"] == 1 and stats["starts"] == 1 and not stats["alive"]


def test_too_short_history_is_an_answer_not_a_failure():
    outcome = run_job(job(15))  # in-process: the same function the worker runs
    assert outcome.kind == "short" and "more steps needed" in outcome.message


def test_an_idle_worker_is_retired_and_a_new_one_starts_on_demand():
    worker = FitWorker(idle_s=0.2)
    try:
        first, _ = collect(worker, job(300))
        deadline = time.monotonic() + 30
        while worker.stats()["alive"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not worker.stats()["alive"]
        assert gone(first.worker_pid, within_s=30)  # the process exits: its memory is freed
        second, _ = collect(worker, job(300))
    finally:
        worker.close()
    assert second.worker_pid != first.worker_pid and worker.stats()["starts"] == 2


def test_a_killed_worker_fails_its_job_and_the_next_job_gets_a_new_one():
    worker = FitWorker(idle_s=30.0)
    try:
        warm, _ = collect(worker, job(300))
        got: list = []
        ready = threading.Event()
        worker.submit(job(12000, horizon=96), lambda j, o, e: (got.append((o, e)), ready.set()))
        time.sleep(0.5)  # the worker is busy choosing among the candidates
        os.kill(warm.worker_pid, signal.SIGKILL)
        assert ready.wait(60)
        outcome, error = got[0]
        assert outcome is None and type(error).__name__ == "BrokenProcessPool"
        after, error = collect(worker, job(300))
    finally:
        worker.close()
    assert error is None and after.worker_pid != warm.worker_pid
    stats = worker.stats()
    assert stats["crashes"] == 1 and stats["failed"] == 1


def test_the_monitor_keeps_serving_when_its_worker_dies(services, clock, caplog):
    live = services.extras[EXTRAS_KEY]
    live.metrics = lambda: ["cpu_percent"]
    live.tiers = (TIERS[0],)
    seed_history(services.store, clock(), hours=96, step_s=60.0)  # 5,760 one-minute steps
    live.run(clock())
    assert live.wait_idle(300)
    first = live.state("cpu_percent", TIERS[0])
    assert first.status == "ok", first.message
    pid = live.worker_stats()["last_worker_pid"]
    assert pid != os.getpid()
    clock.advance(RESELECT_EVERY_S + 60)  # due, and old enough to choose afresh (slow)
    caplog.set_level(logging.ERROR, logger="foresight.live.worker_fits")
    # Stopped, the worker cannot answer: its fit is surely in flight at the kill (a 0.3-s
    # sleep lost the race once the reads got faster: the fit was done before the kill).
    os.kill(pid, signal.SIGSTOP)
    live.run(clock())
    deadline = time.monotonic() + 30
    while live.worker_stats()["pending"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.worker_stats()["pending"] > 0
    os.kill(pid, signal.SIGKILL)
    assert live.wait_idle(120)
    kept = live.state("cpu_percent", TIERS[0])
    assert kept.status == "ok" and kept.fitted_at == first.fitted_at  # the old model serves
    assert kept.forecast is not None and kept.checked_at == -math.inf  # due at the next run
    assert "fit worker stopped" in caplog.text
    assert live.worker_stats()["crashes"] == 1
    clock.advance(live.refit_every_s)
    live.run(clock())
    assert live.wait_idle(300)
    again = live.state("cpu_percent", TIERS[0])
    assert again.fitted_at == clock() and live.worker_stats()["last_worker_pid"] != pid


MONITOR_PROCESS = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    from foresight.core.settings import Settings
    from foresight.live.services import build_services, stop
    from foresight.live.models import EXTRAS_KEY
    from dashboard import create_app

    now = time.time()
    services = build_services(Settings(data_dir=sys.argv[1]), now=now)
    create_app(services=services)
    t = np.arange(now - 8 * 3600, now, 30.0)
    cpu = 40 + 20 * np.sin(2 * np.pi * t / 7200) + np.random.default_rng(0).normal(0, 2, len(t))
    services.store.append_many(
        (float(a), {"cpu_percent": float(b), "memory_percent": 50 + float(b) / 10})
        for a, b in zip(t, cpu)
    )
    live = services.extras[EXTRAS_KEY]
    live.metrics = lambda: ["cpu_percent", "memory_percent"]
    live.run(now)
    assert live.wait_idle(600)
    served = {f"{m}@{k}": type(s.model).__module__ for (m, k), s in live._models.items()}
    report = {
        "pid": os.getpid(),
        "worker": live.worker_stats(),
        "served": served,
        "loaded": sorted(m for m in ("sklearn", "scipy", "pandas", "skops") if m in sys.modules),
    }
    stop(services)
    print(json.dumps(report))
    """
)


def test_the_monitor_process_never_loads_scikit_learn_or_scipy(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "FORESIGHT_RISK_MODEL"}
    done = subprocess.run(
        [sys.executable, "-c", MONITOR_PROCESS, str(tmp_path / "data")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["served"], "no model was fitted"
    assert report["worker"]["jobs"] >= len(report["served"])
    assert report["worker"]["last_worker_pid"] not in (None, report["pid"])
    assert set(report["served"].values()) <= {"predictor", "foresight.models.baselines"}
    assert report["loaded"] == []  # the fits ran elsewhere; only arrays came back


def test_a_worn_worker_is_replaced_once_idle_and_no_job_is_lost():
    worker = FitWorker(idle_s=30.0, max_jobs_per_worker=2)
    try:
        pids = [collect(worker, job(300))[0].worker_pid for _ in range(2)]
        assert gone(pids[0], within_s=30)  # retired at once after its second job
        third, error = collect(worker, job(300))
    finally:
        worker.close()
    assert error is None and pids[0] == pids[1] != third.worker_pid
    assert worker.stats()["starts"] == 2


def test_the_worker_gets_a_compilation_cache_under_the_data_dir_and_an_lstm_budget(tmp_path):
    from foresight.live.fit_worker import lstm_fit_budget_s
    from foresight.live.models import make_fit_worker

    worker = make_fit_worker(300.0, tmp_path)
    try:
        assert worker.compile_cache_dir == str(tmp_path / "jax-cache")
        # A round's four LSTM fits (three validation, one final) end within 60 % of it.
        assert worker.lstm_budget_s == lstm_fit_budget_s(300.0) == 45.0
        assert make_fit_worker(60.0).compile_cache_dir is None
    finally:
        worker.close()
