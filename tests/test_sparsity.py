import pytest
import torch
import torch.nn.utils.prune as tprune

from mialth_utils.sparsity import masks as P
from mialth_utils.models import build_model


def lenet(seed=0):
    torch.manual_seed(seed)
    return build_model("lenet-300-100", (1, 28, 28), 10)


def test_iterative_global_pruning_hits_exact_sparsity():
    model = lenet()
    masks = None
    total = sum(p.numel() for n, p in model.named_parameters() if n in P.prunable_names(model))
    for level in range(1, 6):
        masks = P.magnitude_masks(model, masks, 0.2, "global")
        kept = sum(int(m.sum()) for m in masks.values())
        assert abs(kept - round(total * 0.8 ** level)) <= level  # one weight of rounding per level
        assert abs(P.masks_sparsity(masks) - P.level_sparsity(0.2, level)) < 1e-4


def test_global_mask_matches_torch_prune_global_unstructured():
    model, reference = lenet(), lenet()
    masks = P.magnitude_masks(model, None, 0.2, "global")
    masks = P.magnitude_masks(model, masks, 0.2, "global")  # second level: 20% of the remaining
    params = [(dict(reference.named_modules())[n.rsplit(".", 1)[0]], "weight") for n in P.prunable_names(reference)]
    tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured, amount=0.2)
    tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured, amount=0.2)
    for (module, _), name in zip(params, P.prunable_names(model)):
        assert torch.equal(module.weight_mask.bool(), masks[name]), name


def test_layerwise_prunes_the_same_fraction_in_each_layer():
    model = lenet()
    masks = P.magnitude_masks(model, None, 0.3, "layerwise")
    for mask in masks.values():
        assert abs(1 - mask.float().mean().item() - 0.3) < 1.0 / mask.numel() + 1e-6
    global_masks = P.magnitude_masks(model, None, 0.3, "global")
    per_layer = [1 - m.float().mean().item() for m in global_masks.values()]
    assert max(per_layer) - min(per_layer) > 0.01  # global thresholds differ per layer


def test_layerwise_matches_torch_l1_unstructured():
    model = lenet()
    masks = P.magnitude_masks(model, None, 0.25, "layerwise")
    for name in P.prunable_names(model):
        module = dict(model.named_modules())[name.rsplit(".", 1)[0]]
        ref = tprune.L1Unstructured(amount=0.25).compute_mask(module.weight.detach(), torch.ones_like(module.weight))
        assert torch.equal(ref.bool(), masks[name])


def test_output_layer_rate():
    model = lenet()
    out = "5.weight"
    skip = P.magnitude_masks(model, None, 0.5, "global", output_rate=0.0)
    half = P.magnitude_masks(model, None, 0.4, "global", output_rate=0.5)
    assert skip[out].all() and abs(1 - half[out].float().mean().item() - 0.2) < 1e-3


def test_random_mask_control_keeps_per_layer_counts():
    masks = P.magnitude_masks(lenet(), None, 0.5, "global")
    rand = P.random_masks_like(masks, seed=0)
    for name in masks:
        assert int(rand[name].sum()) == int(masks[name].sum())
        assert not torch.equal(rand[name], masks[name])


def test_one_shot_and_impossible_sparsity():
    masks = P.one_shot_masks(lenet(), 0.9)
    assert abs(P.masks_sparsity(masks) - 0.9) < 1e-5
    with pytest.raises(ValueError, match="sparsity must be in"):
        P.one_shot_masks(lenet(), 1.0)
    with pytest.raises(ValueError, match="prune_frac"):
        P.magnitude_masks(lenet(), None, 1.5)
    with pytest.raises(ValueError, match="n_levels"):
        P.check_sparsity_possible(0.2, -1)


def test_population_levels_rewind_and_controls(small_model_set):
    pop = small_model_set
    for level in range(3):
        info = pop.metrics(0, level)
        assert abs(info["sparsity"] - P.level_sparsity(0.2, level)) < 1e-3  # counted from the weights
        state, masks = pop.state(0, level), pop.masks(0, level)
        for name, mask in masks.items():
            assert (state[name][~mask] == 0).all()
    # rewinding: level 1 starts from the saved initial weights on its surviving entries
    from mialth_utils.store import load_state

    rewind = load_state(pop.artifact(0, 0).path / "rewind.pt")
    from mialth_utils.models import make_model

    init = make_model("mlp", pop.data, pop._seed(0, 0)).state_dict()
    assert all(torch.equal(rewind[k], init[k]) for k in init)
    # controls have the IMP level's per-layer counts
    imp, rnd = pop.masks(0, 2), pop.masks(0, 2, "random_mask")
    assert all(int(imp[n].sum()) == int(rnd[n].sum()) for n in imp)
    assert all(torch.equal(imp[n], pop.masks(0, 2, "random_reinit")[n]) for n in imp)
    table = pop.table()
    assert set(table["branch"]) == {"imp", "random_mask", "random_reinit"}
    assert len(table) == 9 * 3 + 2 * 2


@pytest.mark.parametrize("rewind,step", [("init", 0), ("step", 3)])
def test_rewinding_restores_saved_weights_on_unpruned_entries(tmp_path, rewind, step):
    from mialth_utils.store import load_state
    from mialth_utils.modelsets import ModelSet, ModelSetSpec
    from mialth_utils.training.loop import TrainSpec

    spec = ModelSetSpec(dataset="fake", model="mlp", n_models=3, n_pool=200, n_population=50, n_levels=1,
                          rewind=rewind, rewind_step=step, train=TrainSpec(epochs=1, batch_size=32))
    pop = ModelSet(spec, cache_dir=tmp_path).build(workers=1)
    rewind_w = load_state(pop.artifact(0, 0).path / "rewind.pt")
    dense = pop.state(0, 0)
    assert not torch.equal(rewind_w["1.weight"], dense["1.weight"])
    # a zero-epoch retrain leaves exactly the rewound weights times the level-1 mask
    zero = ModelSetSpec(**{**spec.to_dict(), "train": TrainSpec(epochs=0)})
    pop0 = ModelSet(zero, cache_dir=tmp_path / "zero")
    import shutil

    # reuse the trained level 0 (so the level-1 mask comes from trained weights), retrain level 1 for 0 epochs

    shutil.copytree(pop.artifact(0, 0).path, pop0.artifact(0, 0).path)
    pop0.train_one(0)
    masks, state = pop0.masks(0, 1), pop0.state(0, 1)
    for name, mask in masks.items():
        assert torch.equal(state[name], rewind_w[name] * mask)
