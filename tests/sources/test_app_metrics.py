"""Seed 001's application metrics: the DB probe against a real MariaDB and PostgreSQL,
active connections counted on a real socket, and the load score's formula."""

from __future__ import annotations

import importlib.util
import socket
import time
from collections import namedtuple
from pathlib import Path

import pytest

import metrics_collector
from foresight.core.catalog import load_score_percent
from foresight.core.errors import InputError
from foresight.core.settings import from_environment
from foresight.host import probes
from metrics_collector import MetricsCollector, connection_counts
from tests.sources.mariadb_support import MariaDB, _free_port
from tests.sources.sql_tables import DRIVERS, SERVER_BACKENDS

NOW = 1_800_000_000.0


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_db_probe_times_select_one_on_a_real_server(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.getfixturevalue(backend)  # a private mariadbd or postgres
    collector = MetricsCollector(tmp_path, None, db_probe_url=server.url)
    try:
        before = server.statements_run()
        samples = [collector.collect(NOW + i) for i in range(5)]
        after = server.statements_run()
        for sample in samples:
            assert sample.values["db_probe_success"] == 1.0
            assert 0.0 < sample.values["db_probe_ms"] < 1000.0
        # every probe really reached the server: 5 SELECT 1 + the first count's query
        assert after - before >= 5 + 1
        assert collector.problems(NOW + 5) == []
    finally:
        collector.close()


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_db_probe_failure_shows_in_problems_and_never_stops_the_tick(
    backend: str, tmp_path: Path
) -> None:
    url = f"{DRIVERS[backend]}://foresight:pw@127.0.0.1:{_free_port()}/seed"  # nobody listens
    collector = MetricsCollector(tmp_path, None, db_probe_url=url)
    try:
        first = collector.collect(NOW)
        second = collector.collect(NOW + 10)
        for sample in (first, second):
            assert sample.values["db_probe_success"] == 0.0
            assert "db_probe_ms" not in sample.values  # no answer, no latency
            assert "memory_percent" in sample.values  # the rest of the tick is there
        (problem,) = collector.problems(NOW + 10)
        assert "DB probe" in problem and "(10 s)" in problem and ":pw@" not in problem
    finally:
        collector.close()


def test_db_probe_url_is_checked_at_start() -> None:
    with pytest.raises(InputError, match="FORESIGHT_DB_PROBE_URL must be a SQLAlchemy URL"):
        from_environment({"FORESIGHT_DB_PROBE_URL": "not a url"})
    with pytest.raises(InputError, match="unknown database dialect"):
        from_environment({"FORESIGHT_DB_PROBE_URL": "nosuchdb://x/y"})
    ok = from_environment({"FORESIGHT_DB_PROBE_URL": "sqlite:///probe.db"})
    assert ok.db_probe_url == "sqlite:///probe.db"


@pytest.mark.parametrize(
    "url,module,message",
    [
        # SQLAlchemy's own default driver for these: a package the sql extra does not have
        ("postgresql+psycopg2://u:p@db/x", "psycopg2", "pip install psycopg2-binary, or use"),
        ("mysql://u:p@db/x", "MySQLdb", "'mysqldb' of 'mysql' is not installed; pip install"),
        ("postgres://u:p@db/x", None, "PostgreSQL's is postgresql+psycopg://"),
    ],
)
def test_a_url_names_the_package_its_driver_needs(
    url: str, module: str | None, message: str
) -> None:
    if module is not None and importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here, so {url} is valid")
    with pytest.raises(InputError, match="FORESIGHT_DB_PROBE_URL") as caught:
        from_environment({"FORESIGHT_DB_PROBE_URL": url})
    assert message in str(caught.value)
    assert ":p@" not in str(caught.value)  # the password is never echoed


def test_active_connections_count_real_connections(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        collector = MetricsCollector(tmp_path, None, connections_port=port, connections_every_s=5)
        idle = collector.collect(NOW).values
        assert idle["active_connections"] == 0 and idle["connections_established"] == 0
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        accepted = [listener.accept()[0] for _ in clients]
        try:
            # within the slower beat the last counts are repeated
            assert collector.collect(NOW + 1).values["connections_established"] == 0
            busy = collector.collect(NOW + 5).values
            assert busy["connections_established"] == 3  # the server side of each
            assert busy["active_connections"] == 3
            assert busy == {**busy, **connection_counts(port)}  # the same as a direct count
            for s in clients:  # the clients hang up; the server has not closed yet
                s.close()
            closing = wait_counts(port, "connections_close_wait", 3)
            assert closing["connections_established"] == 0
            assert closing["active_connections"] == 3
        finally:
            for s in clients + accepted:
                s.close()


def wait_counts(port: int, name: str, value: float) -> dict[str, float]:
    """Counts once ``name`` reaches ``value`` (the kernel moves states asynchronously)."""
    for _ in range(50):
        counts = connection_counts(port)
        if counts[name] == value:
            return counts
        time.sleep(0.05)
    raise AssertionError(f"{name} never reached {value}: {counts}")


TAIL = b" 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
HEADER = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt\n"
LOOP6 = b"00000000000000000000000001000000"
MAPPED = b"0000000000000000FFFF00000100007F"  # ::ffff:127.0.0.1


def test_states_from_proc_net_tcp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tcp, tcp6 = tmp_path / "tcp", tmp_path / "tcp6"
    rows = [  # local, remote, state (port 8080 = 1F90; 50000 = C350)
        (b"0100007F:1F90", b"0100007F:C350", b"03"),  # SYN_RECV: other
        (b"0100007F:1F90", b"0100007F:C351", b"09"),  # LAST_ACK: other
        (b"0100007F:1F90", b"0100007F:C352", b"01"),  # ESTABLISHED
        (b"0100007F:1F90", b"00000000:0000", b"0A"),  # the listener: not counted
        (b"0100007F:C353", b"0100007F:1F90", b"01"),  # a client's side: not counted
        (b"0100007F:1F90", b"0100007F:C354", b"01"),  # the probe's own: not counted
        (b"0100007F:1F91", b"0100007F:C355", b"01"),  # another port
    ]
    tcp.write_bytes(
        HEADER + b"".join(b"%4d: %s %s %s" % (i, *r) + TAIL for i, r in enumerate(rows))
    )
    rows6 = [
        (LOOP6 + b":1F90", LOOP6 + b":C356", b"06"),  # TIME_WAIT from ::1
        (MAPPED + b":1F90", MAPPED + b":C354", b"01"),  # the probe's own, v4-mapped
    ]
    tcp6.write_bytes(
        HEADER + b"".join(b"%4d: %s %s %s" % (i, *r) + TAIL for i, r in enumerate(rows6))
    )
    monkeypatch.setattr(probes, "PROC_NET_TCP", (str(tcp), str(tcp6)))
    monkeypatch.setattr(probes.psutil, "net_connections", None)  # never asked on Linux
    assert connection_counts(8080, own_ports={50004}) == {
        "connections_established": 1.0,
        "connections_time_wait": 1.0,
        "connections_close_wait": 0.0,
        "connections_other": 2.0,
        "active_connections": 4.0,
    }


def test_states_without_a_metric_count_as_other(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conn = namedtuple("sconn", "laddr raddr status")
    addr = namedtuple("addr", "ip port")
    found = [
        conn(addr("127.0.0.1", 8080), addr("127.0.0.1", 50000), "SYN_RECV"),
        conn(addr("127.0.0.1", 8080), addr("127.0.0.1", 50001), "LAST_ACK"),
        conn(addr("127.0.0.1", 8080), addr("127.0.0.1", 50002), "ESTABLISHED"),
        conn(addr("127.0.0.1", 8080), (), "LISTEN"),  # the listener itself: not counted
        conn(addr("127.0.0.1", 50003), addr("127.0.0.1", 8080), "ESTABLISHED"),  # a client
        conn(addr("127.0.0.1", 8080), addr("127.0.0.1", 50004), "ESTABLISHED"),  # the probe
    ]
    # no /proc/net/tcp (not Linux): psutil's net_connections
    monkeypatch.setattr(probes, "PROC_NET_TCP", (str(tmp_path / "none"),))
    monkeypatch.setattr(metrics_collector.psutil, "net_connections", lambda kind: found)
    assert connection_counts(8080, own_ports={50004}) == {
        "connections_established": 1.0,
        "connections_time_wait": 0.0,
        "connections_close_wait": 0.0,
        "connections_other": 2.0,
        "active_connections": 3.0,
    }


def test_active_connections_on_mariadbs_port(mariadb: MariaDB) -> None:
    import pymysql

    before = connection_counts(mariadb.port)["connections_established"]
    conn = pymysql.connect(
        host="127.0.0.1", port=mariadb.port, user="foresight", password="foresight-test-pw"
    )
    try:
        assert connection_counts(mariadb.port)["connections_established"] == before + 1
    finally:
        conn.close()


@pytest.mark.parametrize(
    "values,score",
    [
        # 100 × (0.5·45/90 + 0.3·47.5/95 + 0.2·100/1000) / 1.0
        ({"cpu_percent": 45.0, "memory_percent": 47.5, "active_connections": 100.0}, 42.0),
        # no connections counted: 100 × (0.5·0.5 + 0.3·0.5) / 0.8
        ({"cpu_percent": 45.0, "memory_percent": 47.5}, 50.0),
        # each input is capped at its critical level
        ({"cpu_percent": 100.0, "memory_percent": 100.0, "active_connections": 5000.0}, 100.0),
        ({"cpu_percent": 0.0, "memory_percent": 0.0, "active_connections": 0.0}, 0.0),
        ({"memory_percent": 50.0}, None),  # no CPU yet (first tick): no score
    ],
)
def test_load_score_formula(values: dict[str, float], score: float | None) -> None:
    assert load_score_percent(values) == score


def test_collector_adds_the_load_score_in_range(tmp_path: Path) -> None:
    collector = MetricsCollector(tmp_path, None)
    collector.prime()
    values = collector.collect(NOW).values
    assert 0.0 <= values["load_score_percent"] <= 100.0
    assert values["load_score_percent"] == load_score_percent(values)
