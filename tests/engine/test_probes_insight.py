"""What a classifier has learned: decision regions over the input plane, saliency and Grad-CAM."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from engine.probes import ProbeError, decision_regions, saliency_map
from engine.probes.registry import PROBES, ModelTraits
from tests.engine._probe_models import digits_cnn


def _mlp(classes: int = 3) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Dropout(0.5), nn.Linear(16, classes))


def test_decision_regions_predict_what_the_model_predicts_at_every_grid_point():
    model = _mlp()
    model.train()  # dropout on: the probe must switch to eval mode and back
    x = torch.tensor([[-1.0, 0.0], [2.0, 3.0], [0.5, 1.0]])
    y = torch.tensor([0, 1, 2])
    regions = decision_regions(model, x, y, 3, size=40)
    assert regions.predicted.shape == regions.probability.shape == (40, 40)
    assert regions.xs.shape == regions.ys.shape == (40,)
    # The data's range plus a tenth of its span on each side.
    assert regions.xs[0] == pytest.approx(-1.3) and regions.xs[-1] == pytest.approx(2.3)
    assert regions.ys[0] == pytest.approx(-0.3) and regions.ys[-1] == pytest.approx(3.3)
    assert model.training
    model.eval()
    gx, gy = np.meshgrid(regions.xs, regions.ys)  # row i is ys[i], column j xs[j]
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor(np.stack([gx, gy], -1).reshape(-1, 2))), 1)
    assert np.array_equal(regions.predicted, probs.argmax(1).numpy().reshape(40, 40))
    assert np.allclose(regions.probability, probs.max(1).values.numpy().reshape(40, 40))
    assert len(np.unique(regions.predicted)) > 1  # a real plane, not one colour
    with torch.no_grad():
        assert np.array_equal(regions.point_predicted, model(x).argmax(1).numpy())
    assert np.array_equal(regions.labels, [0, 1, 2])
    assert np.array_equal(regions.points, x.numpy())
    assert not regions.predicted.flags.writeable and not regions.points.flags.writeable


def test_decision_regions_refuse_a_model_without_two_inputs():
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ProbeError, match="Decision regions need a classifier with 2 inputs"):
        decision_regions(model, torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ProbeError, match=r"Dense\(4\)"):
        decision_regions(_mlp(3), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), 4)


def test_the_registry_offers_each_probe_to_the_models_it_fits():
    plane = ModelTraits(False, (), "classification", (2,))
    image = ModelTraits(True, (), "classification", (1, 8, 8))
    assert "decision_regions" in PROBES.applying_to(plane)
    assert "decision_regions" not in PROBES.applying_to(image)
    assert "decision_regions" not in PROBES.applying_to(ModelTraits(False, (), "regression", (2,)))
    assert "saliency" in PROBES.applying_to(image) and "saliency" not in PROBES.applying_to(plane)
    assert PROBES["saliency"].looks_at_sample


@pytest.fixture
def cnn():
    torch.manual_seed(0)
    model = digits_cnn()
    model.train()
    return model


def test_saliency_is_the_input_gradient_of_the_predicted_score(cnn):
    x = torch.randn(1, 1, 8, 8)
    result = saliency_map(cnn, x, torch.tensor([7]))
    assert result.saliency.shape == result.grad_cam.shape == (8, 8)
    assert result.image.shape == (1, 8, 8) and result.label == 7 and result.cam_layer == "conv2"
    assert cnn.training  # the mode is restored
    cnn.eval()
    direct = x.clone().requires_grad_(True)
    scores = cnn(direct)
    predicted = int(scores.argmax())
    (grad,) = torch.autograd.grad(scores[0, predicted], direct)
    expected = grad[0].abs().amax(0)
    assert result.predicted == predicted
    assert result.probability == pytest.approx(float(torch.softmax(scores.detach(), 1).max()))
    assert np.allclose(result.saliency, (expected / expected.max()).numpy(), atol=1e-6)
    assert result.saliency.max() == pytest.approx(1.0)


def test_grad_cam_equals_the_formula_by_hand():
    # conv -> flatten -> linear: the score's gradient with respect to the maps is the linear
    # layer's row for the class, so Grad-CAM is numpy arithmetic on the weights.
    torch.manual_seed(1)
    model = nn.Sequential(
        OrderedDict(conv=nn.Conv2d(1, 3, 3), flat=nn.Flatten(), out=nn.Linear(3 * 4 * 4, 2))
    )
    x = torch.randn(1, 1, 6, 6)
    result = saliency_map(model, x)
    with torch.no_grad():
        maps = model.conv(x)[0].numpy()  # (3, 4, 4)
        c = int(model(x).argmax())
    row = model.out.weight[c].detach().numpy().reshape(3, 4, 4)
    alpha = row.mean(axis=(1, 2))
    cam = np.maximum((alpha[:, None, None] * maps).sum(0), 0)
    upsampled = torch.nn.functional.interpolate(
        torch.tensor(cam)[None, None], size=(6, 6), mode="bilinear", align_corners=False
    )[0, 0].numpy()
    expected = upsampled / upsampled.max() if upsampled.max() > 0 else upsampled
    assert result.predicted == c and result.label == -1
    assert np.allclose(result.grad_cam, expected, atol=1e-5)


def test_saliency_leaves_the_optimisers_gradients_untouched(cnn):
    x, y = torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,))
    nn.CrossEntropyLoss()(cnn(x), y).backward()
    before = {n: p.grad.clone() for n, p in cnn.named_parameters()}
    stats = cnn.bn2.running_mean.clone()
    saliency_map(cnn, x[:1])
    for name, p in cnn.named_parameters():
        assert torch.equal(p.grad, before[name]), name
    assert torch.equal(cnn.bn2.running_mean, stats)
    assert x.grad is None


def test_saliency_survives_an_in_place_activation_after_the_last_conv():
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(2 * 16, 3)
    )
    result = saliency_map(model, torch.randn(1, 4, 4))
    assert np.isfinite(result.grad_cam).all() and result.grad_cam.shape == (4, 4)


def test_saliency_needs_a_conv_image_classifier():
    with pytest.raises(ProbeError, match="Conv2d"):
        saliency_map(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), torch.zeros(1, 1, 4, 4))


def test_both_snapshots_are_kept_with_the_run_and_read_back(tmp_path, cnn):
    from engine.runs.probe_files import read_probes, write_probe

    regions = decision_regions(_mlp(2), torch.randn(20, 2), torch.randint(0, 2, (20,)), 2, 10)
    saliency = saliency_map(cnn, torch.randn(1, 8, 8), torch.tensor([4]))
    write_probe(tmp_path, "decision_regions", 3, regions, None)
    write_probe(tmp_path, "saliency", 3, saliency, None)
    found, problems = read_probes(tmp_path)
    assert problems == []
    back = found["decision_regions"][1]
    assert np.array_equal(back.predicted, regions.predicted) and back.num_classes == 2
    back = found["saliency"][1]
    assert np.array_equal(back.grad_cam, saliency.grad_cam)
    assert (back.cam_layer, back.predicted, back.label) == ("conv2", saliency.predicted, 4)
