"""Architectures by name, sized from the data set's input shape and class count.

LeNet-300-100 and Conv-2/4/6 follow Frankle & Carbin (2019); VGG-11/16 and ResNet-18/20 are
their CIFAR forms (3x3 stem, no 7x7 / max-pool stem); ``mlp-small`` is the default distillation
student. Register your own with ``register_model``, or name an importable factory as
``"package.module:factory"`` (it gets the input shape and the class count), which works in a
fresh papermill kernel too.
"""
from __future__ import annotations

import importlib
from typing import Callable

import torch
from torch import nn

ModelFactory = Callable[[tuple[int, int, int], int], nn.Module]
_REGISTRY: dict[str, ModelFactory] = {}


def register_model(name: str, factory: ModelFactory | None = None):
    """Register ``factory(input_shape, n_classes) -> nn.Module`` under ``name`` (usable as a decorator)."""
    def deco(fn: ModelFactory) -> ModelFactory:
        _REGISTRY[name.lower()] = fn
        return fn
    return deco(factory) if factory is not None else deco


def available_models() -> list[str]:
    return sorted(_REGISTRY)


def build_model(name: str, input_shape: tuple[int, int, int], n_classes: int) -> nn.Module:
    """A registered architecture, or ``"package.module:factory"`` imported on demand."""
    key = str(name).lower()
    if key in _REGISTRY:
        return _REGISTRY[key](tuple(input_shape), int(n_classes))
    if ":" in str(name):
        return _import_factory(str(name))(tuple(input_shape), int(n_classes))
    raise ValueError(f"unknown model {name!r}: choose one of {', '.join(available_models())}, add yours with "
                     "mialth_utils.models.register_model, or name a factory as 'package.module:function'")


def _import_factory(spec: str) -> ModelFactory:
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import model factory {spec!r} ({err}): check that the module is on "
                         "sys.path (e.g. PYTHONPATH) and defines that function") from err
    return factory


def make_model(name: str, data, seed: int) -> nn.Module:
    """Build ``name`` for a data set (its input shape, class count and device) with weights drawn from
    ``seed``; the global random state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(name, data.input_shape, data.n_classes)
    return model.to(data.device)


def output_layer_name(model: nn.Module) -> str:
    """Name of the last Linear layer (the classifier), whose pruning rate IMP may treat apart."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    return names[-1]


class MLP(nn.Sequential):
    def __init__(self, in_features: int, hidden: tuple[int, ...], n_classes: int):
        layers: list[nn.Module] = [nn.Flatten()]
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.ReLU()]
            in_features = width
        layers.append(nn.Linear(in_features, n_classes))
        super().__init__(*layers)


class ConvNet(nn.Module):
    """Frankle & Carbin's Conv-2/4/6: pairs of 3x3 convs then max-pool, then FC 256-256-out."""

    def __init__(self, input_shape, n_classes, widths: tuple[int, ...]):
        super().__init__()
        c, h, w = input_shape
        layers: list[nn.Module] = []
        for i, width in enumerate(widths):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
            c = width
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.classifier = MLP(c * h * w, (256, 256), n_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


VGG_CFG = {"vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
           "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")}


class VGG(nn.Module):
    """CIFAR VGG with batch norm; pools are skipped once the feature map is 1x1 (small inputs)."""

    def __init__(self, input_shape, n_classes, cfg):
        super().__init__()
        c, h, _ = input_shape
        layers: list[nn.Module] = []
        for item in cfg:
            if item == "M":
                if h > 1:
                    layers.append(nn.MaxPool2d(2))
                    h //= 2
            else:
                layers += [nn.Conv2d(c, item, 3, padding=1, bias=False), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
                c = item
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c, n_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    """He et al.'s CIFAR ResNet-20: widths 16/32/64, three blocks per stage."""

    def __init__(self, input_shape, n_classes, widths=(16, 32, 64), blocks=3):
        super().__init__()
        self.conv1 = nn.Conv2d(input_shape[0], widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, c = [], widths[0]
        for i, width in enumerate(widths):
            for j in range(blocks):
                layers.append(BasicBlock(c, width, 2 if (i > 0 and j == 0) else 1))
                c = width
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c, n_classes)

    def forward(self, x):
        out = self.layers(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1))


def _resnet18(input_shape, n_classes):
    from torchvision.models import resnet18

    net = resnet18(num_classes=n_classes)
    net.conv1 = nn.Conv2d(input_shape[0], 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    return net


def _flat(shape):
    return shape[0] * shape[1] * shape[2]


register_model("lenet-300-100", lambda s, k: MLP(_flat(s), (300, 100), k))
register_model("mlp", lambda s, k: MLP(_flat(s), (256, 128), k))
register_model("mlp-small", lambda s, k: MLP(_flat(s), (100,), k))  # the default distillation student
register_model("conv-2", lambda s, k: ConvNet(s, k, (64, 64)))
register_model("conv-4", lambda s, k: ConvNet(s, k, (64, 64, 128, 128)))
register_model("conv-6", lambda s, k: ConvNet(s, k, (64, 64, 128, 128, 256, 256)))
register_model("vgg-11", lambda s, k: VGG(s, k, VGG_CFG["vgg11"]))
register_model("vgg-16", lambda s, k: VGG(s, k, VGG_CFG["vgg16"]))
register_model("resnet-18", _resnet18)
register_model("resnet-20", lambda s, k: ResNet20(s, k))
