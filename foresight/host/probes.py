"""The collector's application probes: the timed HTTP request and the connection counts.

``HttpProbe.read()`` times one GET of its URL: ``api_response_ms`` (the request sent
until the whole body is read) and ``api_success`` (1 for a 2xx/3xx answer). A loopback
``http://`` URL (the monitor's own ``/api/system/health`` by default) is asked over one
kept-alive connection: a fresh connection a second cost the monitor a TCP handshake, a
new waitress channel and a close each tick (about a third of the probe's CPU on both
sides), and left up to a minute of TIME_WAIT sockets on the monitor's own port, which the
connection counts then reported as clients. Other URLs go through ``urllib`` as they
always did (the environment's proxies, redirects followed, HTTPS).

``connection_counts(port)`` counts the server side of the TCP sockets on ``port`` by
state, from /proc/net/tcp and tcp6 on Linux (``psutil.net_connections`` elsewhere); the
kernel writes a line per socket of the host, so the collector reads them every
``connections_every_s`` only.
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection

import psutil

from foresight.core.catalog import CONNECTION_STATES

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
PROC_NET_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
# The kernel's TCP states (include/net/tcp_states.h) by their hex code in /proc/net/tcp,
# as psutil names them.
TCP_STATES = {
    "01": psutil.CONN_ESTABLISHED,
    "02": psutil.CONN_SYN_SENT,
    "03": psutil.CONN_SYN_RECV,
    "04": psutil.CONN_FIN_WAIT1,
    "05": psutil.CONN_FIN_WAIT2,
    "06": psutil.CONN_TIME_WAIT,
    "07": psutil.CONN_CLOSE,
    "08": psutil.CONN_CLOSE_WAIT,
    "09": psutil.CONN_LAST_ACK,
    "0A": psutil.CONN_LISTEN,
    "0B": psutil.CONN_CLOSING,
}
# A kept-alive connection the server has closed meanwhile (its idle timeout, a restart)
# fails on its first use like this; the request is then sent once more on a fresh one.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def connection_counts(port: int, own_ports: Collection[int] = ()) -> dict[str, float]:
    """TCP sockets whose local port is ``port`` (the server side), counted by state.

    ``active_connections`` counts every state but LISTEN; states without their own metric
    count in ``connections_other``. A socket whose peer is a loopback address on one of
    ``own_ports`` (the probe's own kept-alive connection) is not a client: not counted.
    """
    counts = dict.fromkeys([*CONNECTION_STATES.values(), "connections_other"], 0.0)
    states = _proc_states(port, own_ports)
    if states is None:
        states = _psutil_states(port, own_ports)
    for status in states:
        if status != psutil.CONN_LISTEN:
            counts[CONNECTION_STATES.get(status, "connections_other")] += 1.0
    counts["active_connections"] = sum(counts.values())
    return counts


def _psutil_states(port: int, own_ports: Collection[int]) -> list[str]:
    """The states of ``port``'s sockets from ``psutil.net_connections`` (not Linux)."""
    out = []
    for conn in psutil.net_connections(kind="tcp"):
        if not conn.laddr or conn.laddr.port != port:
            continue
        if conn.raddr and conn.raddr.port in own_ports and _is_loopback(conn.raddr.ip):
            continue
        out.append(conn.status)
    return out


def _proc_states(port: int, own_ports: Collection[int]) -> list[str] | None:
    """The states of ``port``'s sockets read from /proc/net/tcp and tcp6 (None: no such
    files, not Linux).

    ``psutil.net_connections`` reads the same files, but parses every line into a record
    and maps every socket to its process by scanning each process's descriptors: 45 ms
    of CPU a call on a host with 7,000 TCP sockets, against 9 ms to read the files and
    parse only the lines that name the port.
    """
    key = b":%04X " % port  # a local or remote port field, as the kernel writes it
    out = []
    found = False
    for path in PROC_NET_TCP:
        try:
            with open(path, "rb") as f:
                f.readline()  # the header
                for line in f:
                    if key not in line:
                        continue
                    fields = line.split()
                    local, remote, state = fields[1], fields[2], fields[3]
                    if int(local.rsplit(b":", 1)[1], 16) != port:
                        continue  # the port was the remote one: a client socket
                    peer_ip, peer_port = remote.rsplit(b":", 1)
                    if int(peer_port, 16) in own_ports and _is_loopback_hex(peer_ip):
                        continue
                    out.append(TCP_STATES.get(state.decode(), "UNKNOWN"))
            found = True
        except FileNotFoundError:  # tcp6 may be missing (IPv6 off); both: not Linux
            continue
    return out if found else None


def _is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip in ("::1", "::ffff:127.0.0.1")


def _is_loopback_hex(ip: bytes) -> bool:
    """A /proc/net/tcp address (hex, in host byte order per 32-bit word) on loopback:
    127.0.0.0/8, ::1, or ::ffff:127.x.y.z (little-endian words, as on x86 and arm)."""
    if len(ip) == 8:
        return ip[6:8] == b"7F"
    return ip == b"00000000000000000000000001000000" or (
        ip[:24] == b"0000000000000000FFFF0000" and ip[30:32] == b"7F"
    )


class HttpProbe:
    """Time one GET of ``url`` per ``read()``; see the module docstring."""

    def __init__(self, url: str, timeout_s: float = 1.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        parts = urllib.parse.urlsplit(url)
        self._keep_alive = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS
        self._host = parts.hostname or ""
        self._port = parts.port or 80
        self._target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        self._conn: http.client.HTTPConnection | None = None
        self._opener: urllib.request.OpenerDirector | None = None
        self._lock = threading.Lock()  # one request at a time on the one connection

    @property
    def local_port(self) -> int | None:
        """The local port of the kept-alive connection (None while none is open)."""
        sock = None if self._conn is None else self._conn.sock
        try:
            return None if sock is None else int(sock.getsockname()[1])
        except OSError:
            return None

    def read(self) -> dict[str, float]:
        """``api_response_ms`` and ``api_success``; only ``api_success`` 0 without an answer
        (refused, unreachable), and the time waited with ``api_success`` 0 on a timeout."""
        with self._lock:
            return self._read()

    def _read(self) -> dict[str, float]:
        if not self._keep_alive:
            return self._read_urllib()
        reused = self._conn is not None and self._conn.sock is not None
        started = time.perf_counter()
        try:
            try:
                status = self._get()
            except _STALE:
                if not reused:
                    raise
                self.close()  # the server closed the idle connection: once more, afresh
                started = time.perf_counter()
                status = self._get()
        except TimeoutError:
            self.close()
            return {"api_response_ms": (time.perf_counter() - started) * 1000.0, "api_success": 0.0}
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            logger.debug("HTTP probe of %s failed: %s", self.url, exc)
            return {"api_success": 0.0}  # no answer: no latency to report
        if 300 <= status < 400:  # a redirect: urllib follows it, as for any other URL
            self._keep_alive = False
            self.close()
            return self._read_urllib()
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return {"api_response_ms": elapsed_ms, "api_success": 1.0 if status < 300 else 0.0}

    def _get(self) -> int:
        """One GET on the kept-alive connection (opened when needed); return the status."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)
        self._conn.request("GET", self._target, headers={"Accept": "application/json"})
        response = self._conn.getresponse()
        response.read()
        if response.will_close:  # the server ends the connection: open a new one next time
            self.close()
        return response.status

    def _read_urllib(self) -> dict[str, float]:
        if self._opener is None:
            # A proxy from the environment must not sit between us and our own loopback.
            handlers = [urllib.request.ProxyHandler({})] if self._host in LOOPBACK_HOSTS else []
            # Built once: a dozen handler objects a second were a tenth of the probe.
            self._opener = urllib.request.build_opener(*handlers)
        started = time.perf_counter()
        ok = 0.0
        try:
            with self._opener.open(self.url, timeout=self.timeout_s) as response:
                response.read()
                ok = 1.0 if 200 <= response.status < 400 else 0.0
        except urllib.error.HTTPError as exc:  # answered, but not OK: latency is real
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if not isinstance(reason, (TimeoutError, socket.timeout)):
                logger.debug("HTTP probe of %s failed: %s", self.url, reason)
                return {"api_success": 0.0}  # no answer: no latency to report
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return {"api_response_ms": elapsed_ms, "api_success": ok}

    def close(self) -> None:
        """Close the kept-alive connection (the next ``read`` opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
