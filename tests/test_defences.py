"""Defences as training options: DP-SGD (Opacus) with masks, PPB, early stopping, hashes, the effect rule."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mialth_utils.data.registry import load_dataset
from mialth_utils.evaluation.defended import defence_settings, setting_label
from mialth_utils.models import make_model
from mialth_utils.modelsets import ModelSet, ModelSetSpec
from mialth_utils.reporting.defences import defence_effects, effect, frontier_points, report_lines
from mialth_utils.sparsity.masks import full_masks
from mialth_utils.store import spec_hash
from mialth_utils.training.defences import composed_epsilon, dp_compatible, ghost_clipping_fits, ppb_term
from mialth_utils.training.loop import TrainSpec, train
from mialth_utils.training.predict import predict_logits


@pytest.fixture(scope="module")
def data():
    return load_dataset("fake", seed=0)


def _half_masks(net):
    masks = full_masks(net)
    gen = torch.Generator().manual_seed(0)
    return {name: torch.rand(m.shape, generator=gen) < 0.5 for name, m in masks.items()}


def test_defence_fields_enter_the_hash_only_when_set():
    assert set(TrainSpec().to_dict()) == set(TrainSpec(label_smoothing=0.1).to_dict())
    assert "target_epsilon" not in TrainSpec().to_dict()
    assert TrainSpec(target_epsilon=8.0).to_dict()["target_epsilon"] == 8.0
    assert spec_hash(TrainSpec().to_dict()) == "150d03e59821bfbc"  # as pinned in test_store
    assert spec_hash(ModelSetSpec().to_dict()) == "037ca2aafcba0472"
    for changed in (dict(ppb_lambda=1.0), dict(early_stop_patience=2), dict(target_epsilon=4.0),
                    dict(target_epsilon=4.0, max_grad_norm=2.0)):
        assert spec_hash(ModelSetSpec(train=TrainSpec(**changed)).to_dict()) != "037ca2aafcba0472"
    assert ModelSetSpec(data_path="/x", image_size=64).to_dict()["image_size"] == 64


def test_dp_sgd_keeps_pruned_weights_zero_and_records_epsilon(data):
    spec = TrainSpec(epochs=2, batch_size=64, target_epsilon=4.0, max_grad_norm=1.0)
    net = dp_compatible(make_model("mlp", data, 0), True)
    assert ghost_clipping_fits(net)
    masks = _half_masks(net)
    result = train(net, data, torch.arange(400), spec, seed=0, masks=masks, bar=False)
    params = dict(net.named_parameters())
    for name, mask in masks.items():
        assert (params[name][~mask] == 0).all(), name
        assert (params[name][mask] != 0).any()
    assert 0 < result.privacy["dp_epsilon_run"] <= 4.0 + 1e-6
    assert result.privacy["dp_delta"] == pytest.approx(1 / 400)
    assert result.privacy["dp_noise_multiplier"] > 0
    assert not any(hasattr(p, "grad_sample") and p.grad_sample is not None for p in net.parameters())


def test_dp_sgd_per_example_hooks_for_batchnorm_models(data):
    """A model ghost clipping cannot handle: BatchNorm becomes GroupNorm, masks still hold."""
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 12 * 12, 10))
    net = dp_compatible(net, True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules()) and not ghost_clipping_fits(net)
    masks = _half_masks(net)
    result = train(net, data, torch.arange(256), TrainSpec(epochs=1, batch_size=64, target_epsilon=8.0), seed=1,
                   masks=masks, bar=False)
    params = dict(net.named_parameters())
    assert all((params[name][~mask] == 0).all() for name, mask in masks.items())
    assert result.privacy["dp_epsilon_run"] <= 8.0 + 1e-6 and result.precision == "fp32"


def test_dp_epsilon_composes_over_imp_levels(tmp_path):
    spec = ModelSetSpec(dataset="fake", model="mlp", n_models=3, n_pool=200, n_population=50, n_levels=1,
                        train=TrainSpec(epochs=1, batch_size=50, target_epsilon=2.0))
    models = ModelSet(spec, cache_dir=tmp_path).build(workers=1)
    dense, ticket = models.metrics(0, 0), models.metrics(0, 1)
    assert dense["dp_epsilon_spent"] == pytest.approx(dense["dp_epsilon_run"]) and dense["dp_epsilon_run"] <= 2.0
    assert ticket["dp_epsilon_spent"] > ticket["dp_epsilon_run"]  # the ticket's mask came from the dense run
    assert ticket["dp_epsilon_spent"] == pytest.approx(composed_epsilon([ticket["dp_history"]], ticket["dp_delta"]))
    assert ticket["sparsity"] == pytest.approx(0.2, abs=0.01)
    assert {"dp_epsilon_spent", "dp_epsilon_target"} <= set(models.table().columns)
    assert "dp_history" not in models.table().columns


def test_dp_refuses_a_custom_loss_and_ppb(data):
    with pytest.raises(ValueError, match="PPB"):
        TrainSpec(target_epsilon=1.0, ppb_lambda=1.0)
    net = make_model("mlp", data, 0)
    with pytest.raises(ValueError, match="custom loss"):
        train(net, data, torch.arange(100), TrainSpec(epochs=1, batch_size=50, target_epsilon=1.0), seed=0, bar=False,
              loss=lambda outputs, batch_idx, targets: outputs.sum())


def test_ppb_term_is_zero_for_equal_sorted_posteriors_and_trains():
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 1.0, 3.0]])  # the same posterior, permuted
    assert ppb_term(logits).item() == pytest.approx(0.0, abs=1e-7)
    other = torch.tensor([[3.0, 1.0, 0.0], [0.0, 0.1, 0.2]], requires_grad=True)
    value = ppb_term(other)
    value.backward()
    assert value.item() > 0 and other.grad.abs().sum() > 0


def _top_posterior_spread(data, ppb_lambda: float) -> float:
    """Std over the 300 members of their highest posterior, after 10 epochs with this PPB weight."""
    net = make_model("mlp", data, 0)
    result = train(net, data, torch.arange(300), TrainSpec(epochs=10, batch_size=64, ppb_lambda=ppb_lambda), seed=0,
                   bar=False)
    assert np.isfinite(result.history[-1]["loss"]) and result.history[-1]["train_acc"] > 0.5
    logits = predict_logits(net, data, data.train_x[:300])[0]
    return float(torch.softmax(torch.as_tensor(logits).float(), 1).max(1).values.std())


def test_ppb_flattens_the_gap_between_member_confidences(data):
    """PPB pulls the members' sorted posteriors together: the spread of their top posterior shrinks well
    below that of the same training without it (0.21 -> 0.08 here at weight 4)."""
    plain, flattened = _top_posterior_spread(data, 0.0), _top_posterior_spread(data, 4.0)
    assert flattened < 0.6 * plain


def test_early_stopping_keeps_the_best_epoch(data):
    net = make_model("mlp", data, 0)
    heldout = (data.test_x[:200], data.test_y[:200])
    result = train(net, data, torch.arange(300), TrainSpec(epochs=15, batch_size=64, early_stop_patience=1), seed=0,
                   heldout=heldout, bar=False)
    assert 1 <= result.privacy["early_stop_epoch"] <= len(result.history) <= 15
    with pytest.raises(ValueError, match="held-out"):
        train(make_model("mlp", data, 0), data, torch.arange(10), TrainSpec(epochs=1, early_stop_patience=1), seed=0)


def test_defence_settings_and_labels():
    settings = defence_settings(epsilons=[1, 8.0], ppb_lambda=0, early_stop_patience=3)
    assert list(settings) == ["none", "dp_eps1", "dp_eps8", "label_smoothing", "weight_decay", "early_stopping"]
    assert setting_label(settings["dp_eps8"]) == "target_epsilon=8, max_grad_norm=1"
    assert setting_label({}) == "undefended"


def test_effect_rule():
    assert effect(0.001, 0.004, 0.01) == "reduces"
    assert effect(0.02, 0.05, 0.01) == "increases"
    assert effect(0.005, 0.02, 0.01) == "no measurable change"
    assert effect(np.nan, 0.02, 0.01) == "not measured"


def _row(defence, attack, tpr, level=0, test_acc=0.8):
    return {"defence": defence, "defence_setting": defence, "attack": attack, "level": level, "sparsity": 0.0,
            "auc": 0.5 + tpr, "tpr@1%fpr": tpr, "tpr@1%fpr_ci_low": tpr - 0.01, "tpr@1%fpr_ci_high": tpr + 0.01,
            "tpr@0.1%fpr": tpr / 2, "tpr@0.1%fpr_ci_low": 0.0, "tpr@0.1%fpr_ci_high": tpr,
            "tpr@0.1%fpr_resolvable": False, "test_acc": test_acc, "seed": 0}


def test_defence_effects_judge_heuristics_by_the_strongest_attack():
    table = pd.DataFrame([_row("none", "lira_online", 0.10), _row("none", "loss", 0.05),
                          _row("ls", "lira_online", 0.02, test_acc=0.78), _row("ls", "loss", 0.12, test_acc=0.78)])
    effects = defence_effects(table).set_index(["judged_by", "metric"])
    assert effects.loc[("lira_online", "tpr@1%fpr"), "effect"] == "reduces"
    strongest = effects.loc[("strongest", "tpr@1%fpr")]
    assert strongest["strongest_attack"] == "loss" and strongest["undefended_strongest_attack"] == "lira_online"
    assert strongest["effect"] == "increases"  # loss at 0.12 [0.11, 0.13] against LiRA's 0.10 undefended
    assert effects.loc[("lira_online", "tpr@1%fpr"), "defended"] == pytest.approx(0.02)
    assert effects.loc[("lira_online", "tpr@0.1%fpr"), "effect"] == "not resolvable"
    assert strongest["accuracy_cost"] == pytest.approx(0.02)
    assert any("**reduces**" in line for line in report_lines(effects.reset_index()))
    points = frontier_points(table)
    assert list(points["kind"]) == ["imp", "defence"] and list(points["label"]) == ["L0", "ls L0"]


@pytest.mark.slow
def test_defences_notebook_smoke_writes_tables_frontier_and_report(tmp_path):
    """Notebook 10 at smoke through papermill, then the collector: DP rows carry their epsilon."""
    import papermill as pm

    from mialth_utils.paths import PROJECT_ROOT
    from mialth_utils.reporting.report import write_report

    results = tmp_path / "results"
    pm.execute_notebook(str(PROJECT_ROOT / "notebooks" / "10_defences.ipynb"), str(tmp_path / "out.ipynb"),
                        parameters={"profile": "smoke", "results_dir": str(results)}, progress_bar=False,
                        kernel_name="python3")
    folder = next((results / "experiments" / "defences").glob("*/"))
    attacks = pd.read_csv(folder / "defences.csv")
    assert set(attacks["defence"]) == {"none", "dp_eps8", "ppb", "label_smoothing", "weight_decay", "early_stopping"}
    assert set(attacks["level"]) == {0, 1} and attacks["attack"].nunique() == 13
    dp = attacks[attacks["defence"] == "dp_eps8"]
    assert dp["dp_epsilon_spent"].notna().all() and (dp["dp_epsilon_target"] == 8.0).all()
    assert (dp[dp["level"] == 0]["dp_epsilon_spent"] <= 8.0 + 1e-6).all()
    assert (dp[dp["level"] == 1]["dp_epsilon_spent"] > 8.0).all()  # composed over the two trainings of the ticket
    effects = pd.read_csv(folder / "defence_effects.csv")
    assert set(effects["judged_by"]) == {"lira_online", "strongest"} and effects["effect"].notna().all()
    report = write_report(results).read_text()
    assert "## Defences" in report and "fig_defences_frontier_" in report and "LiRA (online)'s TPR@1%FPR" in report
    assert list((results / "figures").glob("fig_defences_frontier_*.png"))


def test_dp_sgd_is_reproducible_from_the_seed(data):
    weights = []
    for _ in range(2):
        net = make_model("mlp", data, 0)
        train(net, data, torch.arange(200), TrainSpec(epochs=1, batch_size=50, target_epsilon=4.0), seed=5, bar=False)
        weights.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    assert torch.equal(weights[0], weights[1])
