import pytest
import torch
from torch import nn

from mialth_utils.models import available_models, build_model, output_layer_name, register_model


@pytest.mark.parametrize("name", ["lenet-300-100", "mlp", "conv-2", "conv-4", "conv-6", "vgg-11", "vgg-16",
                                  "resnet-18", "resnet-20"])
@pytest.mark.parametrize("shape,n_classes", [((1, 28, 28), 10), ((3, 32, 32), 100)])
def test_every_architecture_maps_inputs_to_class_logits(name, shape, n_classes):
    model = build_model(name, shape, n_classes).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *shape))
    assert out.shape == (2, n_classes)
    assert isinstance(dict(model.named_modules())[output_layer_name(model)], nn.Linear)


def test_lenet_has_the_papers_parameter_count():
    model = build_model("lenet-300-100", (1, 28, 28), 10)
    assert sum(p.numel() for p in model.parameters()) == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10


def test_register_your_own_model():
    register_model("tiny-linear", lambda s, k: nn.Sequential(nn.Flatten(), nn.Linear(s[0] * s[1] * s[2], k)))
    assert "tiny-linear" in available_models()
    assert build_model("tiny-linear", (1, 4, 4), 3)(torch.zeros(1, 1, 4, 4)).shape == (1, 3)


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match="unknown model 'alexnet'.*lenet-300-100"):
        build_model("alexnet", (1, 28, 28), 10)
