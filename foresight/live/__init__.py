"""The running monitor: its services and cycle, live models, live scaling, the stress test.

May import everything below the web layer (sources, models, scaling, store, core).
"""
