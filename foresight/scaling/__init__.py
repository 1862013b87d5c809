"""Scaling policies (threshold, reactive/HPA, predictive, hybrid) and the scale-in guard.

``records`` (what policies exchange), ``forecast`` (the forecast they read), ``limits``
(what every target passes), ``policies`` and ``predictive`` (the policies themselves).
May import ``foresight.pool`` and ``resource_manager`` (the pool's state types),
``predictor`` and below. The engine that runs them is the top-level ``scaling_engine``.
"""
