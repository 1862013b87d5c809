"""This host's readings beyond the collector's core ones (issue 14 part 3, issue 12).

``system``: memory split, per-filesystem usage, per-disk and per-interface counters
(loopback and virtual-only devices left out of the network totals); ``processes``: the
top processes by CPU and memory, sampled at a slower beat than the metrics.
``probes``: the HTTP probe and the connection counts; ``ticks``: the sampling job and
its tick statistics (the one module here that reads the clock). ``metrics_collector``
calls them; nothing here knows the store or the web.
"""
