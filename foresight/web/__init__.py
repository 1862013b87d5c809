"""The JSON API's blueprints, their parameters and schemas, docs, and the Prometheus exporter.

Reads what ``foresight.live`` computed; never fits models on a request. May import
``foresight.live`` and below; ``dashboard.create_app`` assembles these.
"""
