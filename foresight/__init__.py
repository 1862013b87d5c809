"""Foresight: monitor a host, forecast its load, detect anomalies, scale ahead of demand.

The package holds one subpackage per pipeline stage; data flows one way, and the
import-linter contract in ``pyproject.toml`` checks that no stage imports a later one:

    core → store → models → evaluation → (sources) → scaling → replay → alerts → live → web → cli

The user's top-level modules sit between them: ``predictor`` (the forecaster, above
``models``), ``metrics_collector`` (the host sources, above ``store``),
``resource_manager`` and ``scaling_engine`` (around ``scaling``), ``dashboard`` (the
app factory, above ``web``) and ``main`` (the CLI, on top).
"""
