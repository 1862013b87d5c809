"""The subcommands of ``main.py`` / ``foresight``: store, forecast, scaling, monitor.

Each module has ``register(subparsers)``; handlers return an exit code and raise
``InputError`` for bad input. May import everything, ``dashboard`` included.
"""
