"""The SQLite metric store: samples, rollups, downsampled reads, JSON export/import.

May import ``foresight.core`` only.
"""
