"""Shared ground: Settings, errors, the metric catalog, number parsing, atomic files, CSV.

Imports nothing of Foresight's; everything else may import it.
"""
