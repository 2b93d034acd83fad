import pytest
import torch

from mialth_utils.data.registry import load_dataset
from mialth_utils.sparsity.masks import full_masks
from mialth_utils.data.views import VIEW_SETS, View
from mialth_utils.models import make_model
from mialth_utils.training.loop import TrainSpec, train
from mialth_utils.training.predict import accuracy, predict_logits


@pytest.fixture(scope="module")
def data():
    return load_dataset("fake")


def test_trainer_learns(data):
    model = make_model("mlp", data, seed=0)
    before = accuracy(model, data, data.test_x, data.test_y)
    result = train(model, data, torch.arange(1000), TrainSpec(epochs=8, batch_size=64), seed=0)
    after = accuracy(model, data, data.test_x, data.test_y)
    assert result.history[-1]["loss"] < 0.5 * result.history[0]["loss"]
    assert after > 0.6 and after > before + 0.3  # chance is 0.1


def test_conv_net_learns(data):
    # (no augmentation: the fake classes are pixel-noise prototypes that crops and flips destroy)
    model = make_model("conv-2", data, seed=0)
    spec = TrainSpec(epochs=3, batch_size=64, optimizer="adam", lr=1e-3, schedule="step")
    train(model, data, torch.arange(1000), spec, seed=0)
    assert accuracy(model, data, data.test_x, data.test_y) > 0.4


def test_same_seed_same_weights(data):
    weights = []
    for _ in range(2):
        model = make_model("mlp", data, seed=5)
        train(model, data, torch.arange(300), TrainSpec(epochs=2, precision="fp32"), seed=7)
        weights.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_masked_weights_stay_exactly_zero(data):
    model = make_model("mlp", data, seed=0)
    masks = full_masks(model)
    name = next(iter(masks))
    masks[name] = torch.rand(masks[name].shape, generator=torch.Generator().manual_seed(0)) > 0.7
    train(model, data, torch.arange(300), TrainSpec(epochs=2), seed=0, masks=masks)
    weight = dict(model.named_parameters())[name]
    assert (weight[~masks[name]] == 0).all() and (weight[masks[name]] != 0).all()


def test_snapshot_step_saves_early_weights(data):
    model = make_model("mlp", data, seed=0)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    at0 = train(model, data, torch.arange(200), TrainSpec(epochs=1), seed=0, snapshot_step=0).snapshot
    assert all(torch.equal(at0[k], init[k]) for k in init)
    model = make_model("mlp", data, seed=0)
    at2 = train(model, data, torch.arange(640), TrainSpec(epochs=1, batch_size=64), seed=0, snapshot_step=2).snapshot
    assert not torch.equal(at2["1.weight"], init["1.weight"])
    assert not torch.equal(at2["1.weight"], model.state_dict()["1.weight"])


def test_predict_logits_shapes_and_queries(data):
    model = make_model("mlp", data, seed=0)
    out = predict_logits(model, data, data.test_x[:50], VIEW_SETS["shifts"], batch_size=16)
    assert out.shape == (6, 50, 10) and out.dtype == torch.float32
    assert torch.allclose(out[0], predict_logits(model, data, data.test_x[:50])[0])
    noisy = View.parse("noise:0.05:0").apply(data.test_x[:5])
    assert torch.equal(noisy, View.parse("noise:0.05:0").apply(data.test_x[:5])) and noisy.max() <= 1
    with pytest.raises(ValueError, match="unknown query"):
        View.parse("rotate:10").apply(data.test_x[:5])


@pytest.mark.parametrize("kwargs,match", [({"optimizer": "rmsprop"}, "optimizer"), ({"schedule": "linear"}, "schedule"),
                                          ({"epochs": -1}, "epochs"), ({"precision": "fp8"}, "precision")])
def test_bad_train_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainSpec(**kwargs)


def test_empty_training_set_is_an_error(data):
    with pytest.raises(ValueError, match="empty"):
        train(make_model("mlp", data, 0), data, torch.arange(0), TrainSpec(epochs=1), seed=0)


def test_prediction_reuses_view_inputs_with_the_same_logits(data):
    """Inputs built once by query_inputs (noise views included) give bitwise the logits of building
    them in every call; over the memory budget there is nothing to reuse."""
    from mialth_utils.data.views import view_names
    from mialth_utils.training.predict import query_inputs

    model = make_model("mlp", data, seed=0)
    views, x = view_names("shifts"), data.test_x[:50]
    inputs = query_inputs(data, x, views, batch_size=16)
    assert len(inputs) == len(views) and len(inputs[0]) == 4
    assert torch.equal(predict_logits(model, data, x, views, 16, inputs=inputs), predict_logits(model, data, x, views, 16))
    assert query_inputs(data, x, views, max_bytes=x.numel()) is None


def test_masks_become_multipliers_of_each_weights_dtype():
    from mialth_utils.sparsity.masks import apply_masks, as_multipliers

    net = torch.nn.Sequential(torch.nn.Linear(6, 4)).to(torch.float64)
    masks = {"0.weight": torch.rand(4, 6, generator=torch.Generator().manual_seed(0)) > 0.5}
    mult = as_multipliers(net, masks)
    assert mult["0.weight"].dtype == torch.float64 and torch.equal(mult["0.weight"].bool(), masks["0.weight"])
    apply_masks(net, mult)
    assert torch.equal(net[0].weight != 0, masks["0.weight"]) and as_multipliers(net, None) is None
