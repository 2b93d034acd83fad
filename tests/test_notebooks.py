"""Every notebook: structure, no committed outputs, and a papermill smoke run asserting on what it recorded."""
import json

import nbformat
import pandas as pd
import papermill as pm
import pytest

from mialth_utils.sweep import NOTEBOOKS, run_study

COMMON = {"dataset", "model", "seed", "device", "profile", "results_dir"}
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_notebooks_exist_in_run_order():
    names = [p.stem for p in ALL]
    assert names[:4] == ["00_quickstart", "01_data_and_splits", "02_train_dense", "03_lth_attack"]
    assert "90_collect_results" in names and "08_explore" in names


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_structure_and_parameters(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], "exactly one parameters cell, the first code cell"
    assert COMMON <= set(pm.inspect_notebook(str(path))), "common parameters missing"
    for line in tagged[0].source.splitlines():
        assert "# help:" in line, f"parameter without help comment: {line}"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(len(c.source.splitlines()) <= 15 for c in code), "a code cell over 15 lines belongs in the package"
    assert not any(line.lstrip().startswith(("def ", "class ")) for c in code for line in c.source.splitlines())


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    """What nbstripout --verify checks: no outputs, no execution counts."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs: run nbstripout"


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory):
    results = tmp_path_factory.mktemp("smoke_results")
    report = run_study("smoke", str(results))
    return results, report


def test_smoke_study_runs_every_notebook(smoke_study):
    results, report = smoke_study
    assert report.ok, report.summary()
    assert len(report.done) == len([p for p in ALL if p.stem != "08_explore"])
    assert json.loads((results / "study_log.json").read_text())["profile"] == "smoke"


def test_smoke_study_recorded_sensible_values(smoke_study):
    results, _ = smoke_study
    exp = results / "experiments"
    for name in ("data_and_splits", "train_dense", "lth_attack", "class_count", "transfer", "trajectories"):
        (metrics,) = list((exp / name).glob("*/metrics.json"))
        info = json.loads(metrics.read_text())
        assert info["torch"] and info["git_sha"] and info["wall_seconds"] > 0
        assert (metrics.parent / "params.json").exists()
    acc = pd.read_csv(next(exp.glob("lth_attack/*/accuracy.csv")))
    imp = acc[acc["branch"] == "imp"].sort_values("level")
    assert imp["sparsity"].is_monotonic_increasing and imp["sparsity"].iloc[-1] == pytest.approx(0.36, abs=1e-3)
    assert set(acc["branch"]) == {"imp", "random_mask", "random_reinit"}
    attacks = pd.read_csv(next(exp.glob("lth_attack/*/attacks.csv")))
    assert attacks["auc"].between(0, 1).all() and attacks["error"].isna().all() if "error" in attacks else True
    assert len(attacks) == 13 * 3 and (attacks["n_in"] == attacks["n_out"]).all()
    assert (attacks["auc_ci_low"] <= attacks["auc"]).all() and (attacks["auc"] <= attacks["auc_ci_high"]).all()
    transfer = pd.read_csv(next(exp.glob("transfer/*/transfer.csv")))
    assert set(transfer["target_model"]) == {"mlp", "lenet-300-100"}


def test_smoke_study_wrote_report_tables_and_figures(smoke_study):
    results, _ = smoke_study
    report = (results / "report.md").read_text()
    for claim in ("C1", "C2", "C3", "C4", "C5"):
        assert f"## {claim}" in report
    assert "(not run in this study)" not in report
    assert (results / "tables" / "attacks.csv").exists()
    for fig in ("fig_c1_accuracy_fake_mlp", "fig_c3_classes", "fig_c5_transfer", "fig_c4_tpr01_fake_mlp"):
        assert (results / "figures" / f"{fig}.png").stat().st_size > 1000
        assert (results / "figures" / f"{fig}.pdf").exists()


def test_explore_notebook_runs_over_results(smoke_study, tmp_path):
    results, _ = smoke_study
    pm.execute_notebook(str(NOTEBOOKS / "08_explore.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False,
                        parameters={"profile": "smoke", "results_dir": str(results)})


def test_papermill_from_any_cwd(tmp_path, monkeypatch):
    """Paths never depend on the caller's working directory."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "q.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / "00_quickstart.ipynb"), str(out), progress_bar=False,
                        parameters={"profile": "smoke", "n_levels": 1, "results_dir": str(tmp_path / "r")})
    nb = nbformat.read(out, as_version=4)
    assert any("auc" in json.dumps(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")


def test_missing_data_set_fails_with_a_clear_message(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="cifar100|CIFAR100"):
        pm.execute_notebook(str(NOTEBOOKS / "03_lth_attack.ipynb"), str(tmp_path / "o.ipynb"), progress_bar=False,
                            parameters={"dataset": "cifar100", "profile": "smoke", "results_dir": str(tmp_path)})
