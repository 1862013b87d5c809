"""HostDemand: only the configured SCALING_SIGNALS bound the demand this host can report."""

from __future__ import annotations

import pytest

from foresight.live.host_demand import HostDemand


def host(signals: tuple[str, ...]) -> HostDemand:
    # 8 cores at 1 core an instance: 8 units; 16 GB at 4 GB an instance: 4 units
    return HostDemand(signals=signals, host_cores=8, host_memory_gb=16.0, instance_memory_gb=4.0)


@pytest.mark.parametrize(
    "signals,bound,peak",
    [(("cpu", "memory"), "cpu", 8.0), (("memory",), "memory", 4.0), (("cpu",), "cpu", 8.0)],
)
def test_peak_units_count_only_the_configured_signals(signals, bound, peak):
    demand = host(signals)
    assert demand.bound_by() == bound and demand.peak_units() == peak
    demand.add({"cpu_percent": 100.0, "memory_percent": 100.0})
    assert max(demand.take().values()) == peak  # the most it can ever report


def test_memory_bounds_when_it_is_counted_and_larger():
    demand = HostDemand(host_cores=2, host_memory_gb=64.0, instance_memory_gb=4.0)
    assert demand.bound_by() == "memory" and demand.peak_units() == 16.0
    cpu_only = HostDemand(
        signals=("cpu",), host_cores=2, host_memory_gb=64.0, instance_memory_gb=4.0
    )
    assert cpu_only.bound_by() == "cpu" and cpu_only.peak_units() == 2.0


def test_memory_only_scaling_clamps_max_instances_to_the_memory():
    from foresight.live.scaling_stage import LiveScaling

    kw = dict(now=0.0, host_cores=8, host_memory_gb=16.0, instance_memory_gb=4.0)
    live = LiveScaling(signals=("memory",), max_instances=20, **kw)
    # 4 units of memory at most: 5 instances at the 80 % target, not the CPU's 10
    assert live.max_reachable == 5 and live.pool.max_instances == 5
    assert "16.0 GB of memory" in live.status(0.0)["conditions"][0]["message"]
    assert LiveScaling(max_instances=20, **kw).max_reachable == 10
