"""The seeds' LSTM as an optional candidate (``pip install -e .[lstm]``: Keras 3 on JAX, CPU).

Seeds 000 and 003: one LSTM per metric on a 24-step lookback, LSTM 64 -> 32 -> 16 with
dropout 0.2 / 0.2 / 0.1, then a dense layer. Here the dense layer has ``horizon`` outputs
(all steps at once, direct like the ridge; the seeds' Dense(1) forecast one step) and
learns the change from the value at the origin on the standardised scale. Training is
bounded (``max_windows`` most recent windows, ``epochs`` passes, full batches only, so
XLA compiles one training step; one thread) so a fit costs seconds, not minutes; the
seed is fixed so fits repeat. Keras is imported only when a fit runs, with
``KERAS_BACKEND=jax`` set just before (never in the monitor, which does not load it).
``to_numpy()`` exports the trained weights into a ``NumpyLstm``
(``foresight.models.numpy_lstm``), which is what the live monitor serves, saves and
forecasts with, and what ``predict_mean`` runs here too (within 1e-5 of Keras's output).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import numpy as np

from foresight.models.features import lag_matrix
from foresight.models.numpy_lstm import NumpyLstm

logger = logging.getLogger(__name__)

LOOKBACK = 24
UNITS = (64, 32, 16)
DROPOUT = (0.2, 0.2, 0.1)
# One XLA thread: the fit worker shares the host with the monitor (set only if unset).
XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
MISSING = "the lstm model needs Keras 3 with JAX: pip install -e .[lstm] (or pip install keras jax)"


def _keras() -> Any:
    """Keras on the JAX backend, imported on first use (the backend is set just before)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "jax"
        os.environ.setdefault("XLA_FLAGS", XLA_FLAGS)
    try:
        import keras
    except ImportError:
        raise ValueError(MISSING) from None
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            f"the lstm model trains on Keras's jax backend; Keras was loaded on {backend!r}"
        )
    return keras


def initial_weights(units: tuple[int, ...], horizon: int, seed: int) -> list[np.ndarray]:
    """Keras's default start (Glorot-uniform kernels, orthogonal recurrent kernels, zero
    biases but 1 for the forget gate), drawn with numpy from ``seed``: the same every fit,
    and without the dozens of small XLA compilations Keras's own initialisers cost."""
    rng = np.random.default_rng(seed)

    def glorot(fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out))

    weights: list[np.ndarray] = []
    inputs = 1
    for hidden in units:
        q, r = np.linalg.qr(rng.normal(size=(4 * hidden, hidden)))
        bias = np.zeros(4 * hidden)
        bias[hidden : 2 * hidden] = 1.0  # Keras's unit_forget_bias
        weights += [glorot(inputs, 4 * hidden), (q * np.sign(np.diag(r))).T, bias]
        inputs = hidden
    weights += [glorot(inputs, horizon), np.zeros(horizon)]
    return [w.astype(np.float32) for w in weights]


class LstmForecaster:
    """Direct multi-horizon LSTM on the last ``lookback`` values (fit/predict_mean)."""

    def __init__(
        self,
        horizon: int,
        *,
        lookback: int = LOOKBACK,
        epochs: int = 8,
        max_windows: int = 4000,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        seed: int = 0,
    ) -> None:
        self.horizon = horizon
        self.lookback = lookback
        self.epochs = epochs
        self.max_windows = max_windows
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def _network(self, keras: Any) -> Any:
        layers = keras.layers
        stack: list[Any] = [keras.Input((self.lookback, 1))]
        for k, (hidden, rate) in enumerate(zip(UNITS, DROPOUT, strict=True)):
            stack += [
                layers.LSTM(hidden, return_sequences=k < len(UNITS) - 1),
                layers.Dropout(rate),
            ]
        stack.append(layers.Dense(int(self.horizon)))
        net = keras.Sequential(stack)
        net.set_weights(initial_weights(UNITS, int(self.horizon), self.seed))
        return net

    def _windows(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        # lag_matrix gives [z_t, z_t-1, ...]; the LSTM reads oldest first.
        return lag_matrix(z, self.lookback, origins)[:, ::-1].copy()

    def fit(self, values: np.ndarray, timestamps: np.ndarray | None = None) -> LstmForecaster:
        """Train on every complete window of ``values`` (NaN = gap: such windows are left out)."""
        keras = _keras()
        raw = np.asarray(values, dtype=float)
        observed = raw[~np.isnan(raw)]
        need = self.lookback + self.horizon + 50
        if len(observed) < need:
            raise ValueError(f"lstm needs at least {need} observed values (got {len(observed)})")
        self.mean_ = float(observed.mean())
        self.scale_ = float(observed.std()) or 1.0
        self.clip_at_zero_ = bool(observed.min() >= 0)
        z = (raw - self.mean_) / self.scale_
        origins = np.arange(self.lookback - 1, len(z) - self.horizon)
        X = self._windows(z, origins)
        Y = z[origins[:, None] + np.arange(1, self.horizon + 1)[None, :]] - z[origins][:, None]
        ok = ~np.isnan(X).any(axis=1) & ~np.isnan(Y).any(axis=1)
        X, Y = X[ok][-self.max_windows :], Y[ok][-self.max_windows :]
        if len(X) < 50:
            raise ValueError(f"lstm: only {len(X)} complete windows to learn from")
        batch = min(self.batch_size, len(X))
        keep = len(X) // batch * batch  # full batches only: one shape, one compilation
        X, Y = X[-keep:], Y[-keep:]
        keras.utils.set_random_seed(self.seed)  # shuffling and dropout repeat
        net = self._network(keras)
        net.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
        history = net.fit(
            X[:, :, None].astype(np.float32),
            Y.astype(np.float32),
            epochs=self.epochs,
            batch_size=batch,
            shuffle=True,
            verbose=0,
        )
        self.net_ = net
        self.final_loss_ = float(history.history["loss"][-1])
        self.numpy_ = self.to_numpy()
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ValueError("this LstmForecaster is not fitted yet; call fit() first")

    def to_numpy(self) -> NumpyLstm:
        """The trained network as plain arrays, with numpy's forward pass (no Keras).

        Keras keeps an LSTM layer as kernel (inputs, 4H), recurrent kernel (H, 4H) and one
        bias (4H,), gates in the order input, forget, cell, output: ``NumpyLstm``'s order,
        transposed. The dense kernel (H, horizon) is transposed likewise."""
        self._fitted()
        weights = [np.asarray(v.value, dtype=float) for v in self.net_.weights]
        layers = [
            (weights[3 * k].T, weights[3 * k + 1].T, weights[3 * k + 2]) for k in range(len(UNITS))
        ]
        return NumpyLstm(
            self.horizon,
            self.lookback,
            layers,
            weights[-2].T,
            weights[-1],
            mean=self.mean_,
            scale=self.scale_,
            clip_at_zero=self.clip_at_zero_,
        )

    def keras_output(self, windows: np.ndarray) -> np.ndarray:
        """Keras's own output (inference: no dropout) for standardised windows, oldest first."""
        self._fitted()
        x = np.asarray(windows, dtype=np.float32)[:, :, None]
        return np.asarray(self.net_(x, training=False), dtype=float)

    def predict_mean(
        self, values: np.ndarray, origins: np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """Point forecasts (len(origins), horizon); gaps before an origin are forward-filled.
        Run with the exported weights' numpy forward pass: what the monitor serves."""
        self._fitted()
        return self.numpy_.predict_mean(values, origins, timestamps)
