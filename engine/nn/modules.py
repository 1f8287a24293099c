"""torch modules that the catalogue's builders need beyond torch.nn itself.

The recurrent blocks subclass nn.LSTM/GRU/RNN rather than wrap them, so that their weights keep
torch's own names under the block id ("lstm1.weight_ih_l0") in every export format.
"""

from __future__ import annotations

import torch
from torch import nn


class SequenceOrLastStep:
    """Mixed in before nn.LSTM/GRU/RNN: batch first, and returns the whole output sequence
    (return_sequence) or the last step only."""

    def __init__(self, *args, return_sequence: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequence = return_sequence

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = super().forward(x)
        if self.return_sequence:
            return out
        h_n = state[0] if isinstance(state, tuple) else state  # an LSTM's state is (h_n, c_n)
        # h_n is (layers * dirs, N, H); the last layer's final states, both directions side by
        # side, are what "the last step" means for a bidirectional block (Keras does the same).
        return torch.cat([h_n[-2], h_n[-1]], dim=-1) if self.bidirectional else h_n[-1]


class LSTMBlock(SequenceOrLastStep, nn.LSTM):
    """nn.LSTM (batch first) that returns the whole output sequence or the last step only.

    ``forget_bias`` sets the initial forget-gate bias (torch's gate order is i, f, g, o): a
    positive bias starts the cell out remembering, which is what lets an LSTM learn long
    dependencies in a few hundred steps instead of thousands.
    """

    def __init__(self, *args, forget_bias: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if forget_bias is not None and self.bias:
            h = self.hidden_size
            with torch.no_grad():
                for name, param in self.named_parameters():
                    if name.startswith("bias_ih"):
                        param[h : 2 * h] = forget_bias
                    elif name.startswith("bias_hh"):
                        param[h : 2 * h] = 0.0


class GRUBlock(SequenceOrLastStep, nn.GRU):
    """nn.GRU (batch first) that returns the whole output sequence or the last step only."""


class RNNBlock(SequenceOrLastStep, nn.RNN):
    """nn.RNN (batch first) that returns the whole output sequence or the last step only.

    ``recurrent_gain`` > 0 starts every recurrent matrix U as ``gain`` times a random orthogonal
    matrix: all its singular values are ``gain``, so going back one step multiplies the gradient
    by up to ``gain`` (times the non-linearity's slope). Above 1 it grows exponentially back
    through time (the exploding gradient); 0 keeps torch's own initialisation.
    """

    def __init__(self, *args, recurrent_gain: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        if recurrent_gain > 0:
            with torch.no_grad():
                for name, param in self.named_parameters():
                    if name.startswith("weight_hh"):
                        nn.init.orthogonal_(param, gain=recurrent_gain)


class ResidualBlock(nn.Module):
    """output = inner(x) + skip(x): ``inner`` is the block's stack (an nn.Sequential named by
    block ids) and ``skip`` the projection where the shapes differ, or None for the identity."""

    def __init__(self, inner: nn.Sequential, skip: nn.Module | None = None):
        super().__init__()
        self.inner = inner
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.skip is None else self.skip(x)
        return self.inner(x) + shortcut
