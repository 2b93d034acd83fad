"""Data sets as tensors, registered by name like models; class subsets for the class-count experiment.

Every data set is held whole as ``uint8`` tensors (N, C, H, W) on the chosen device and
normalised on the fly, so training never goes through a per-sample PIL pipeline. A loader is
``loader(root, download, seed, path, image_size) -> dict`` of train/test tensors (and ``classes``);
add yours with ``register_dataset``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..paths import FASHION_MNIST_SYSTEM_DIR, data_root
from .files import DataNotFoundError, mnist_like

Loader = Callable[..., dict]
_REGISTRY: dict[str, Loader] = {}
ALIASES = {"fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist"}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


def register_dataset(name: str, loader: Loader | None = None):
    """Register ``loader(root, download, seed, path, image_size) -> dict`` under ``name`` (or as a decorator)."""
    def deco(fn: Loader) -> Loader:
        _REGISTRY[name] = fn
        return fn
    return deco(loader) if loader is not None else deco


def available_datasets() -> list[str]:
    return sorted(_REGISTRY)


@dataclass
class TensorData:
    """A whole data set as tensors. ``x`` are uint8 (N, C, H, W); ``y`` int64 in 0..n_classes-1."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    _stats: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device: torch.device | str) -> "TensorData":
        move = lambda t: t.to(device)  # noqa: E731
        return TensorData(self.name, move(self.train_x), move(self.train_y), move(self.test_x),
                          move(self.test_y), self.classes, self.mean, self.std)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 batch (or float batch in [0, 1]) -> float batch with the per-channel mean and std."""
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x
        key = str(x.device)
        if key not in self._stats:
            self._stats[key] = (torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1),
                                torch.tensor(self.std, device=x.device).view(1, -1, 1, 1))
        mean, std = self._stats[key]
        return (x - mean) / std



# --------------------------------------------------------------------------- loaders
@register_dataset("fashion-mnist")
def _fashion_mnist(root: Path, download: bool, seed: int, path, image_size) -> dict:
    arrays = mnist_like("fashion-mnist", "FashionMNIST", [FASHION_MNIST_SYSTEM_DIR], download, root)
    return {**arrays, "classes": FASHION_CLASSES}


@register_dataset("mnist")
def _mnist(root: Path, download: bool, seed: int, path, image_size) -> dict:
    return mnist_like("mnist", "MNIST", [], download, root)


CIFAR_FOLDERS = {"CIFAR10": ("cifar10", "cifar-10-batches-py"), "CIFAR100": ("cifar100", "cifar-100-python")}


def _cifar(tv_name: str, download: bool, root: Path) -> dict:
    import torchvision.datasets as tvd

    cls = getattr(tvd, tv_name)
    name, folder = CIFAR_FOLDERS[tv_name]
    try:
        tr, te = cls(root, train=True, download=download), cls(root, train=False, download=download)
    except RuntimeError as err:
        raise DataNotFoundError(
            f"{name}: not found: the kit looks for {root / folder} (the extracted python version of the data "
            f"set, $MIALTH_DATA moves {root}). On a machine with network run: python -m mialth_utils.data "
            f"--download {name} (the kit never downloads by itself), or put {folder}/ there.") from err
    to_t = lambda a: torch.from_numpy(np.asarray(a)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return {"train_x": to_t(tr.data), "train_y": torch.tensor(tr.targets), "test_x": to_t(te.data),
            "test_y": torch.tensor(te.targets), "classes": tuple(tr.classes)}


register_dataset("cifar10", lambda root, download, seed, path, image_size: _cifar("CIFAR10", download, root))
register_dataset("cifar100", lambda root, download, seed, path, image_size: _cifar("CIFAR100", download, root))


@register_dataset("digits")
def _digits(root: Path, download: bool, seed: int, path, image_size) -> dict:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = np.clip(bunch.images * 16, 0, 255).astype(np.uint8)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, bunch.target, test_size=0.25, stratify=bunch.target, random_state=seed)
    return {"train_x": torch.from_numpy(xtr), "train_y": torch.from_numpy(ytr), "test_x": torch.from_numpy(xte),
            "test_y": torch.from_numpy(yte)}


def make_fake(n_train: int = 2000, n_test: int = 500, n_classes: int = 10, shape=(1, 12, 12), seed: int = 0,
              noise: float = 3.0) -> dict:
    """Tiny class-conditional data: a random prototype per class plus per-sample noise.

    Linearly separable for small ``noise``; per-sample noise gives a model something to memorise.
    """
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(n_classes, *shape))
    def draw(n):
        y = rng.integers(0, n_classes, size=n)
        x = protos[y] + noise * rng.normal(size=(n, *shape))
        return torch.from_numpy(np.clip(128 + 24 * x, 0, 255).astype(np.uint8)), torch.from_numpy(y)
    (trx, try_), (tex, tey) = draw(n_train), draw(n_test)
    return {"train_x": trx, "train_y": try_, "test_x": tex, "test_y": tey}


register_dataset("fake", lambda root, download, seed, path, image_size: make_fake(seed=seed))


@register_dataset("imagefolder")
def _imagefolder(root: Path, download: bool, seed: int, path: str | None, image_size: int) -> dict:
    from torchvision import datasets, transforms

    folder = Path(path).expanduser() if path else root / "imagefolder"
    if not folder.is_dir():
        raise DataNotFoundError(f"imagefolder: {folder} does not exist. Pass path=... (a folder of class "
                                "sub-folders, optionally split into train/ and val/ or test/) or put it there.")
    tf = transforms.Compose([transforms.Resize(image_size), transforms.CenterCrop(image_size), transforms.PILToTensor()])
    def stack(ds):
        xs = [ds[i][0] for i in range(len(ds))]
        xs = [x.expand(3, -1, -1) if x.shape[0] == 1 else x[:3] for x in xs]
        return torch.stack(xs), torch.tensor(ds.targets)
    splits = [s for s in ("train", "val", "test") if (folder / s).is_dir()]
    if "train" in splits and len(splits) > 1:
        tr = datasets.ImageFolder(folder / "train", transform=tf)
        te = datasets.ImageFolder(folder / splits[1], transform=tf)
        (trx, try_), (tex, tey) = stack(tr), stack(te)
        classes = tuple(tr.classes)
    else:
        ds = datasets.ImageFolder(folder, transform=tf)
        x, y = stack(ds)
        perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(y)))
        n_test = max(1, len(y) // 5)
        tex, tey, trx, try_ = x[perm[:n_test]], y[perm[:n_test]], x[perm[n_test:]], y[perm[n_test:]]
        classes = tuple(ds.classes)
    return {"train_x": trx, "train_y": try_, "test_x": tex, "test_y": tey, "classes": classes}


def _load_arrays(name: str, download: bool, root: Path, seed: int, path: str | None, image_size: int) -> dict:
    arrays = dict(_REGISTRY[name](root, download, seed, path, image_size))
    for key in ("train_x", "test_x"):
        if arrays[key].ndim == 3:
            arrays[key] = arrays[key][:, None]
    return arrays


def load_dataset(name: str = "fashion-mnist", *, n_classes: int | None = None, seed: int = 0,
                 device: torch.device | str = "cpu", download: bool = False, path: str | None = None,
                 image_size: int = 32, class_subset: int = 0) -> TensorData:
    """Load a data set by name as tensors on ``device``.

    ``n_classes=k`` keeps a seeded subset of k classes, re-indexed 0..k-1 (for the class-count
    experiment); ``class_subset`` picks another seeded subset of the same size (0 is the default one). ``download`` defaults to off: a missing data set raises with where to put it.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset must be a name (str), got {type(name).__name__}")
    name = name.lower().replace("_", "-")
    name = ALIASES.get(name, name)
    if name not in _REGISTRY:
        raise ValueError(f"unknown data set {name!r}: choose one of {', '.join(available_datasets())} "
                         "or add yours with mialth_utils.data.registry.register_dataset")
    base = _cached_arrays(name, bool(download), str(data_root()), seed, path, image_size)
    arrays = dict(base)
    classes = tuple(arrays.get("classes") or (str(c) for c in range(int(arrays["train_y"].max()) + 1)))
    if n_classes is not None:
        arrays, classes = subset_classes(arrays, classes, n_classes, seed, class_subset)
    x = arrays["train_x"].float() / 255.0
    mean = tuple(x.mean(dim=(0, 2, 3)).tolist())
    std = tuple(max(s, 1e-3) for s in x.std(dim=(0, 2, 3)).tolist())
    data = TensorData(name, arrays["train_x"].contiguous(), arrays["train_y"].long(), arrays["test_x"].contiguous(),
                      arrays["test_y"].long(), classes, mean, std)
    return data.to(device)


@lru_cache(maxsize=4)
def _cached_arrays(name, download, root, seed, path, image_size):
    return _load_arrays(name, download, Path(root), seed, path, image_size)


def subset_classes(arrays: dict, classes: tuple, n_classes: int, seed: int, subset: int = 0):
    total = len(classes)
    if not isinstance(n_classes, int) or isinstance(n_classes, bool) or not 2 <= n_classes <= total:
        raise ValueError(f"n_classes must be an int in 2..{total} for this data set, got {n_classes!r}")
    rng = np.random.default_rng(seed if subset == 0 else (seed, subset))
    keep = np.sort(rng.choice(total, size=n_classes, replace=False))
    remap = torch.full((total,), -1, dtype=torch.long)
    remap[torch.from_numpy(keep)] = torch.arange(n_classes)
    out = {}
    for split in ("train", "test"):
        y = arrays[f"{split}_y"].long()
        sel = remap[y] >= 0
        out[f"{split}_x"], out[f"{split}_y"] = arrays[f"{split}_x"][sel], remap[y][sel]
    return out, tuple(classes[i] for i in keep)
