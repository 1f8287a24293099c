"""torch modules that the catalogue's builders need beyond torch.nn itself.

The recurrent blocks subclass nn.LSTM/GRU/RNN rather than wrap them, so that their weights keep
torch's own names under the block id ("lstm1.weight_ih_l0") in every export format.
"""

from __future__ import annotations

import torch
from torch import nn


def _last_step(h_n: torch.Tensor, num_layers: int, bidirectional: bool) -> torch.Tensor:
    # h_n is (layers * dirs, N, H); the last layer's final states, both directions side by side,
    # are what "the last step" means for a bidirectional block (Keras does the same).
    dirs = 2 if bidirectional else 1
    last = h_n[-dirs:]
    return torch.cat(list(last), dim=-1) if dirs == 2 else last[0]


class LSTMBlock(nn.LSTM):
    """nn.LSTM (batch first) that returns the whole output sequence or the last step only.

    ``forget_bias`` sets the initial forget-gate bias (torch's gate order is i, f, g, o): a
    positive bias starts the cell out remembering, which is what lets an LSTM learn long
    dependencies in a few hundred steps instead of thousands.
    """

    def __init__(
        self, *args, return_sequence: bool = False, forget_bias: float | None = None, **kwargs
    ):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequence = return_sequence
        if forget_bias is not None and self.bias:
            h = self.hidden_size
            with torch.no_grad():
                for name, param in self.named_parameters():
                    if name.startswith("bias_ih"):
                        param[h : 2 * h] = forget_bias
                    elif name.startswith("bias_hh"):
                        param[h : 2 * h] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out, (h_n, _) = super().forward(x)
        return out if self.return_sequence else _last_step(h_n, self.num_layers, self.bidirectional)


class GRUBlock(nn.GRU):
    """nn.GRU (batch first) that returns the whole output sequence or the last step only."""

    def __init__(self, *args, return_sequence: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequence = return_sequence

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out, h_n = super().forward(x)
        return out if self.return_sequence else _last_step(h_n, self.num_layers, self.bidirectional)


class RNNBlock(nn.RNN):
    """nn.RNN (batch first) that returns the whole output sequence or the last step only."""

    def __init__(self, *args, return_sequence: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequence = return_sequence

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out, h_n = super().forward(x)
        return out if self.return_sequence else _last_step(h_n, self.num_layers, self.bidirectional)
