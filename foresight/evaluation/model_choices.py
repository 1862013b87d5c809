"""The names ``backtest --model`` accepts (issue 8), kept free of numpy.

The CLI's parser is built on every ``main.py`` call, ``--help`` included, so it reads the
choices from here rather than from ``selection``, which imports numpy and scikit-learn.
"""

from __future__ import annotations

# ``auto`` selects on validation origins; every other name is a candidate of ``selection``.
MODEL_CHOICES: tuple[str, ...] = (
    "auto",
    "last",
    "seasonal",
    "ridge",
    "ridge-log",
    "robust",
    "lstm",
    "lags",
    "median",
)
