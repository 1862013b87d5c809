"""Alerting: rules from a YAML file, their lifecycle in the store, notifications.

``rules`` parses the file, ``conditions`` observes each rule kind, ``engine`` runs the
lifecycle, ``notify`` talks to Alertmanager and webhooks. ``foresight.live.alerting``
wires them into the monitor's cycle.
"""
