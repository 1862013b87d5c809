"""Failure risk: crash risk from forecast bands, and a trained failure-probability model.

Model code (features, labels, models, alarms, crash) is pure: arrays in, arrays out, no
files and no clock. ``data`` reads CSVs and ``persist`` saves models with skops.
"""
