"""Scaling policies (threshold, reactive/HPA, predictive, hybrid) and the scale-in guard.

May import ``resource_manager`` (the pool's state types), ``predictor`` and below. The
engine that runs them is the top-level ``scaling_engine`` module.
"""
