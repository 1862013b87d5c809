"""Pure numeric model pieces: lag features, season detection, the anomaly detector.

No I/O and no clock. May import ``foresight.core``; the forecaster built on these is
the top-level ``predictor`` module.
"""
