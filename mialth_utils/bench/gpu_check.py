"""The measurements to take when a GPU is lent (``python -m mialth_utils.bench --device cuda --gpu-check``),
prepared in advance so that the lent minutes go to measuring; about 8 minutes on one GPU:

1. the bench's training rows on the device (per model vs batched, trainer vs same-shape matmul);
2. a paper-profile level: ResNet-18 on CIFAR-10-shaped images (batch 256, augmentation), one timed
   epoch of one model, projected to the profile's level (17 models x 100 epochs of 20000 members);
3. a 64-reference, 16-level LeNet-300-100 model set (65 models, 2000 members each, 30 epochs a level,
   batched by level), built from an empty store and timed: the scale the verdicts round asks for.

Data: Fashion-MNIST / CIFAR-10 where they are found, else generated images of the same shapes (the
timing does not depend on the pixels; the rows say which). ``--device cpu`` with tiny sizes runs the
same logic in seconds (tests/test_bench.py).
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuCheckSizes:
    """The sizes of the check; ``tiny()`` for the quick CPU test of its logic."""

    n_refs: int = 64
    n_levels: int = 16
    epochs: int = 30
    n_pool: int = 4000
    resnet_examples: int = 20000
    bench_epochs: int = 3

    @classmethod
    def tiny(cls) -> "GpuCheckSizes":
        return cls(n_refs=2, n_levels=1, epochs=1, n_pool=256, resnet_examples=64, bench_epochs=1)


def _dataset(name: str, fallback_shape: tuple[int, int, int], n_train: int):
    """(data set name to use, whether it is generated): the real one when it loads, else a registered
    generated set of the same image shape."""
    from ..data.registry import load_dataset, make_fake, register_dataset

    try:
        load_dataset(name)
        return name, False
    except Exception as err:  # noqa: BLE001 - any reason the real data is not here
        fake = f"generated-{'x'.join(map(str, fallback_shape))}"
        register_dataset(fake, lambda root, download, seed, path, image_size: make_fake(
            n_train=n_train, n_test=2000, shape=fallback_shape, seed=seed))
        log.info("gpu check: %s not found (%s); timing on generated %s images", name, err, fallback_shape)
        return fake, True


def resnet_level(device: str, sizes: GpuCheckSizes) -> dict:
    """One timed epoch of ResNet-18 (paper profile recipe) and the projected paper-profile level."""
    from ..config import PROFILES
    from ..data.registry import load_dataset
    from ..models import make_model
    from ..training.loop import train

    profile = PROFILES["paper"]
    name, generated = _dataset("cifar10", (3, 32, 32), max(sizes.resnet_examples, 256))
    data = load_dataset(name, device=device)
    spec = profile["train"].__class__(**{**profile["train"].to_dict(), "epochs": 1})
    n = min(sizes.resnet_examples, len(data.train_y))
    train(make_model("resnet-18", data, seed=1), data, torch.arange(min(n, 4 * spec.batch_size)), spec, seed=1,
          bar=False)  # warm-up (cuDNN autotuning, allocator)
    start = time.perf_counter()
    train(make_model("resnet-18", data, seed=0), data, torch.arange(n), spec, seed=0, bar=False)
    if data.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    members = profile["n_pool"] // 2
    level = seconds / n * members * profile["train"].epochs * profile["n_models"]
    return {"part": "gpu check: paper-profile level (resnet-18)", "device": str(data.device), "generated_data": generated,
            "examples": n, "epoch_seconds": seconds, "images_per_s": n / seconds,
            "projected_level_seconds": level, "ratio": float("nan")}


def big_model_set(device: str, sizes: GpuCheckSizes, workers: int = 1) -> dict:
    """A (n_refs + 1)-model, n_levels-level LeNet-300-100 model set built batched from an empty store."""
    from ..modelsets import ModelSet, ModelSetSpec
    from ..training.loop import TrainSpec

    name, generated = _dataset("fashion-mnist", (1, 28, 28), 60000)
    spec = ModelSetSpec(dataset=name, model="lenet-300-100", n_models=sizes.n_refs + 1, n_pool=sizes.n_pool,
                        n_population=min(1000, sizes.n_pool // 4), n_levels=sizes.n_levels,
                        controls=("random_mask", "random_reinit"),
                        train=TrainSpec(epochs=sizes.epochs, batch_size=128, lr=0.05))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        models = ModelSet(spec, device=device, cache_dir=tmp).build(workers=workers, batched=True)
        seconds = time.perf_counter() - start
        table = models.table()
    return {"part": f"gpu check: {spec.n_models}-model, {sizes.n_levels}-level lenet-300-100 model set",
            "device": device, "generated_data": generated, "model_levels": len(table), "seconds": seconds,
            "seconds_per_model_level": seconds / len(table), "ratio": float("nan"),
            "dense_test_acc": float(table.query("level == 0")["test_acc"].mean()),
            "last_level_sparsity": float(table.query(f"level == {sizes.n_levels} and branch == 'imp'")["sparsity"].mean())}


def run(device: str = "cuda", sizes: GpuCheckSizes | None = None) -> list[dict]:
    """Every measurement of the check, in order, each timed; the training rows come from ``bench.batched``."""
    from . import batched

    sizes = sizes or GpuCheckSizes()
    start = time.perf_counter()
    rows = []
    n_train = min(2000, sizes.n_pool // 2)
    for model in ("lenet-300-100", "conv-2"):
        row = batched.benchmark(model, device=device, n_train=n_train, epochs=sizes.bench_epochs)
        rows.append({"part": f"gpu check: batched training {model}", **row})
    rows.append(resnet_level(device, sizes))
    rows.append(big_model_set(device, sizes))
    log.info("gpu check done in %.0f s", time.perf_counter() - start)
    return rows
