"""Response schemas of the JSON API: what each GET and POST returns, key by key.

This module holds the error shape every endpoint shares; each API area's answers live in
a sibling: ``monitor_responses`` (metrics, realtime, health, verification, stress),
``prediction_responses`` (forecasts, models, anomalies), ``scaling_responses`` (status,
history, desired count, resources) and ``system_responses`` (processes, devices); the
alerts, risk and samples answers sit with their requests in ``alert_schemas``,
``risk_schemas`` and ``samples_schemas``.

They document the answers in the OpenAPI document; the handlers still build their JSON
themselves (the hot paths splice cached bytes). Marshmallow's default ``unknown=RAISE``
becomes ``additionalProperties: false``, so the contract test in
``tests/web/test_contract.py`` fails on any key a handler sends that is not written here.
"""

from __future__ import annotations

from marshmallow import Schema, fields


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "What was wrong"})
