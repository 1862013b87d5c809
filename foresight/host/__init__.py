"""This host's readings beyond the collector's core ones (issue 14 part 3, issue 12).

``system``: memory split, per-filesystem usage, per-disk and per-interface counters
(loopback and virtual-only devices left out of the network totals); ``processes``: the
top processes by CPU and memory, sampled at a slower beat than the metrics.
``metrics_collector`` calls both; nothing here knows the store, the web or the clock.
"""
