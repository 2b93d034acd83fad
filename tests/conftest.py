"""Shared fixtures: an isolated results/cache root and one small memorising model set."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_roots(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALTH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MIALTH_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MIALTH_CACHE", raising=False)
    yield


@pytest.fixture(scope="session")
def small_model_set(tmp_path_factory):
    """9 MLPs (target + 8 references) that memorise 300 of 600 noisy fake examples, 2 IMP levels."""
    from mialth_utils.modelsets import ModelSet, ModelSetSpec
    from mialth_utils.training.loop import TrainSpec

    spec = ModelSetSpec(dataset="fake", model="mlp", n_models=9, n_pool=600, n_population=200, n_levels=2,
                          controls=("random_mask", "random_reinit"), train=TrainSpec(epochs=30, batch_size=64),
                          seed=0)
    return ModelSet(spec, cache_dir=tmp_path_factory.mktemp("cache")).build(workers=1)


def write_image_folder(folder, size: int, n_classes: int):
    """A folder of class sub-folders of PNGs (torchvision's FakeData), as an ``imagefolder`` data set."""
    from torchvision.datasets import FakeData

    fake = FakeData(size=size, image_size=(3, 20, 24), num_classes=n_classes, random_offset=0)
    for i in range(len(fake)):
        img, label = fake[i]
        (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
        img.save(folder / f"class{label}" / f"{i}.png")
    return folder
