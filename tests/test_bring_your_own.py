"""Bring your own model and data, and audit a target trained outside the kit."""
import os
import sys

import numpy as np
import pandas as pd
import papermill as pm
import pytest
from conftest import write_image_folder
import torch

from mialth_utils.attacks.lira import LiRA
from mialth_utils.attacks.threshold import LossAttack
from mialth_utils.config import study_spec
from mialth_utils.data.registry import load_dataset
from mialth_utils.evaluation.target_audit import ExternalTargetSet, audit_target, external_pool
from mialth_utils.modelsets import ModelSet, ModelSetSpec
from mialth_utils.paths import PROJECT_ROOT
from mialth_utils.training.loop import TrainSpec

MODULE = '''
from torch import nn


class TinyNet(nn.Module):
    """A user's architecture, defined outside the kit."""

    def __init__(self, input_shape, n_classes):
        super().__init__()
        c, h, w = input_shape
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 96), nn.ReLU(), nn.Linear(96, n_classes))

    def forward(self, x):
        return self.body(x)


def tiny(input_shape, n_classes):
    return TinyNet(input_shape, n_classes)
'''


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    """``byo_models.py`` in a folder outside the package, on sys.path here and on the kernel's PYTHONPATH."""
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "byo_models.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))
    yield "byo_models:tiny"
    sys.modules.pop("byo_models", None)


def _train_outside_the_kit(members: np.ndarray, epochs: int, seed: int = 3):
    """A plain torch loop (no kit training code): SGD on the kit's normalised inputs."""
    import byo_models

    data = load_dataset("fake", seed=0)
    torch.manual_seed(seed)
    net = byo_models.tiny(data.input_shape, data.n_classes)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    x, y = data.normalise(data.train_x[members]), data.train_y[members]
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[batch]), y[batch]).backward()
            opt.step()
    return net, data


def test_factory_string_builds_a_model_set_and_names_the_run(user_module, tmp_path):
    spec = study_spec("smoke", model=user_module, results_dir=str(tmp_path / "r"), n_models=3, epochs=1)
    models = ModelSet(spec.models, cache_dir=tmp_path / "cache")
    assert type(models.make_net(0)).__name__ == "TinyNet"
    assert ":" not in spec.run_id and "byo_models.tiny" in spec.run_id


def test_imagefolder_path_and_image_size_are_parameters_and_hashed(tmp_path):
    write_image_folder(tmp_path / "imgs", size=40, n_classes=2)
    spec = study_spec("smoke", "imagefolder", data_path=str(tmp_path / "imgs"), image_size=8, n_pool=20,
                      n_population=4, results_dir=str(tmp_path / "r"))
    models = ModelSet(spec.models, cache_dir=tmp_path / "cache")
    assert models.data.input_shape == (3, 8, 8)
    other = study_spec("smoke", "imagefolder", data_path=str(tmp_path / "imgs"), image_size=16, n_pool=20,
                       n_population=4, results_dir=str(tmp_path / "r"))
    assert spec.settings_hash != other.settings_hash
    assert {"data_path", "image_size"} <= set(spec.models.to_dict())
    assert "data_path" not in study_spec("smoke").models.to_dict()


def test_external_pool_is_balanced_and_disjoint():
    members = np.arange(0, 300, 3)
    pool, population, member = external_pool(1000, members, 50, seed=0)
    assert member.sum() == (~member).sum() == 100 and set(pool[member]) == set(members)
    assert len(population) == 50 and not set(population) & set(pool)
    with pytest.raises(ValueError, match="non-members"):
        external_pool(100, np.arange(60), 0, seed=0)


def test_audit_of_saved_logits_never_shows_the_target_membership_to_an_attack(user_module, tmp_path):
    members = np.sort(np.random.default_rng(0).choice(2000, 200, replace=False))
    net, data = _train_outside_the_kit(members, epochs=20)
    with torch.no_grad():
        np.save(tmp_path / "logits.npy", net(data.normalise(data.train_x)).numpy())
    spec = ModelSetSpec(dataset="fake", model=user_module, n_models=5, n_population=100,
                        train=TrainSpec(epochs=20, batch_size=64, lr=0.05))
    game = ExternalTargetSet(spec, members, cache_dir=tmp_path / "cache").build()
    assert not game.artifact(0, 0).done  # the target is never trained by the kit
    assert all(game.artifact(m, 0).done for m in range(1, 5))
    logits, info = game.target_logits(logits_path=str(tmp_path / "logits.npy"))
    data_ = game.attack_data(logits, 0)
    assert data_.queries == ("id",) and data_.ref_logits.shape[1] == 1
    np.testing.assert_array_equal(data_.ref_keep, game.membership.keep[1:])  # row 0 (the target) never enters
    assert (game.membership.keep[1:].sum(1) == 200).all()  # each reference: an independent half of the pool
    assert game.membership.keep[1:].sum(0).max() > 2  # binomial IN counts (exchangeable rows), not balanced columns
    rows, scores, _ = audit_target(game, [LossAttack(), LiRA(online=True)], logits_path=str(tmp_path / "logits.npy"),
                                   n_boot=20)
    assert info["target_source"] == "logits" and info["train_acc"] > info["nonmember_pool_acc"]
    assert (rows["auc"] > 0.6).all(), rows[["attack", "auc"]]


@pytest.mark.slow
def test_user_model_trained_outside_the_kit_is_audited_through_papermill(user_module, tmp_path):
    """A model class outside the package, trained by a plain loop, audited by notebook 09 in a fresh kernel."""
    members = np.sort(np.random.default_rng(1).choice(2000, 400, replace=False))
    net, _ = _train_outside_the_kit(members, epochs=30)
    torch.save(net.state_dict(), tmp_path / "state.pt")
    np.save(tmp_path / "members.npy", members)
    results = tmp_path / "results"
    pm.execute_notebook(str(PROJECT_ROOT / "notebooks" / "09_audit_your_model.ipynb"), str(tmp_path / "out.ipynb"),
                        parameters={"profile": "smoke", "dataset": "fake", "model": user_module,
                                    "target_state": str(tmp_path / "state.pt"), "members": str(tmp_path / "members.npy"),
                                    "results_dir": str(results),
                                    "recipe": {"epochs": 30, "lr": 0.05, "batch_size": 64}},
                        progress_bar=False, kernel_name="python3")
    audit = pd.read_csv(next((results / "experiments" / "audit").glob("*/audit.csv")))
    refs = pd.read_csv(next((results / "experiments" / "audit").glob("*/audit_references.csv")))
    assert len(audit) == 13 and ("error" not in audit or audit["error"].isna().all())
    assert (audit["target_source"] == "state_dict").all() and (audit["model_arch"] == user_module).all()
    assert (audit["n_refs"] == 4).all() and (audit["n_in"] == 400).all() and (audit["n_out"] == 400).all()
    assert audit["auc"].max() > 0.6  # the target memorised its members
    assert len(refs) == 4 and refs["n_train"].between(360, 440).all()
    assert list((results / "figures").glob("*_audit_roc.png"))
    from mialth_utils.reporting.report import write_report

    report = write_report(results).read_text()  # every audit column is in the data dictionary
    assert "## Audits of external targets" in report and "state_dict, level 0" in report


@pytest.mark.parametrize("kind", ["state_path", "logits_path"])
def test_a_damaged_target_file_names_itself_and_what_to_do(tmp_path, kind):
    """The audited target's own files cannot be rebuilt by the kit: a damaged one gives CorruptArtifactError
    naming the file and saying to write it again (not a raw unpickling / zip error)."""
    from mialth_utils.store import CorruptArtifactError

    members = np.arange(0, 400, 2)
    spec = ModelSetSpec(dataset="fake", model="mlp", n_models=3, n_population=50, train=TrainSpec(epochs=1))
    game = ExternalTargetSet(spec, members, cache_dir=tmp_path / "cache")
    path = tmp_path / ("target.pt" if kind == "state_path" else "logits.npy")
    if kind == "state_path":
        torch.save(game.make_net(0).state_dict(), path)
    else:
        np.save(path, np.zeros((len(game.data.train_y), game.data.n_classes), np.float32))
    raw = bytearray(path.read_bytes())
    path.write_bytes(bytes(raw[: len(raw) // 2]))  # truncated
    with pytest.raises(CorruptArtifactError, match="write it again") as err:
        game.target_logits(**{kind: str(path)})
    assert str(path) in str(err.value)
