"""Every probe gives the same snapshot for a model on another device or in another dtype.

The CUDA case runs only where a GPU is present; float64 exercises the same dtype and copy
paths on any machine.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from engine import probes
from tests.engine._probe_models import digits_cnn, sequence_model

TARGETS = [pytest.param("cpu", torch.float64, id="cpu-float64")]
if torch.cuda.is_available():
    TARGETS.append(pytest.param("cuda", torch.float32, id="cuda-float32"))


def _snapshot(cnn, rnn):
    torch.manual_seed(0)
    images, labels = torch.randn(12, 1, 8, 8), torch.randint(0, 10, (12,))
    seqs, values = torch.randn(12, 9, 1), torch.randn(12, 1)
    return {
        "filters": probes.conv_filters(cnn)[0].weights,
        "maps": probes.feature_maps(cnn, images[:1])[-1].maps,
        "weights": probes.weight_histograms(cnn)[0].counts,
        "activations": probes.activation_histograms(cnn, images)[0].counts,
        "confusion": probes.classification_report(cnn, images, labels, 10).confusion,
        "forecast": probes.forecast_report(rnn, seqs, values).predicted,
        "gates": probes.recurrent_trace(rnn, "rec1", seqs[:1]).get(0).gates["cell"],
        "gates_torch": probes.recurrent_trace(rnn, "rec1", seqs[0], backend="torch")
        .get(0)
        .gates["hidden"],
        "through_time": probes.recurrent_gradient_flow(
            rnn, "rec1", seqs[:1], nn.MSELoss(), values[:1]
        ).grad_norm,
    }


@pytest.mark.parametrize(("device", "dtype"), TARGETS)
def test_probes_agree_across_devices_and_dtypes(device, dtype):
    torch.manual_seed(1)
    cnn, rnn = digits_cnn(), sequence_model("lstm", hidden=6)
    expected = _snapshot(cnn, rnn)
    moved = _snapshot(copy.deepcopy(cnn).to(device, dtype), copy.deepcopy(rnn).to(device, dtype))
    for name, array in moved.items():
        assert isinstance(array, np.ndarray) and not array.flags.writeable, name
        if array.dtype.kind == "f":
            assert array.dtype == np.float32, name
            np.testing.assert_allclose(array, expected[name], rtol=1e-4, atol=1e-5, err_msg=name)
        else:  # counts can move by one where a value sits on a bin edge
            assert np.abs(array.astype(np.int64) - expected[name]).sum() <= 2, name
