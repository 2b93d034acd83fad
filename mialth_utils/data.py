"""Data sets as tensors: a registry by name, class subsets, batched augmentation.

Every data set is held whole as ``uint8`` tensors (N, C, H, W) on the chosen device and
normalised on the fly, so training never goes through a per-sample PIL pipeline.
"""
from __future__ import annotations

import gzip
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .paths import FASHION_MNIST_SYSTEM_DIR, data_root

IDX_FILES = {
    "train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte",
}


class DataNotFoundError(FileNotFoundError):
    """A data set's files are not where the kit looks; the message says what to do."""


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


# --------------------------------------------------------------------------- file formats
def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzipped or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: header says {tuple(dims)}, found {data.size} bytes")
    return data.reshape(tuple(int(d) for d in dims))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when the name ends in .gz); used by tests."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(header + array.tobytes())


def _find_idx_dir(candidates: list[Path]) -> Path | None:
    for folder in candidates:
        if all((folder / f).exists() or (folder / (f + ".gz")).exists() for f in IDX_FILES.values()):
            return folder
    return None


def _load_idx_dir(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for key, stem in IDX_FILES.items():
        path = folder / stem if (folder / stem).exists() else folder / (stem + ".gz")
        out[key] = read_idx(path)
    return out


# --------------------------------------------------------------------------- loaders
def _mnist_like(name: str, tv_name: str, system_dirs: list[Path], download: bool, root: Path) -> dict:
    candidates = system_dirs + [root / name, root / tv_name / "raw"]
    folder = _find_idx_dir(candidates)
    if folder is not None:
        arrays = _load_idx_dir(folder)
        return {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    if not download:
        where = "\n  ".join(str(c) for c in candidates)
        hint = ("  or, on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n" if name == "fashion-mnist" else "")
        raise DataNotFoundError(
            f"{name}: no IDX files found. Looked in:\n  {where}\n"
            f"Put {', '.join(f + '.gz' for f in IDX_FILES.values())} in one of them,\n{hint}"
            f"  or allow a download: load_dataset({name!r}, download=True) / -p download True.")
    import torchvision.datasets as tvd

    cls = getattr(tvd, tv_name)
    tr, te = cls(root, train=True, download=True), cls(root, train=False, download=True)
    return {"train_x": tr.data, "train_y": tr.targets, "test_x": te.data, "test_y": te.targets}


def _cifar(tv_name: str, download: bool, root: Path) -> dict:
    import torchvision.datasets as tvd

    cls = getattr(tvd, tv_name)
    try:
        tr, te = cls(root, train=True, download=download), cls(root, train=False, download=download)
    except RuntimeError as err:
        raise DataNotFoundError(
            f"{tv_name}: not found under {root}. Put the extracted python version there "
            f"(e.g. {root}/cifar-10-batches-py) or allow a download with download=True.") from err
    to_t = lambda a: torch.from_numpy(np.asarray(a)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return {"train_x": to_t(tr.data), "train_y": torch.tensor(tr.targets), "test_x": to_t(te.data),
            "test_y": torch.tensor(te.targets), "classes": tuple(tr.classes)}


def _digits(seed: int) -> dict:
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


def _imagefolder(path: str | None, image_size: int, root: Path, seed: int) -> dict:
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


FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
DATASETS = ("fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder", "digits", "fake")


def _load_arrays(name: str, download: bool, root: Path, seed: int, path: str | None, image_size: int) -> dict:
    if name == "fashion-mnist":
        arrays = _mnist_like(name, "FashionMNIST", [FASHION_MNIST_SYSTEM_DIR], download, root)
        arrays["classes"] = FASHION_CLASSES
    elif name == "mnist":
        arrays = _mnist_like(name, "MNIST", [], download, root)
    elif name in ("cifar10", "cifar100"):
        arrays = _cifar({"cifar10": "CIFAR10", "cifar100": "CIFAR100"}[name], download, root)
    elif name == "digits":
        arrays = _digits(seed)
    elif name == "fake":
        arrays = make_fake(seed=seed)
    elif name == "imagefolder":
        arrays = _imagefolder(path, image_size, root, seed)
    else:
        raise ValueError(f"unknown data set {name!r}: choose one of {', '.join(DATASETS)}")
    for key in ("train_x", "test_x"):
        if arrays[key].ndim == 3:
            arrays[key] = arrays[key][:, None]
    return arrays


def load_dataset(name: str = "fashion-mnist", *, n_classes: int | None = None, seed: int = 0,
                 device: torch.device | str = "cpu", download: bool = False, path: str | None = None,
                 image_size: int = 32) -> TensorData:
    """Load a data set by name as tensors on ``device``.

    ``n_classes=k`` keeps a seeded subset of k classes, re-indexed 0..k-1 (for the class-count
    experiment). ``download`` defaults to off: a missing data set raises with where to put it.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset must be a name (str), got {type(name).__name__}")
    name = name.lower().replace("_", "-")
    if name in ("fashionmnist", "fmnist"):
        name = "fashion-mnist"
    base = _cached_arrays(name, bool(download), str(data_root()), seed, path, image_size)
    arrays = dict(base)
    classes = tuple(arrays.get("classes") or (str(c) for c in range(int(arrays["train_y"].max()) + 1)))
    if n_classes is not None:
        arrays, classes = _class_subset(arrays, classes, n_classes, seed)
    x = arrays["train_x"].float() / 255.0
    mean = tuple(x.mean(dim=(0, 2, 3)).tolist())
    std = tuple(max(s, 1e-3) for s in x.std(dim=(0, 2, 3)).tolist())
    data = TensorData(name, arrays["train_x"].contiguous(), arrays["train_y"].long(), arrays["test_x"].contiguous(),
                      arrays["test_y"].long(), classes, mean, std)
    return data.to(device)


@lru_cache(maxsize=4)
def _cached_arrays(name, download, root, seed, path, image_size):
    return _load_arrays(name, download, Path(root), seed, path, image_size)


def _class_subset(arrays: dict, classes: tuple, n_classes: int, seed: int):
    total = len(classes)
    if not isinstance(n_classes, int) or isinstance(n_classes, bool) or not 2 <= n_classes <= total:
        raise ValueError(f"n_classes must be an int in 2..{total} for this data set, got {n_classes!r}")
    keep = np.sort(np.random.default_rng(seed).choice(total, size=n_classes, replace=False))
    remap = torch.full((total,), -1, dtype=torch.long)
    remap[torch.from_numpy(keep)] = torch.arange(n_classes)
    out = {}
    for split in ("train", "test"):
        y = arrays[f"{split}_y"].long()
        sel = remap[y] >= 0
        out[f"{split}_x"], out[f"{split}_y"] = arrays[f"{split}_x"][sel], remap[y][sel]
    return out, tuple(classes[i] for i in keep)


# --------------------------------------------------------------------------- augmentation
def augment(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 2, flip: bool = True) -> torch.Tensor:
    """Random crop with zero padding and random horizontal flip, batched on x's device."""
    n, _, h, w = x.shape
    dev = x.device
    if pad > 0:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
        rows = (dy[:, None] + torch.arange(h, device=dev)[None])[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=dev)[None])[:, None, None, :]
        idx_n = torch.arange(n, device=dev)[:, None, None, None]
        idx_c = torch.arange(x.shape[1], device=dev)[None, :, None, None]
        x = padded[idx_n, idx_c, rows, cols]
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(dev)
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift a batch by (dx, dy) pixels with zero fill (a deterministic query augmentation)."""
    out = torch.zeros_like(x)
    h, w = x.shape[2:]
    out[:, :, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[:, :, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


# --------------------------------------------------------------------------- getting the default data set
def ensure_fashion_mnist(allow_apt: bool = True, download: bool = False) -> Path:
    """Make Fashion-MNIST available offline: system package, else apt (as root), else torchvision download."""
    folder = _find_idx_dir([FASHION_MNIST_SYSTEM_DIR, data_root() / "fashion-mnist",
                            data_root() / "FashionMNIST" / "raw"])
    if folder is not None:
        return folder
    import os

    if allow_apt and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"], check=False)
        if _find_idx_dir([FASHION_MNIST_SYSTEM_DIR]):
            return FASHION_MNIST_SYSTEM_DIR
    if download:
        _mnist_like("fashion-mnist", "FashionMNIST", [], True, data_root())
        return data_root() / "FashionMNIST" / "raw"
    raise DataNotFoundError(
        f"Fashion-MNIST not found. Install the Debian package dataset-fashion-mnist (files in "
        f"{FASHION_MNIST_SYSTEM_DIR}), or put the four *-ubyte.gz files in {data_root() / 'fashion-mnist'}, "
        f"or run: python -m mialth_utils.data --download")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Make the default data set (Fashion-MNIST) available offline.")
    parser.add_argument("--download", action="store_true", help="allow a download through torchvision")
    parser.add_argument("--no-apt", action="store_true", help="do not try apt-get install dataset-fashion-mnist")
    args = parser.parse_args()
    print("Fashion-MNIST:", ensure_fashion_mnist(allow_apt=not args.no_apt, download=args.download))
