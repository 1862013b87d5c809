"""The JSON API's blueprints, their parameters and schemas, docs, and the Prometheus exporter.

``security`` guards every request (Host, Origin, JSON bodies, sizes) and sets the
response headers; ``json_provider`` is the app's bounded, NaN-free JSON.

Reads what ``foresight.live`` computed; never fits models on a request. May import
``foresight.live`` and below; ``dashboard.create_app`` assembles these.
"""
