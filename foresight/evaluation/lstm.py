"""The seeds' LSTM as an optional candidate (``pip install -e .[lstm]``: Keras 3 on JAX, CPU).

Seeds 000 and 003: one LSTM per metric on a 24-step lookback, LSTM 64 -> 32 -> 16 with
dropout 0.2 / 0.2 / 0.1, then a dense layer. Here the dense layer has ``horizon`` outputs
(all steps at once, direct like the ridge; the seeds' Dense(1) forecast one step) and
learns the change from the value at the origin on the standardised scale. Training is
bounded (``max_windows`` most recent windows, ``epochs`` passes, full batches only, so
XLA compiles one training step; one thread) so a fit costs seconds, not minutes; the
seed is fixed so fits repeat. A fit also has a wall-time budget (``time_budget_s``,
default ``configure``'s): on a loaded machine it stops after the batch that spends it and
keeps the weights of its best epoch so far, and says so in its record (``training_``,
saved with the model), so an LSTM round cannot outlast the fit worker's timeout. JAX's
persistent compilation cache (``configure``: the fit worker puts it under the data
directory) lets a fit reuse the XLA programs an earlier fit compiled. Keras is imported
only when a fit runs, with ``KERAS_BACKEND=jax`` set just before (never in the monitor,
which does not load it). ``to_numpy()`` exports the trained weights into a ``NumpyLstm``
(``foresight.models.numpy_lstm``), which is what the live monitor serves, saves and
forecasts with, and what ``predict_mean`` runs here too (within 1e-5 of Keras's output).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
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
DEFAULT_FIT_BUDGET_S = 45.0  # wall seconds one fit may train (see ``configure``)

# Set by ``configure`` (the fit worker's initializer, bench_forecast): where JAX keeps
# compiled programs between processes, and how long one fit may train.
_settings: dict[str, Any] = {"compile_cache_dir": None, "fit_budget_s": DEFAULT_FIT_BUDGET_S}


def configure(
    *, compile_cache_dir: str | os.PathLike | None = None, fit_budget_s: float | None = None
) -> None:
    """Set JAX's persistent compilation cache directory and the default fit budget.

    Each fit builds a fresh Keras model, so JAX traces and XLA compiles its training step
    again (most of a fit's CPU); with a persistent cache, a fit whose program (same
    layers, shapes and batch) was compiled before, in this process or an earlier fit
    worker, loads it from disk instead. Call before the first fit (before Keras loads);
    nothing is imported here.
    """
    if compile_cache_dir is not None:
        _settings["compile_cache_dir"] = str(compile_cache_dir)
        if "jax" in sys.modules:  # already loaded: set it now as well
            _use_compile_cache(sys.modules["jax"])
    if fit_budget_s is not None:
        if not fit_budget_s > 0:
            raise ValueError(f"fit_budget_s must be > 0 (got {fit_budget_s})")
        _settings["fit_budget_s"] = float(fit_budget_s)


def _use_compile_cache(jax: Any) -> None:
    folder = _settings["compile_cache_dir"]
    if folder is None:
        return
    os.makedirs(folder, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", folder)
    # Cache every program, however quick to compile: an LSTM step's pieces take < 1 s
    # each (JAX's default threshold) but there are dozens of them per fit.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _keras() -> Any:
    """Keras on the JAX backend, imported on first use (the backend is set just before)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "jax"
        os.environ.setdefault("XLA_FLAGS", XLA_FLAGS)
    try:
        import jax
        import keras
    except ImportError:
        raise ValueError(MISSING) from None
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            f"the lstm model trains on Keras's jax backend; Keras was loaded on {backend!r}"
        )
    _use_compile_cache(jax)
    return keras


def _budget_callback(keras: Any, budget_s: float) -> Any:
    """A callback that stops training once ``budget_s`` wall seconds have passed (checked
    after every batch) and keeps the weights of the epoch with the lowest loss so far."""

    class Budget(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.started = time.perf_counter()
            self.best_loss = math.inf
            self.best_weights: list | None = None
            self.best_epoch: int | None = None
            self.epochs_done = 0
            self.stopped = False

        def _over(self) -> bool:
            return time.perf_counter() - self.started >= budget_s

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if self._over():
                self.stopped = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            loss = float((logs or {}).get("loss", math.nan))
            self.epochs_done = epoch + 1
            if math.isfinite(loss) and loss < self.best_loss:
                self.best_loss, self.best_epoch = loss, epoch + 1
                # Not get_weights(): its np.array(copy=False) warns on jax arrays.
                self.best_weights = [np.array(np.asarray(w.value)) for w in self.model.weights]

    return Budget()


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
        time_budget_s: float | None = None,
    ) -> None:
        self.horizon = horizon
        self.lookback = lookback
        self.epochs = epochs
        self.max_windows = max_windows
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed
        self.time_budget_s = time_budget_s  # None: ``configure``'s (45 s unless set)

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
        budget_s = self.time_budget_s or float(_settings["fit_budget_s"])
        started = time.perf_counter()
        net = self._network(keras)
        net.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
        budget = _budget_callback(keras, budget_s)
        history = net.fit(
            X[:, :, None].astype(np.float32),
            Y.astype(np.float32),
            epochs=self.epochs,
            batch_size=batch,
            shuffle=True,
            verbose=0,
            callbacks=[budget],
        )
        if budget.best_weights is not None and budget.best_epoch != budget.epochs_done:
            net.set_weights(budget.best_weights)  # the best epoch's, not the last one's
        losses = history.history.get("loss", [])
        self.net_ = net
        last_loss = float(losses[-1]) if losses else math.nan
        self.final_loss_ = budget.best_loss if budget.best_weights is not None else last_loss
        # The model's record (saved with it): how training went, and whether it was cut.
        self.training_ = {
            "epochs": int(self.epochs),
            "epochs_run": int(budget.epochs_done),
            "best_epoch": budget.best_epoch,
            "stopped_by_budget": bool(budget.stopped),
            "budget_s": budget_s,
            "fit_s": round(time.perf_counter() - started, 3),
            "windows": len(X),
        }
        if budget.stopped:
            logger.info(
                "lstm fit stopped by its %.0f s budget after %d of %d epochs (best: epoch %s)",
                budget_s,
                budget.epochs_done,
                self.epochs,
                budget.best_epoch,
            )
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
            training=getattr(self, "training_", None),
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
