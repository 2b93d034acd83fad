import sys
import nbformat
import numpy as np
import pandas as pd
import pytest
import torch

from mialth_utils import kernels, sweep
from mialth_utils.evaluation.analysis import trajectory_summary, transfer_matrix
from mialth_utils.config import study_spec
from mialth_utils.reporting.widgets import filter_attacks, render, settings_options


def tiny_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    p = nbformat.v4.new_code_cell("x = 1  # help: a number\nresults_dir = ''  # help: where")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell("assert x != 2, 'x must not be 2'")]
    nbformat.write(nb, path)


def test_sweep_keeps_going_after_a_failure_and_skips_done_runs(tmp_path):
    tiny_notebook(tmp_path / "nb.ipynb")
    report = sweep.run_grid([tmp_path / "nb.ipynb"], {"x": [1, 2, 3]}, results_dir=tmp_path / "res")
    assert len(report.done) == 2 and len(report.failed) == 1 and not report.ok
    assert "x must not be 2" in next(iter(report.failed.values()))
    assert len(list((tmp_path / "res" / "runs").glob("*.ipynb"))) == 3
    assert {p.stem for p in (tmp_path / "res" / "runs").glob("*.ipynb")} == set(report.done) | set(report.failed)
    again = sweep.run_grid([tmp_path / "nb.ipynb"], {"x": [1, 2, 3]}, results_dir=tmp_path / "res")
    assert len(again.skipped) == 2 and len(again.failed) == 1  # the failed run is tried again
    assert "1 failed" in again.summary()


def test_sweep_command_line(tmp_path):
    tiny_notebook(tmp_path / "nb.ipynb")
    assert sweep.main(["run", str(tmp_path / "nb.ipynb"), "-p", "x=1,3", "--results-dir", str(tmp_path / "r")]) == 0
    assert sweep.main(["run", str(tmp_path / "nb.ipynb"), "-p", "x=2", "--results-dir", str(tmp_path / "r")]) == 1
    assert sweep.expand_grid({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


def test_sweep_kernels_are_not_interrupted_at_shutdown_and_do_not_warn(tmp_path, monkeypatch, capfd):
    """No SIGINT to a kernel that finished (it logged 'KeyboardInterrupt caught in kernel'); the kernel's
    transport encrypted where pyzmq has CurveZMQ (else ipykernel warns about plain TCP on every run)."""
    import zmq

    signals, started = [], []
    pre_start = kernels.QuietKernelManager._async_pre_start_kernel

    async def spy_signal(self, signum):
        signals.append(signum)

    async def spy_start(self, **kw):
        started.append((self.kernel_name, getattr(self, "transport_encryption", None)))
        return await pre_start(self, **kw)

    monkeypatch.setattr(kernels.QuietKernelManager, "_async_signal_kernel", spy_signal)
    monkeypatch.setattr(kernels.QuietKernelManager, "_async_pre_start_kernel", spy_start)
    tiny_notebook(tmp_path / "nb.ipynb")
    assert sweep.run_grid([tmp_path / "nb.ipynb"], {"x": [1]}, results_dir=tmp_path / "res").ok
    assert signals == []
    assert [name for name, _ in started] == ["mialth" if kernels.has_kernel("mialth") else "python3"]
    err = capfd.readouterr().err
    assert "KeyboardInterrupt" not in err
    if zmq.has("curve") and "transport_encryption" in kernels.AsyncKernelManager.class_trait_names():
        assert started[0][1] == "auto" and "without encryption" not in err


def test_study_spec_defaults_overrides_and_errors(tmp_path):
    spec = study_spec("quick", results_dir=str(tmp_path))
    assert spec.dataset == "fashion-mnist" and spec.models.model == "lenet-300-100"
    spec = study_spec("smoke", "digits", n_levels=1, epochs=3, n_models=None, results_dir=str(tmp_path))
    assert spec.models.dataset == "digits" and spec.models.n_levels == 1 and spec.models.train.epochs == 3
    assert spec.models.n_models == 5  # None keeps the profile default
    with pytest.raises(ValueError, match="unknown profile"):
        study_spec("huge")
    with pytest.raises(TypeError, match="seed must be int"):
        study_spec("smoke", seed="0")
    with pytest.raises(ValueError, match="prune_frac"):
        study_spec("smoke", prune_frac=1.5)
    with pytest.raises(ValueError, match="unknown parameter.*n_level"):
        study_spec("smoke", n_level=3)  # a typo is an error, never silently dropped


def test_run_identity_separates_settings_and_groups_replicates(tmp_path):
    base = study_spec("smoke", results_dir=str(tmp_path))
    replicate = study_spec("smoke", seed=1, results_dir=str(tmp_path))
    other = study_spec("smoke", n_levels=1, results_dir=str(tmp_path))
    elsewhere = study_spec("smoke", results_dir=str(tmp_path / "x"), workers=2, device="cpu")
    assert base.settings_hash == replicate.settings_hash == elsewhere.settings_hash
    assert base.run_id != replicate.run_id and base.run_id != other.run_id
    assert base.settings_hash != other.settings_hash and base.run_id == elsewhere.run_id
    assert base.run_id.startswith("fake_mlp_smoke_seed0_")


def test_every_profile_names_class_counts_its_data_sets_have():
    assert study_spec("paper").class_counts == (2, 5, 10)  # CIFAR-10
    assert study_spec("paper", dataset="cifar100").class_counts == (10, 20, 50, 100)
    assert study_spec("paper").models.n_population > 0  # RMIA and CM-MIA need population data


def test_trajectory_summary_on_a_known_case():
    n = 100
    member = np.arange(n) < 50
    level0 = np.arange(n, dtype=float)[::-1]  # examples 0..4 have the top scores
    level1 = level0.copy()
    level1[[0, 1]], level1[[10, 11]] = level0[[10, 11]], level0[[0, 1]]  # 0,1 leave the top 5; 10,11 enter
    scores = pd.concat([pd.DataFrame({"example": range(n), "level": lvl, "score": s, "member": member,
                                      "label": np.arange(n) % 2}) for lvl, s in ((0, level0), (1, level1))])
    summary, per_class = trajectory_summary(scores, top_frac=0.05)
    row = summary.iloc[0]
    assert row["newly_exposed"] == 2 and row["newly_protected"] == 2 and row["exposed_both"] == 3
    assert 0.9 < row["spearman"] < 1
    assert set(per_class.columns) == {"label", "level", "exposed_frac"}


def test_transfer_diagonal_equals_direct_attack(small_model_set):
    from mialth_utils.attacks.lira import LiRA
    from mialth_utils.evaluation.metrics import evaluate
    from mialth_utils.signals import attack_data

    table = transfer_matrix(small_model_set, "lira_offline", levels=[0, 2])
    data = attack_data(small_model_set.at(2))
    direct = evaluate(LiRA(online=False).fit(data).score(data), small_model_set.membership.member_mask(0), n_boot=0)
    diag = table[(table["fit_level"] == 2) & (table["target_level"] == 2)]["auc"].iloc[0]
    assert diag == pytest.approx(direct["auc"]) and len(table) == 4


def test_widget_callbacks():
    df = pd.DataFrame({"dataset": ["a", "a", "b", "a"], "model_arch": ["m", "m", "m", "m"],
                       "settings_hash": ["h1", "h1", "h2", "h1"], "seed": [0, 0, 0, 0],
                       "attack": ["loss", "rmia", "loss", "loss"], "level": [0, 0, 0, 3],
                       "sparsity": [0, 0, 0, 0.5], "auc": [0.6, 0.7, 0.8, 0.65], "gap": [0.1, 0.1, 0.1, 0.2]})
    assert settings_options(df) == {"a / m / h1 (1 seeds)": "h1", "b / m / h2 (1 seeds)": "h2"}
    assert len(filter_attacks(df, "h1", ["loss"], (0, 3))) == 2
    assert len(filter_attacks(df, "h1", None, (1, 3))) == 1
    fig = render(df, "auc", "h1", ["loss"], (0, 3))
    assert fig.axes and len(fig.axes[0].lines) >= 1
    with pytest.raises(ValueError, match="nothing matches"):
        render(df, "auc", "h2", ["rmia"], (0, 3))


@pytest.mark.slow  # 60 s; test_executor checks the same bits on a Dask cluster for units of work
def test_a_seed_sweep_on_a_dask_cluster_equals_the_sequential_sweep(tmp_path):
    from dask.distributed import LocalCluster

    grid, base = {"seed": [0, 1]}, {"profile": "smoke", "n_levels": 1}
    seq = sweep.run_grid(["03_lth_attack"], grid, base=base, results_dir=tmp_path / "seq", workers=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        par = sweep.run_grid(["03_lth_attack"], grid, base=base, results_dir=tmp_path / "dask",
                             scheduler=cluster.scheduler_address)
    assert seq.ok and par.ok and sorted(seq.done) == sorted(par.done)
    for folder in sorted((tmp_path / "seq" / "experiments" / "lth_attack").iterdir()):
        a = pd.read_csv(folder / "attacks.csv").drop(columns="seconds")
        b = pd.read_csv(tmp_path / "dask" / "experiments" / "lth_attack" / folder.name / "attacks.csv")
        pd.testing.assert_frame_equal(a, b.drop(columns="seconds"))


def test_plan_counts_each_model_level_once_and_sees_the_store(tmp_path):
    from mialth_utils import experiments
    from mialth_utils.plan import plan

    params = {"profile": "smoke", "dataset": "fake", "model": "mlp", "seed": 0, "results_dir": str(tmp_path)}
    runs = [("03_lth_attack", params), ("07_sample_trajectories", params)]
    before = plan(runs).set_index("notebook")
    spec = study_spec(**params)
    chain = spec.models.n_models * (spec.models.n_levels + 1) + 2 * spec.models.n_levels  # controls: target only
    assert before.loc["03_lth_attack", "to_train"] == chain
    assert before.loc["07_sample_trajectories", "to_train"] == 0  # the same IMP models: counted once
    assert before.loc["03_lth_attack", "est_minutes"] > 0
    # its arithmetic: 3 forward passes an example-epoch (forward, input and weight gradients), 1 a prediction
    weights = sum(m.weight.numel() for m in experiments.model_set(spec, build=False).make_net(0).modules()
                  if isinstance(m, torch.nn.Linear))
    predictions = chain * len(spec.models.view_names) * (spec.models.n_pool + spec.models.n_population)
    row = before.loc["03_lth_attack"]
    assert row["tflop"] * 1e12 == pytest.approx(2 * weights * (3 * row["example_epochs"] + predictions), rel=1e-9)
    assert 0 < row["floor_minutes"] < row["est_minutes"] * 2  # arithmetic alone, at the same-shape matmul rate
    experiments.model_set(spec, controls=("random_mask", "random_reinit"))
    after = plan(runs).set_index("notebook")
    assert after["to_train"].sum() == 0 and after.loc["03_lth_attack", "stored"] == chain


def test_a_kernelspec_of_another_python_is_not_used(monkeypatch):
    """``make setup`` of a second clone re-points the user's "mialth" kernelspec to its own venv: a sweep of
    this clone must then not run its notebooks with the other clone's code."""
    from types import SimpleNamespace

    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.setattr(KernelSpecManager, "find_kernel_specs", lambda self: {"mialth": "/somewhere"})
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec",
                        lambda self, name: SimpleNamespace(argv=["/another/clone/.venv/bin/python", "-m", "ipykernel"]))
    assert not kernels.has_kernel("mialth") and kernels.kernel_name() == "python3"
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec",
                        lambda self, name: SimpleNamespace(argv=[sys.executable, "-m", "ipykernel"]))
    assert kernels.kernel_name() == "mialth"
