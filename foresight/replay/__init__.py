"""Replaying a demand trace through the engine and pool, and its HTML report.

May import ``scaling_engine``, ``resource_manager``, ``predictor`` and below.
"""
