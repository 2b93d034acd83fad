"""The experiment registry is the one home of what each experiment builds, writes and claims: the plan
derives its model sets from it (a set an experiment builds but the plan omits fails here), every
notebook of the study has its experiment, a claim's text exists once, stored-artefact hashes stay
pinned, and modules and functions stay of bounded size (import cycles: tests/test_structure.py)."""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from mialth_utils import experiments as E
from mialth_utils.config import study_spec
from mialth_utils.modelsets import CompressedModelSet, ModelSet, ModelSetSpec
from mialth_utils.plan import dataset_facts, planned_sets
from mialth_utils.reporting import dictionary, verdicts
from mialth_utils.sparsity.compress import Compression
from mialth_utils.training.loop import TrainSpec

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mialth_utils"
SMOKE = {"profile": "smoke", "dataset": "fake", "model": "mlp", "seed": 0}


def test_every_study_notebook_has_one_experiment_and_names_are_unique():
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    declared = [e.notebook for e in E.REGISTRY]
    assert len(declared) == len(set(declared))
    assert notebooks - set(declared) == {"08_explore", "90_collect_results"}  # browse and collect: no experiment
    tables = [t.name for e in E.REGISTRY for t in e.tables]
    assert len(tables) == len(set(tables)), "two experiments write a table of one name"
    claims = [c.id for e in E.REGISTRY for c in e.claims]
    assert sorted(claims) == sorted(set(claims)) == ["C1", "C2", "C3", "C4", "C5", "E6", "E6Q", "E8"]


def test_claim_texts_exist_once_in_the_package():
    sources = {p: p.read_text() for p in PACKAGE.rglob("*.py")}
    for claim in verdicts.claims():
        probe = claim.text[:55]  # the start of its one string literal
        homes = [p for p, text in sources.items() if probe in text]
        assert homes == [PACKAGE / "claims" / f"{claim.id.lower()}.py"], (claim.id, homes)


def test_every_documented_table_belongs_to_an_experiment_or_the_collector():
    collected = {"runs", "verdicts"}
    committed = {p.stem for p in (ROOT / "results" / "tables").glob("*.csv")}
    declared = {t.name for e in E.REGISTRY for t in e.tables} | collected
    assert committed <= declared, committed - declared
    assert set(dictionary.MODEL_TABLES) == {t.name for e in E.REGISTRY for t in e.tables if t.of_models}


class _Recorded(Exception):
    pass


def _record_builds(monkeypatch) -> list:
    """Make every model-set build record (spec, compression) and stop the run there."""
    built = []

    def model_set_build(self, workers=None, scheduler=None):
        built.append((self.spec, None))
        raise _Recorded

    def compressed_build(self, workers=None, scheduler=None):
        built.append((self.base.spec, self.compression))
        raise _Recorded

    monkeypatch.setattr(ModelSet, "build", model_set_build)
    monkeypatch.setattr(CompressedModelSet, "build", compressed_build)
    return built


@pytest.mark.parametrize("experiment", [e for e in E.REGISTRY if e.notebook not in ("01_data_and_splits",
                                                                                     "09_audit_your_model")],
                         ids=lambda e: e.notebook)
def test_an_experiment_builds_only_what_the_plan_lists(experiment, monkeypatch, tmp_path):
    """The first set each run builds (its run stops there) is one the plan lists for its notebook."""
    params = {**SMOKE, "results_dir": str(tmp_path)}
    spec = experiment.spec_for(params)
    planned = {(p.models, p.compression) for p in planned_sets(experiment.notebook, params)}
    built = _record_builds(monkeypatch)
    run = getattr(E, {"train_dense": "dense_models", "compression": "compression_cmmia"}.get(experiment.name,
                                                                                            experiment.name))
    with pytest.raises(_Recorded):
        run(spec)
    assert built and set(built) <= planned, (built, planned)


def test_the_plan_covers_notebooks_09_and_10_and_counts_their_sets(tmp_path):
    params = {**SMOKE, "results_dir": str(tmp_path)}
    defence = planned_sets("10_defences", params)
    assert len(defence) == 6  # undefended, DP-SGD at epsilon 8, PPB, label smoothing, weight decay, early stopping
    assert len({p.models.train for p in defence}) == len(defence)
    audit = planned_sets("09_audit_your_model", params)
    assert len(audit) == 1 and audit[0].trained_rows == tuple(range(1, audit[0].models.n_models))
    game = audit[0].game("cpu", tmp_path / "cache")
    assert game.membership.keep.shape[0] == audit[0].models.n_models


@pytest.mark.parametrize("name", ["fake", "digits", "fashion-mnist", "cifar10", "cifar100", "mnist"])
def test_dataset_facts_come_from_the_registry_or_the_published_format(name):
    shape, n_classes = dataset_facts(ModelSetSpec(dataset=name))
    assert len(shape) == 3 and n_classes >= 10


def test_dataset_facts_of_an_imagefolder_are_read_from_its_folders(tmp_path):
    from conftest import write_image_folder

    write_image_folder(tmp_path / "images", 40, 4)
    shape, n_classes = dataset_facts(ModelSetSpec(dataset="imagefolder", data_path=str(tmp_path / "images"),
                                                  image_size=16))
    assert shape == (3, 16, 16) and n_classes == 4


def test_an_absent_imagefolder_is_not_guessed(tmp_path, monkeypatch):
    from mialth_utils.data.files import DataNotFoundError

    with pytest.raises(DataNotFoundError):
        dataset_facts(ModelSetSpec(dataset="imagefolder", data_path=str(tmp_path / "nothing")))


def test_store_hashes_are_pinned(tmp_path):
    """Artefact hashes of a model level, a control-free IMP level and a compressed model: renaming a
    field or a key of the hashed spec (e.g. the old ``population`` key) must not move them. (Moved once on
    purpose, by issue 20's exchangeable keep-matrix: every keep row, hence every key, is new.)"""
    spec = ModelSetSpec(dataset="fake", model="mlp", n_models=3, n_pool=200, n_population=50, n_levels=1,
                        train=TrainSpec(epochs=1))
    models = ModelSet(spec, "cpu", tmp_path)
    assert models.artifact(0, 0).hash == "b59dfcdb9f18b106"
    assert models.artifact(1, 1).hash == "53bc33386c4b15d7"
    assert CompressedModelSet(models, Compression("quant", 8)).artifact(0).hash == "f4839961d2aaee84"
    with_controls = ModelSet(dataclasses.replace(spec, controls=("random_mask",)), "cpu", tmp_path)
    assert with_controls.artifact(1, 1).hash == "53bc33386c4b15d7"  # controls do not change an IMP model


# Exceptions to the bounds, each with its reason (none today: long signatures carry their comment instead).
KNOWN: dict[str, str] = {}


def test_modules_and_functions_are_bounded():
    """No module over 400 lines; no function over 60 lines, or with more than 8 parameters unless the
    comment line above its ``def`` says why."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel, lines = str(path.relative_to(ROOT)), path.read_text().splitlines()
        if len(lines) > 400 and rel not in KNOWN:
            found.append(f"{rel}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or f"{rel}:{node.name}" in KNOWN:
                continue
            args = node.args
            n_params = len(args.posonlyargs + args.args + args.kwonlyargs) + bool(args.vararg) + bool(args.kwarg)
            n_params -= bool(args.args) and args.args[0].arg in ("self", "cls")
            explained = lines[node.lineno - 2].strip().startswith("#")
            if node.end_lineno - node.lineno + 1 > 60 or (n_params > 8 and not explained):
                found.append(f"{rel}:{node.name} ({node.end_lineno - node.lineno + 1} lines, {n_params} parameters)")
    assert not found, found


def test_notebook_api_is_unchanged():
    """Every function the notebooks call on ``E`` is there and callable."""
    for name in ("quickstart", "data_and_splits", "dense_models", "lth_attack", "class_count", "transfer",
                 "compression_cmmia", "trajectories", "audit_sizes", "audit_your_model", "train_demo_target",
                 "defence_sizes", "defences", "model_set", "sizes_for_subset"):
        assert callable(getattr(E, name)), name
    assert E.defence_sizes("quick", n_models=None)["n_models"] == 5
    assert study_spec(**SMOKE).profile == "smoke"
