"""The trained LSTM's forward pass in numpy: what the monitor forecasts with.

``foresight.evaluation.lstm.LstmForecaster`` trains the seeds' network (LSTM 64 -> 32 -> 16,
then a dense layer) with Keras in the fit worker; ``LstmForecaster.to_numpy()`` exports
its weights as plain arrays into a ``NumpyLstm``, which predicts the same thing with a
few matrix products per step and imports nothing beyond numpy. So a served LSTM is saved
as arrays + JSON (``foresight.live.model_files``) and the monitor never loads Keras.
``training`` is the fit's record (epochs run, whether its time budget cut it), kept in
the JSON.

The cell is PyTorch's (gate order input, forget, cell, output):
  i, f, o = σ(W_i·x + U_i·h + b_i), ...;  g = tanh(W_g·x + U_g·h + b_g)
  c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c')
with both of PyTorch's biases (``bias_ih`` + ``bias_hh``) summed into one. Dropout is off
at inference, so it does not appear. Computed in float64: within ~1e-6 of PyTorch's
float32 prediction on the standardised scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foresight.models.features import forward_fill, lag_matrix

ARRAY_NAMES = ("w_ih", "w_hh", "b")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large |x| (1 / (1 + exp(-x)) overflows)
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def lstm_layer(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One LSTM layer over ``x`` (batch, time, inputs) -> hidden states (batch, time, H)."""
    batch, steps, _ = x.shape
    hidden = w_hh.shape[1]
    gates_x = x @ w_ih.T + b  # (batch, time, 4H): the input's share, all steps at once
    h = np.zeros((batch, hidden))
    c = np.zeros((batch, hidden))
    out = np.empty((batch, steps, hidden))
    for t in range(steps):
        gates = gates_x[:, t] + h @ w_hh.T
        i = _sigmoid(gates[:, :hidden])
        f = _sigmoid(gates[:, hidden : 2 * hidden])
        g = np.tanh(gates[:, 2 * hidden : 3 * hidden])
        o = _sigmoid(gates[:, 3 * hidden :])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[:, t] = h
    return out


class NumpyLstm:
    """A trained stacked LSTM + dense head: ``predict_mean`` as ``LstmForecaster``'s.

    ``layers`` is a list of (w_ih (4H, in), w_hh (4H, H), b (4H,)); ``out_w`` (horizon, H)
    and ``out_b`` (horizon,) map the last hidden state to the change from the origin's
    value, on the scale ``(value - mean_) / scale_``.
    """

    def __init__(
        self,
        horizon: int,
        lookback: int,
        layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        out_w: np.ndarray,
        out_b: np.ndarray,
        *,
        mean: float,
        scale: float,
        clip_at_zero: bool,
        training: dict | None = None,
    ) -> None:
        self.horizon = int(horizon)
        self.lookback = int(lookback)
        self.layers_ = [tuple(np.asarray(a, dtype=float) for a in layer) for layer in layers]
        self.out_w_ = np.asarray(out_w, dtype=float)
        self.out_b_ = np.asarray(out_b, dtype=float)
        self.mean_ = float(mean)
        self.scale_ = float(scale)
        self.clip_at_zero_ = bool(clip_at_zero)
        self.training_ = None if training is None else dict(training)
        inputs = 1
        for w_ih, w_hh, b in self.layers_:
            hidden = w_hh.shape[1]
            if w_ih.shape != (4 * hidden, inputs) or w_hh.shape != (4 * hidden, hidden):
                raise ValueError(
                    f"LSTM layer weights of shapes {w_ih.shape}, {w_hh.shape} do not chain "
                    f"from {inputs} inputs"
                )
            if b.shape != (4 * hidden,):
                raise ValueError(f"LSTM bias of shape {b.shape} is not ({4 * hidden},)")
            inputs = hidden
        if self.out_w_.shape != (self.horizon, inputs) or self.out_b_.shape != (self.horizon,):
            raise ValueError(
                f"dense weights of shape {self.out_w_.shape} do not map {inputs} hidden "
                f"units to {self.horizon} steps"
            )

    def fit(self, values: np.ndarray, timestamps: np.ndarray | None = None) -> NumpyLstm:
        raise ValueError("a NumpyLstm is exported from a trained LstmForecaster; it cannot fit")

    def network(self, windows: np.ndarray) -> np.ndarray:
        """The network's output for standardised windows (batch, lookback), oldest first."""
        x = np.asarray(windows, dtype=float)[:, :, None]
        for w_ih, w_hh, b in self.layers_:
            x = lstm_layer(x, w_ih, w_hh, b)
        return x[:, -1, :] @ self.out_w_.T + self.out_b_

    def predict_mean(
        self, values: np.ndarray, origins: np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """Point forecasts (len(origins), horizon); gaps before an origin are forward-filled."""
        z = forward_fill((np.asarray(values, dtype=float) - self.mean_) / self.scale_, 0.0)
        origins = np.asarray(origins, dtype=np.int64)
        if not len(origins):
            return np.empty((0, self.horizon))
        windows = lag_matrix(z, self.lookback, origins)[:, ::-1]
        out = np.concatenate(
            [
                self.network(np.nan_to_num(windows[i : i + 2048], nan=0.0))
                for i in range(0, len(windows), 2048)
            ]
        )
        mean = (out + z[origins][:, None]) * self.scale_ + self.mean_
        return np.maximum(mean, 0.0) if self.clip_at_zero_ else mean

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights as named arrays (``model_files`` saves them in the model's .npz)."""
        found = {"lstm_out_w": self.out_w_, "lstm_out_b": self.out_b_}
        for k, layer in enumerate(self.layers_):
            for name, array in zip(ARRAY_NAMES, layer, strict=True):
                found[f"lstm_{name}_{k}"] = array
        return found

    def params(self) -> dict:
        """Everything but the arrays, as JSON."""
        return {
            "horizon": self.horizon,
            "lookback": self.lookback,
            "n_layers": len(self.layers_),
            "mean": self.mean_,
            "scale": self.scale_,
            "clip_at_zero": self.clip_at_zero_,
            "training": self.training_,
        }

    @classmethod
    def from_parts(cls, params: dict, arrays: Any) -> NumpyLstm:
        """Rebuild from ``params()`` and a mapping holding ``arrays()`` (an npz file, a dict)."""
        layers = [
            tuple(np.asarray(arrays[f"lstm_{name}_{k}"], dtype=float) for name in ARRAY_NAMES)
            for k in range(int(params["n_layers"]))
        ]
        return cls(
            int(params["horizon"]),
            int(params["lookback"]),
            layers,  # type: ignore[arg-type]
            np.asarray(arrays["lstm_out_w"], dtype=float),
            np.asarray(arrays["lstm_out_b"], dtype=float),
            mean=float(params["mean"]),
            scale=float(params["scale"]),
            clip_at_zero=bool(params["clip_at_zero"]),
            training=params.get("training"),
        )
