"""``/api/processes`` and ``/api/devices`` on the real host: filled answers match their
schemas, requests mark the table watched, and loopback never counts."""

from __future__ import annotations

import os
import time

from test_contract import json_schema, validator_for

from foresight.core.settings import Settings
from foresight.live.services import build_services, run_cycle, stop

TOKEN = "system-api-test-token-0123456789"


def check_schema(client, path: str, body: dict) -> None:
    doc = client.get("/api/openapi.json").get_json()
    schema = json_schema(doc, doc["paths"][path]["get"], "200")
    errors = sorted(validator_for(doc, schema).iter_errors(body), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_processes_empty_until_a_pass_then_filled(services, client, clock) -> None:
    sampler = services.collector.processes
    assert not sampler.watched(clock())
    body = client.get("/api/processes").get_json()
    assert body["timestamp"] is None and body["by_cpu"] == [] and body["every_s"] > 0
    assert sampler.watched(clock())  # the request turned the slow job on ...
    assert sampler.passes == 0  # ... but did not walk /proc itself
    now = time.time()
    sampler.sample(now)
    sampler.sample(now + 1.0)
    body = client.get("/api/processes").get_json()
    check_schema(client, "/api/processes", body)
    assert body["window_s"] == 1.0 and body["count"] >= len(body["by_cpu"]) > 0
    assert os.getpid() in {r["pid"] for r in body["by_memory"] + body["by_cpu"]} or (
        body["count"] > len(body["by_memory"])
    )
    rss = [r["rss_bytes"] for r in body["by_memory"]]
    assert rss == sorted(rss, reverse=True)
    cpu = [r["cpu_percent"] or 0.0 for r in body["by_cpu"]]
    assert cpu == sorted(cpu, reverse=True)


def test_devices_lists_filesystems_and_leaves_loopback_out(services, client, clock) -> None:
    for _ in range(2):  # the second slow beat (5 s) has per-device rates
        run_cycle(services, clock.advance(5.0))
    body = client.get("/api/devices").get_json()
    check_schema(client, "/api/devices", body)
    assert body["memory_total_bytes"] > 0 and body["swap_total_bytes"] >= 0
    assert body["filesystems"], "no filesystem found"
    for fs in body["filesystems"]:
        assert 0 <= fs["used_percent"] <= 100 and fs["used_bytes"] <= fs["total_bytes"]
        assert f"fs_used_percent:{fs['mountpoint']}" in body["metrics"]
    loopback = [i for i in body["interfaces"] if i["loopback"]]
    assert loopback and all(not i["counted"] for i in loopback)
    for iface in loopback:
        assert f"net_recv_bytes_per_s:{iface['name']}" not in body["metrics"]
    counted = [i["name"] for i in body["interfaces"] if i["counted"]]
    assert {f"net_recv_bytes_per_s:{n}" for n in counted} <= set(body["metrics"])
    assert "memory_available_bytes" in body["metrics"]
    metrics = client.get("/api/metrics?metric=fs_used_percent:/&limit=10").get_json()["metrics"]
    assert metrics["fs_used_percent:/"]["unit"] == "%"
    assert "filesystem at /" in metrics["fs_used_percent:/"]["description"]


def test_command_lines_and_pids_need_the_token_beyond_loopback(tmp_path, clock) -> None:
    from dashboard import create_app

    svc = build_services(
        Settings(data_dir=tmp_path / "d", host="0.0.0.0", token=TOKEN), now=clock()
    )
    svc.clock = clock
    try:
        client = create_app({"TESTING": True}, services=svc).test_client()
        now = time.time()
        svc.collector.processes.sample(now)
        svc.collector.processes.sample(now + 1.0)
        anonymous = client.get("/api/processes").get_json()
        assert anonymous["by_memory"] and all(
            "command" not in r and "pid" not in r for r in anonymous["by_memory"]
        )
        check_schema(client, "/api/processes", anonymous)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        full = client.get("/api/processes", headers=auth).get_json()
        assert all("command" in r and r["pid"] > 0 for r in full["by_memory"])
    finally:
        stop(svc)
