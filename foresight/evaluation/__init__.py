"""Backtests: rolling-origin accuracy of the forecaster against trivial baselines.

Sits above ``predictor`` (which it tests); may import ``predictor``, ``foresight.models``
and ``foresight.core``.
"""
