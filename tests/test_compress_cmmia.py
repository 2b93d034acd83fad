import numpy as np
import pytest
import torch
from torch import nn

from mialth_utils.modelsets import CompressedModelSet
from mialth_utils.sparsity import compress as C
from mialth_utils.sparsity.masks import structured_masks
from mialth_utils.attacks.cmmia import CMMIA
from mialth_utils.models import build_model
from mialth_utils.signals import AttackData


def test_quantized_layer_matches_a_direct_computation():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    w = layer.weight.detach().clone()
    C.quantize_model(nn.Sequential(layer), bits=4)
    for row in range(3):
        scale = w[row].abs().max() / 7
        expected = torch.clamp(torch.round(w[row] / scale), -7, 7) * scale
        assert torch.allclose(layer.weight[row], expected)
        assert len(torch.unique(layer.weight[row])) <= 15
    x = torch.randn(5, 4)
    assert torch.allclose(layer(x), x @ layer.weight.T + layer.bias)


def test_eight_bits_stay_close_and_bad_bits_raise():
    w = torch.randn(16, 32)
    assert (C.quantize_tensor(w, 8) - w).abs().max() <= w.abs().max() / 127 / 2 + 1e-6
    with pytest.raises(ValueError, match="bits"):
        C.quantize_tensor(w, 1)


def test_activation_quantizer_rounds_layer_inputs():
    layer = nn.Linear(2, 1, bias=False)
    layer.weight.data = torch.tensor([[1.0, 0.0]])
    model = nn.Sequential(layer)
    q = C.ActivationQuantizer(model, bits=2, calibration=torch.tensor([[0.0, 0.0], [3.0, 0.0]]))
    assert model(torch.tensor([[1.4, 0.0]])).item() == pytest.approx(1.0)  # 2 bits over [0, 3]: steps of 1
    q.remove()
    assert model(torch.tensor([[1.4, 0.0]])).item() == pytest.approx(1.4)


def test_structured_masks_remove_whole_filters_with_smallest_l1():
    model = build_model("conv-2", (1, 8, 8), 10)
    masks = structured_masks(model, 0.5)
    w = dict(model.named_parameters())["features.0.weight"].detach()
    m = masks["features.0.weight"]
    kept = m.flatten(1).all(1)
    assert kept.sum() == 32 and (m.flatten(1).any(1) == kept).all()  # whole filters
    norms = w.abs().flatten(1).sum(1)
    assert norms[kept].min() >= norms[~kept].max()
    assert masks["classifier.5.weight"].all()  # output layer kept
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in masks:
                p.mul_(masks[name])
    dense = C.count_params_and_macs(build_model("conv-2", (1, 8, 8), 10), (1, 8, 8))
    pruned = C.count_params_and_macs(model, (1, 8, 8))
    assert pruned["macs"] < dense["macs"] and pruned["nonzero_params"] < dense["nonzero_params"]


def _constructed_case(n=200, n_refs=20, seed=0):
    """Shadow posteriors: typical examples sit exactly on their class corner, like the population set
    (distance 0 to the same-class half of it); 10 outliers sit in the middle (distance ~0.29 to
    everything). The target gives members a lower loss than every OUT shadow does."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    base = np.where(labels[:, None] == np.arange(2)[None], 4.0, -4.0)
    outlier = np.arange(n) < 10
    base[outlier] = 0.0
    ref = np.repeat(base[None, None], n_refs, 0)
    keep = rng.uniform(size=(n_refs, n)).argsort(0) < n_refs // 2  # balanced, as in the kit
    member = np.arange(n) % 4 < 2
    target = base[None].copy()
    target[0, member, labels[member]] += 3.0  # much more confident on members
    pop_labels = np.arange(100) % 2
    pop = np.where(pop_labels[:, None] == np.arange(2)[None], 4.0, -4.0)[None]
    data = AttackData(labels, target, ref, keep, ("id",), pop_labels, pop, np.repeat(pop[None], n_refs, 0))
    return data, outlier, member


def test_cmmia_selects_the_outliers_and_tests_them():
    data, outlier, member = _constructed_case(n_refs=200)  # ~100 OUT shadows: empirical p down to ~0.01
    attack = CMMIA(distance_percentile=30.0, min_neighbours=5, alpha=0.05).fit(data)
    assert np.array_equal(attack.tested_, outlier)
    scores = attack.score(data)
    assert (scores[~outlier] == -1).all()
    p = attack.p_[outlier]
    assert np.allclose(p[member[outlier]], 1 / (1 + (~data.ref_keep[:, outlier][:, member[outlier]]).sum(0)))
    assert (attack.predicted_member_ == (outlier & member)).all()
    assert attack.test_used_ == "empirical"  # ~100 OUT shadows: the empirical test can pass alpha
    few = CMMIA(distance_percentile=30.0, test="empirical").fit(_constructed_case(n_refs=8)[0])
    few.score(_constructed_case(n_refs=8)[0])
    assert np.nanmin(few.p_) >= 1 / 5 and not few.predicted_member_.any()  # the documented p-value floor
    auto = CMMIA(distance_percentile=30.0).fit(_constructed_case(n_refs=8)[0])
    auto.score(_constructed_case(n_refs=8)[0])
    assert auto.test_used_ == "gaussian" and auto.predicted_member_.any()  # a decision can pass alpha
    gauss = CMMIA(distance_percentile=30.0, test="gaussian").fit(data)
    gauss.score(data)
    assert (gauss.p_[outlier & member] < 0.01).all() and (gauss.p_[outlier & ~member] > 0.01).all()


def test_cmmia_test_all_and_bad_settings():
    data, _, member = _constructed_case()
    attack = CMMIA(test_all=True).fit(data)
    scores = attack.score(data)
    assert attack.tested_.all() and scores[member].min() > scores[~member].max()
    with pytest.raises(ValueError, match="test"):
        CMMIA(test="t-test")
    with pytest.raises(ValueError, match="metric"):
        CMMIA(metric="manhattan")


def test_compressed_population_applies_each_method(small_model_set):
    cp = CompressedModelSet(small_model_set, C.Compression("prune", 0.7, finetune_epochs=2)).build(workers=1)
    info = cp.metrics(0)
    assert abs(info["sparsity"] - 0.7) < 0.01 and 0 <= info["test_acc"] <= 1
    assert cp.logits(0).shape == small_model_set.logits(0, 0).shape
    q = CompressedModelSet(small_model_set, C.Compression("quant", 4)).build(workers=1)
    assert q.metrics(1)["bits"] == 4 and not np.allclose(q.logits(1), small_model_set.logits(1, 0))
    d = CompressedModelSet(small_model_set, C.Compression("distill", "mlp-small")).build(workers=1)
    teacher = C.count_params_and_macs(small_model_set.make_net(0), small_model_set.data.input_shape)
    assert 0 < d.metrics(0)["nonzero_params"] < teacher["nonzero_params"]  # the student is smaller than its teacher
    assert d.metrics(0)["test_acc"] > 0.3  # chance is 0.1
    imp = CompressedModelSet(small_model_set, C.Compression("imp", 2)).build(workers=1)
    np.testing.assert_array_equal(imp.logits(0), small_model_set.logits(0, 2))
    for compressed in (cp, q, d, imp):  # every method keeps the time its models took (compression_models.csv)
        seconds = [compressed.metrics(m).get("seconds") for m in range(small_model_set.spec.n_models)]
        assert all(s is not None and s > 0 for s in seconds), (compressed.compression.label, seconds)
    with pytest.raises(ValueError, match="levels"):
        CompressedModelSet(small_model_set, C.Compression("imp", 9)).build(workers=1)
    with pytest.raises(ValueError, match="unknown compression"):
        C.Compression("sparsify", 0.5)
