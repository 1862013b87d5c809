"""The seeds' LSTM as an optional candidate (``pip install -e .[lstm]``: PyTorch, CPU).

Seeds 000 and 003: one LSTM per metric on a 24-step lookback, LSTM 64 -> 32 -> 16 with
dropout 0.2 / 0.2 / 0.1, then a dense layer. Here the dense layer has ``horizon`` outputs
(all steps at once, direct like the ridge; the seeds' Dense(1) forecast one step) and
learns the change from the value at the origin on the standardised scale. Training is
bounded (``max_windows`` most recent windows, ``epochs`` passes, one thread) so a fit
costs seconds, not minutes; the seed is fixed so fits repeat. PyTorch is imported only
when a fit or a PyTorch prediction runs: the monitor never loads it. ``to_numpy()`` exports
the trained weights into a ``NumpyLstm`` (``foresight.models.numpy_lstm``), which is what
the live monitor serves, saves and forecasts with.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from foresight.models.features import forward_fill, lag_matrix
from foresight.models.numpy_lstm import NumpyLstm

logger = logging.getLogger(__name__)

LOOKBACK = 24


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ValueError(
            "the lstm model needs PyTorch: pip install -e .[lstm] (or pip install torch)"
        ) from None
    return torch


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

    def _network(self, torch: Any) -> Any:
        nn = torch.nn

        class Net(nn.Module):  # type: ignore[name-defined]
            def __init__(self, horizon: int) -> None:
                super().__init__()
                self.l1 = nn.LSTM(1, 64, batch_first=True)
                self.l2 = nn.LSTM(64, 32, batch_first=True)
                self.l3 = nn.LSTM(32, 16, batch_first=True)
                self.d1, self.d2, self.d3 = nn.Dropout(0.2), nn.Dropout(0.2), nn.Dropout(0.1)
                self.out = nn.Linear(16, horizon)

            def forward(self, x: Any) -> Any:
                x = self.d1(self.l1(x)[0])
                x = self.d2(self.l2(x)[0])
                x = self.d3(self.l3(x)[0])
                return self.out(x[:, -1, :])

        return Net(int(self.horizon))

    def _windows(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        # lag_matrix gives [z_t, z_t-1, ...]; the LSTM reads oldest first.
        return lag_matrix(z, self.lookback, origins)[:, ::-1].copy()

    def fit(self, values: np.ndarray, timestamps: np.ndarray | None = None) -> LstmForecaster:
        """Train on every complete window of ``values`` (NaN = gap: such windows are left out)."""
        torch = _torch()
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
        torch.manual_seed(self.seed)
        torch.set_num_threads(1)
        net = self._network(torch)
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        xs = torch.tensor(X[:, :, None], dtype=torch.float32)
        ys = torch.tensor(Y, dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(xs), generator=generator)
            for start in range(0, len(xs), self.batch_size):
                batch = order[start : start + self.batch_size]
                optimiser.zero_grad()
                loss = torch.nn.functional.mse_loss(net(xs[batch]), ys[batch])
                loss.backward()
                optimiser.step()
        net.eval()
        self.net_ = net
        self.final_loss_ = float(loss.detach())
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ValueError("this LstmForecaster is not fitted yet; call fit() first")

    def to_numpy(self) -> NumpyLstm:
        """The trained network as plain arrays, with numpy's forward pass (no PyTorch)."""
        self._fitted()
        net = self.net_
        layers = []
        for lstm in (net.l1, net.l2, net.l3):
            layers.append(
                (
                    lstm.weight_ih_l0.detach().numpy().astype(float),
                    lstm.weight_hh_l0.detach().numpy().astype(float),
                    lstm.bias_ih_l0.detach().numpy().astype(float)
                    + lstm.bias_hh_l0.detach().numpy().astype(float),
                )
            )
        return NumpyLstm(
            self.horizon,
            self.lookback,
            layers,
            net.out.weight.detach().numpy().astype(float),
            net.out.bias.detach().numpy().astype(float),
            mean=self.mean_,
            scale=self.scale_,
            clip_at_zero=self.clip_at_zero_,
        )

    def predict_mean(
        self, values: np.ndarray, origins: np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """Point forecasts (len(origins), horizon); gaps before an origin are forward-filled."""
        self._fitted()
        torch = _torch()
        z = forward_fill((np.asarray(values, dtype=float) - self.mean_) / self.scale_, 0.0)
        origins = np.asarray(origins, dtype=np.int64)
        X = np.nan_to_num(self._windows(z, origins), nan=0.0)
        with torch.no_grad():
            out = (
                np.concatenate(
                    [
                        self.net_(
                            torch.tensor(X[i : i + 2048, :, None], dtype=torch.float32)
                        ).numpy()
                        for i in range(0, len(X), 2048)
                    ]
                )
                if len(X)
                else np.empty((0, self.horizon))
            )
        mean = (out + z[origins][:, None]) * self.scale_ + self.mean_
        return np.maximum(mean, 0.0) if self.clip_at_zero_ else mean
