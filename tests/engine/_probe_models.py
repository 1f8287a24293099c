"""Small models for the probe tests, built from the recurrent blocks the app itself uses."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from engine.nn.modules import GRUBlock, LSTMBlock, RNNBlock


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
    """recurrent 'rec1' (last step) -> dense2: a small forecaster."""
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
