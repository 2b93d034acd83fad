"""The ``paper`` profile's code path on CPU at reduced sizes, on CIFAR-10 files in torchvision's
``cifar-10-batches-py`` pickle format written here: ResNet, augmentation, ``rewind="step"``, 2 levels,
every attack, the collector. 5 models, not 3: LiRA online needs 4 reference models (with 3 models it
and RMIA record an error instead of a score). ``MIALTH_TEST_DEVICE=cuda`` runs the same on a GPU."""
import os
import pickle
import time

import numpy as np
import pandas as pd
import pytest

from mialth_utils import experiments as E
from mialth_utils.attacks.registry import default_attacks
from mialth_utils.config import PROFILES, study_spec
from mialth_utils.data import registry
from mialth_utils.reporting.report import write_report

DEVICE = os.environ.get("MIALTH_TEST_DEVICE", "cpu")


def write_cifar10(root, n_per_batch: int, n_test: int, seed: int = 0) -> None:
    """Five training batches, a test batch and batches.meta as torchvision reads them (3072 bytes an image)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    protos = rng.integers(0, 256, size=(10, 3072))

    def batch(n):
        labels = rng.integers(0, 10, size=n)
        data = np.clip(protos[labels] + rng.normal(0, 60, size=(n, 3072)), 0, 255).astype(np.uint8)
        return {"data": data, "labels": labels.tolist()}

    for name, n in [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        with open(folder / name, "wb") as fh:
            pickle.dump(batch(n), fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, fh)


@pytest.fixture
def cifar_files(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    write_cifar10(tmp_path / "data", n_per_batch=24, n_test=40)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)  # our files are not the real ones
    registry._cached_arrays.cache_clear()
    yield
    registry._cached_arrays.cache_clear()


def run_paper_path(tmp_path, model: str, queries: str, epochs: int = 1) -> tuple[dict, float]:
    settings = {"n_models": 5, "n_levels": 2, "n_pool": 80, "n_population": 20, "epochs": epochs,
                "batch_size": 32, "rewind_step": 2, "queries": queries, "n_boot": 5,
                "workers": 1}  # in this process: the integrity check is patched here only
    spec = study_spec("paper", model=model, device=DEVICE, results_dir=str(tmp_path / "results"), settings=settings)
    assert spec.dataset == "cifar10" and spec.models.train.augment and spec.models.rewind == "step"
    assert not spec.fast_attacks and PROFILES["paper"]["train"].augment
    start = time.perf_counter()
    out = E.lth_attack(spec)
    return out, time.perf_counter() - start


def check_paper_run(tmp_path, out: dict) -> None:
    attacks = out["attacks"]
    assert set(attacks["attack"]) == {a.name for a in default_attacks()}  # every attack ran at every level
    errors = attacks["error"].dropna() if "error" in attacks else []
    assert len(errors) == 0, list(errors)
    assert set(attacks["level"]) == {0, 1, 2} and attacks["auc"].between(0, 1).all()
    table = out["model_set"].table()
    imp = table[table["branch"] == "imp"].groupby("level")["sparsity"].mean()
    assert imp[0] < 0.01 and 0.15 < imp[1] < imp[2] < 0.5  # counted, not assumed: 20% and 36% of the prunable
    assert set(table["branch"]) == {"imp", "random_mask", "random_reinit"}
    report = write_report(tmp_path / "results")  # the collector over this run
    assert report.exists()
    collected = pd.read_csv(tmp_path / "results" / "tables" / "attacks.csv")
    assert set(collected["dataset"]) == {"cifar10"} and len(collected) == len(attacks)


@pytest.mark.slow  # 95 s: the paper profile (CIFAR shapes, ResNet-18) end to end; make test-all runs it
def test_paper_profile_code_path_short(tmp_path, cifar_files):
    """ResNet-20 (the paper profile's distillation student), no augmentation views (noise views only): the default run's variant."""
    out, _ = run_paper_path(tmp_path, "resnet-20", "none")
    check_paper_run(tmp_path, out)


@pytest.mark.slow
def test_paper_profile_code_path_resnet18(tmp_path, cifar_files):
    """ResNet-18, the paper's architecture, with the paper's query views (shifts)."""
    out, _ = run_paper_path(tmp_path, "resnet-18", "shifts", epochs=2)
    check_paper_run(tmp_path, out)
