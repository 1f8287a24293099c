"""Models shaped like engine/build.py's for the probe tests, without importing it."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


def _last_step(h_n: torch.Tensor, bidirectional: bool) -> torch.Tensor:
    return torch.cat([h_n[-2], h_n[-1]], dim=-1) if bidirectional else h_n[-1]


class LSTMBlock(nn.LSTM):
    def __init__(self, *args, return_sequence: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequence = return_sequence

    def forward(self, x):  # type: ignore[override]
        out, (h_n, _) = super().forward(x)
        return out if self.return_sequence else _last_step(h_n, self.bidirectional)


class GRUBlock(nn.GRU):
    def __init__(self, *args, return_sequence: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequence = return_sequence

    def forward(self, x):  # type: ignore[override]
        out, h_n = super().forward(x)
        return out if self.return_sequence else _last_step(h_n, self.bidirectional)


class RNNBlock(nn.RNN):
    def __init__(self, *args, return_sequence: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequence = return_sequence

    def forward(self, x):  # type: ignore[override]
        out, h_n = super().forward(x)
        return out if self.return_sequence else _last_step(h_n, self.bidirectional)


def recurrent_block(kind: str, *args, **kwargs) -> nn.RNNBase:
    """kind: 'lstm', 'gru', 'rnn_tanh' or 'rnn_relu'."""
    if kind == "lstm":
        return LSTMBlock(*args, **kwargs)
    if kind == "gru":
        return GRUBlock(*args, **kwargs)
    return RNNBlock(*args, nonlinearity=kind.removeprefix("rnn_"), **kwargs)


def sequence_model(
    kind: str = "lstm", features: int = 1, hidden: int = 8, steps_out: int = 1, **kwargs
) -> nn.Sequential:
    """dense0 -> recurrent 'rec1' (last step) -> dense2: a forecaster like the lead's."""
    rec = recurrent_block(kind, features, hidden, **kwargs)
    dirs = 2 if rec.bidirectional else 1
    return nn.Sequential(OrderedDict(rec1=rec, dense2=nn.Linear(hidden * dirs, steps_out)))


def digits_cnn(classes: int = 10) -> nn.Sequential:
    """1x8x8 digits CNN: conv, relu, pool, conv, bn, relu, pool, flatten, dropout, dense."""
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 16, 3, padding=1),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(16, 32, 3, padding=1),
            bn2=nn.BatchNorm2d(32),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            drop=nn.Dropout(0.5),
            dense3=nn.Linear(32 * 2 * 2, classes),
        )
    )
