"""Data set files: the IDX format of (Fashion-)MNIST, and getting the default data set offline."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch

from ..paths import FASHION_MNIST_SYSTEM_DIR, data_root

IDX_FILES = {
    "train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte",
}


class DataNotFoundError(FileNotFoundError):
    """A data set's files are not where the kit looks; the message says what to do."""


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


def find_idx_dir(candidates: list[Path]) -> Path | None:
    """The first folder holding all four IDX files (plain or .gz), or None."""
    for folder in candidates:
        if all((folder / f).exists() or (folder / (f + ".gz")).exists() for f in IDX_FILES.values()):
            return folder
    return None


def load_idx_dir(folder: Path) -> dict[str, torch.Tensor]:
    out = {}
    for key, stem in IDX_FILES.items():
        path = folder / stem if (folder / stem).exists() else folder / (stem + ".gz")
        out[key] = torch.from_numpy(read_idx(path).copy())
    return out


def mnist_like(name: str, tv_name: str, system_dirs: list[Path], download: bool, root: Path) -> dict:
    """Train/test tensors of an MNIST-format data set from IDX files, else (if allowed) torchvision."""
    candidates = list(system_dirs) + [root / name, root / tv_name / "raw"]
    folder = find_idx_dir(candidates)
    if folder is not None:
        return load_idx_dir(folder)
    if not download:
        where = "\n  ".join(str(c) for c in candidates)
        hint = ("  or, on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
                if name == "fashion-mnist" else "")
        raise DataNotFoundError(
            f"{name}: no IDX files found. Looked in:\n  {where}\n"
            f"Put {', '.join(f + '.gz' for f in IDX_FILES.values())} in one of them,\n{hint}"
            f"  or, on a machine with network: python -m mialth_utils.data --download {name}")
    import torchvision.datasets as tvd

    cls = getattr(tvd, tv_name)
    tr, te = cls(root, train=True, download=True), cls(root, train=False, download=True)
    return {"train_x": tr.data, "train_y": tr.targets, "test_x": te.data, "test_y": te.targets}


def ensure_fashion_mnist(allow_apt: bool = True, download: bool = False) -> Path:
    """Make Fashion-MNIST available offline: system package, else apt (as root), else torchvision download."""
    system_dir = FASHION_MNIST_SYSTEM_DIR
    folder = find_idx_dir([system_dir, data_root() / "fashion-mnist", data_root() / "FashionMNIST" / "raw"])
    if folder is not None:
        return folder
    if allow_apt and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"], check=False)
        if find_idx_dir([system_dir]):
            return system_dir
    if download:
        mnist_like("fashion-mnist", "FashionMNIST", [], True, data_root())
        return data_root() / "FashionMNIST" / "raw"
    raise DataNotFoundError(
        f"Fashion-MNIST not found. Install the Debian package dataset-fashion-mnist (files in "
        f"{FASHION_MNIST_SYSTEM_DIR}), or put the four *-ubyte.gz files in {data_root() / 'fashion-mnist'}, "
        f"or run: python -m mialth_utils.data --download")
