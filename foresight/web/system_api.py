"""Top processes and the device inventory (issue 14 part 3): ``/api/processes``, ``/api/devices``.

Both answer from what the collector already holds — the process table of its slow job,
the device lists of its last tick — so a request never walks ``/proc`` itself. A request
for processes marks the table as watched, which keeps the job sampling (see
``foresight.host.processes``).
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, jsonify

from foresight.host.system import is_slow_metric
from foresight.live.services import Services
from foresight.web import responses as out
from foresight.web import system_responses as system_out
from foresight.web.api import Blueprint
from foresight.web.security import host_details_visible
from metrics_collector import MetricsCollector, host_facts

blueprint = Blueprint(
    "system", __name__, url_prefix="/api", description="Top processes, filesystems, disks, NICs"
)


NOT_LOCAL = "The monitor reads another source (--source sql|prometheus)"
PRIVATE = frozenset({"command", "pid"})  # left out beyond loopback without the token


def services() -> Services:
    return current_app.extensions["foresight"]


def local_collector(svc: Services) -> MetricsCollector:
    """This host's collector; a monitor reading another source (SQL, Prometheus) has none."""
    if not isinstance(svc.collector, MetricsCollector):
        abort(
            503,
            description="this monitor reads another source (--source): host processes "
            "and devices are read only with --source local",
        )
    return svc.collector


def facts() -> dict[str, Any]:
    """Host facts, read once per app (shared with monitor_api's cache key)."""
    cached = current_app.extensions.get("foresight_host")
    if cached is None:
        cached = current_app.extensions["foresight_host"] = host_facts()
    return cached


@blueprint.route("/processes", methods=["GET"])
@blueprint.response(200, system_out.ProcessesSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=NOT_LOCAL)
def get_processes() -> Response:
    """The top processes by CPU and by memory, from the collector's latest pass.

    Passes run every `every_s` seconds while someone asks (this request keeps them on for
    a minute); the first answer after a pause may be empty or carry no CPU figures yet.
    Bound beyond loopback, `pid` and `command` need the token (like host details).
    """
    svc = services()
    sampler = local_collector(svc).processes
    sampler.watch(svc.clock())
    table = sampler.latest()
    body: dict[str, Any] = {
        "timestamp": None,
        "window_s": None,
        "every_s": sampler.every_s,
        "count": 0,
        "by_cpu": [],
        "by_memory": [],
    }
    if table is not None:
        body.update(table.to_dict())
    if not host_details_visible():  # command lines can carry secrets; pids are host details
        for key in ("by_cpu", "by_memory"):
            body[key] = [{k: v for k, v in row.items() if k not in PRIVATE} for row in body[key]]
    return jsonify(body)


def device_metrics(values: dict[str, float]) -> list[str]:
    """The per-device and memory-split metrics among ``values``, sorted."""
    return sorted(n for n in values if is_slow_metric(n))


@blueprint.route("/devices", methods=["GET"])
@blueprint.response(200, system_out.DevicesSchema)
@blueprint.alt_response(503, schema=out.ErrorSchema, description=NOT_LOCAL)
def get_devices() -> Response:
    """Filesystems (space), disks and network interfaces, and which of them are charted.

    Interfaces carry why they are left out of the network totals (loopback, or virtual
    while the host has a physical one).
    """
    svc = services()
    latest = svc.latest()
    host = facts()
    collector = local_collector(svc)
    inventory = collector.devices.inventory()
    return jsonify(
        {
            "timestamp": None if latest is None else latest.timestamp,
            "memory_total_bytes": host["memory_total_bytes"],
            "swap_total_bytes": host["swap_total_bytes"],
            **inventory,
            # the newest sample, plus the slow beat's values (every 5 s, not in every sample)
            "metrics": device_metrics(
                {**(dict(latest.values) if latest is not None else {}), **collector.slow_values}
            ),
        }
    )
