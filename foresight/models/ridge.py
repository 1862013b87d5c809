"""Linear algebra for the forecaster: weighted multi-output ridge in numpy.

Here rather than scikit-learn so the monitor never loads it (its package import alone
brings SciPy, ~110 MB); tests hold these equal to scikit-learn's estimators.
"""

from __future__ import annotations

import numpy as np


class NotFittedError(ValueError, AttributeError):
    """Raised when an unfitted model is used (scikit-learn's contract, without importing
    scikit-learn: its package import alone loads SciPy, ~110 MB in the monitor)."""


def ridge_solve(
    X: np.ndarray, Y: np.ndarray, alpha: float, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted multi-output ridge with an unpenalised intercept: (coef (p, k), intercept).

    The same estimator as ``sklearn.linear_model.Ridge(alpha).fit(X, Y, sample_weight)``
    (a test holds them equal): centre on the weighted means, then solve the normal
    equations ``(Xc' W Xc + alpha I) coef = Xc' W Yc`` once for every output column.
    """
    w = np.asarray(weights, dtype=float)
    x_mean = np.average(X, axis=0, weights=w)
    y_mean = np.average(Y, axis=0, weights=w)
    root = np.sqrt(w)[:, None]
    Xc, Yc = (X - x_mean) * root, (Y - y_mean) * root
    gram = Xc.T @ Xc
    gram[np.diag_indices_from(gram)] += alpha
    try:
        coef = np.linalg.solve(gram, Xc.T @ Yc)
    except np.linalg.LinAlgError:  # alpha == 0 with collinear columns
        coef = np.linalg.lstsq(gram, Xc.T @ Yc, rcond=None)[0]
    return coef, y_mean - x_mean @ coef
