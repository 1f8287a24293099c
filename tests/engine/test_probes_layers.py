"""Per-block probes: gradient norms, filters, feature maps, histograms, evaluation reports."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from engine.probes import (
    ProbeError,
    activation_histograms,
    classification_report,
    conv_filters,
    feature_maps,
    forecast_report,
    layer_gradient_norms,
    weight_histograms,
)
from tests.engine._probe_models import digits_cnn, sequence_model


@pytest.fixture
def cnn():
    torch.manual_seed(0)
    model = digits_cnn()
    model.train()
    return model


def _read_only_float32(array):
    assert array.dtype == np.float32 and array.flags.c_contiguous and not array.flags.writeable


def test_layer_gradient_norms_match_a_direct_computation(cnn):
    assert set(layer_gradient_norms(cnn).values()) == {0.0}  # no backward yet
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    nn.CrossEntropyLoss()(cnn(x), y).backward()
    norms = layer_gradient_norms(cnn)
    assert list(norms) == ["conv1", "conv2", "bn2", "dense3"]  # blocks with parameters
    expected = torch.cat([cnn.conv2.weight.grad.flatten(), cnn.conv2.bias.grad.flatten()]).norm()
    assert norms["conv2"] == pytest.approx(expected.item(), rel=1e-5)
    assert all(v > 0 for v in norms.values())


def test_conv_filters_copy_weights_with_symmetric_level(cnn):
    filters = conv_filters(cnn)
    assert [f.block_id for f in filters] == ["conv1", "conv2"]
    assert filters[1].weights.shape == (32, 16, 3, 3)
    _read_only_float32(filters[0].weights)
    np.testing.assert_array_equal(filters[0].weights, cnn.conv1.weight.detach().numpy())
    assert filters[0].level == pytest.approx(cnn.conv1.weight.abs().max().item())
    with torch.no_grad():  # a snapshot, not a view of the live weights
        cnn.conv1.weight.add_(1.0)
    assert not np.array_equal(filters[0].weights, cnn.conv1.weight.detach().numpy())


def test_feature_maps_before_and_after_pooling(cnn):
    x = torch.randn(1, 8, 8)
    maps = feature_maps(cnn, x)
    assert [(m.block_id, m.kind) for m in maps] == [
        ("conv1", "conv"), ("relu1", "activation"), ("pool1", "pool"),
        ("conv2", "conv"), ("relu2", "activation"), ("pool2", "pool"),
    ]  # fmt: skip
    shapes = [m.maps.shape for m in maps]
    assert shapes == [(16, 8, 8)] * 2 + [(16, 4, 4)] + [(32, 4, 4)] * 2 + [(32, 2, 2)]
    assert maps[2].block_type == "MaxPool2d"
    for m in maps:
        _read_only_float32(m.maps)
    cnn.eval()
    with torch.no_grad():
        np.testing.assert_allclose(maps[2].maps, cnn[:3](x[None])[0].numpy(), atol=1e-6)
    assert maps[2].level == pytest.approx(np.abs(maps[2].maps).max())


def test_feature_maps_survive_in_place_activation_and_restore_mode(cnn):
    cnn.relu1 = nn.ReLU(inplace=True)
    maps = {m.block_id: m.maps for m in feature_maps(cnn, torch.randn(1, 1, 8, 8))}
    assert maps["conv1"].min() < 0  # the conv output was copied before ReLU overwrote it
    assert maps["relu1"].min() >= 0
    assert cnn.training and cnn.drop.training and cnn.bn2.training


def test_probes_do_not_touch_batchnorm_statistics(cnn):
    before = cnn.bn2.running_mean.clone()
    feature_maps(cnn, torch.randn(1, 1, 8, 8) * 5 + 3)
    activation_histograms(cnn, torch.randn(16, 1, 8, 8) * 5 + 3)
    assert torch.equal(cnn.bn2.running_mean, before)


def test_weight_histograms_count_every_weight(cnn):
    hists = {h.block_id: h for h in weight_histograms(cnn, bins=20)}
    assert list(hists) == ["conv1", "conv2", "bn2", "dense3"]
    h = hists["conv2"]
    assert h.counts.dtype == np.int64 and h.counts.shape == (20,) and h.edges.shape == (21,)
    assert h.counts.sum() == cnn.conv2.weight.numel()  # biases left out
    w = cnn.conv2.weight.detach()
    assert h.edges[0] == pytest.approx(w.min().item()) and h.edges[-1] == pytest.approx(
        w.max().item()
    )
    assert hists["bn2"].counts.sum() == 32 and hists["bn2"].edges[0] < 1 < hists["bn2"].edges[-1]


def test_activation_histograms_and_non_finite_values():
    model = nn.Sequential(OrderedDict(dense1=nn.Linear(3, 4), act=nn.ReLU()))
    x = torch.randn(10, 3)
    hists = {h.block_id: h for h in activation_histograms(model, x, bins=8)}
    assert hists["dense1"].counts.sum() == 40 and hists["act"].edges[0] == 0.0
    x[0, 0] = float("nan")
    hists = {h.block_id: h for h in activation_histograms(model, x, bins=8)}
    assert hists["dense1"].non_finite == 4 and hists["dense1"].counts.sum() == 36


def test_classification_report_counts_and_restores_mode(cnn):
    x, y = torch.randn(50, 1, 8, 8), torch.randint(0, 10, (50,))
    report = classification_report(cnn, x, y, num_classes=10, max_samples=40, batch_size=16)
    cnn.eval()
    with torch.no_grad():
        expected = cnn(x[:40]).argmax(1).numpy()
    cnn.train()
    np.testing.assert_array_equal(report.predictions, expected)
    assert report.confusion.shape == (10, 10) and report.confusion.dtype == np.int64
    assert report.confusion.sum() == 40
    assert np.trace(report.confusion) == report.correct.sum()
    assert report.confusion[y[0].item(), expected[0]] >= 1
    assert report.accuracy == pytest.approx(report.correct.mean())
    assert ((report.confidence > 0.1) & (report.confidence <= 1)).all()
    assert cnn.training and cnn.drop.training


def test_classification_report_refuses_mismatched_classes(cnn):
    x = torch.randn(4, 1, 8, 8)
    with pytest.raises(ProbeError, match="Dense\\(3\\)"):
        classification_report(cnn, x, torch.zeros(4, dtype=torch.long), num_classes=3)
    with pytest.raises(ProbeError, match="outside"):
        classification_report(cnn, x, torch.full((4,), 10), num_classes=10)


def test_forecast_report_pairs_predictions_with_targets():
    torch.manual_seed(5)
    model = sequence_model("gru", hidden=4, steps_out=2)
    x, y = np.random.default_rng(0).normal(size=(6, 7, 1)).astype(np.float32), torch.randn(6, 2)
    report = forecast_report(model, x, y)
    _read_only_float32(report.predicted)
    with torch.no_grad():
        np.testing.assert_allclose(report.predicted, model(torch.from_numpy(x)).numpy(), atol=1e-6)
    assert report.mse == pytest.approx(
        float(((report.predicted - y.numpy()) ** 2).mean()), rel=1e-5
    )
    with pytest.raises(ProbeError, match="forecast horizon"):
        forecast_report(model, x, torch.randn(6, 3))


def test_histogram_counts_agree_with_numpy():
    values = torch.randn(1000) * 3 + 1
    model = nn.Sequential(OrderedDict(ident=nn.Identity()))
    (hist,) = activation_histograms(model, values[None], bins=25)
    expected, edges = np.histogram(values.numpy(), bins=25)
    np.testing.assert_allclose(hist.edges, edges, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(hist.counts, expected)
