"""Figures built from small synthetic tables shaped like the study's CSVs (their columns: results/tables/README.md)."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from scipy import stats
from sklearn.metrics import roc_curve

from mialth_utils.reporting import plots

ID = {"experiment": "lth_attack", "dataset": "fake", "model_arch": "mlp", "profile": "smoke",
      "settings_hash": "abc123"}
SEEDS = (0, 1, 2)
LEVELS = (0, 1, 2, 3)


def sparsity_of(level):
    return 1 - 0.8 ** level


def attacks_table(attacks=("lira_online", "loss", "rmia"), failed=("lira_offline",)):
    rng = np.random.default_rng(0)
    rows = []
    for seed in SEEDS:
        for level in LEVELS:
            gap = 0.1 + 0.02 * level + rng.normal(0, 0.005)
            for attack in attacks + failed:
                auc = np.nan if attack in failed else 0.6 + 0.01 * level + rng.normal(0, 0.01)
                tpr = np.nan if attack in failed else max(0.0, 0.002 * level + rng.normal(0, 0.001))
                rows.append({**ID, "seed": seed, "run_id": f"r{seed}", "attack": attack, "level": level,
                             "branch": "imp", "sparsity": sparsity_of(level), "gap": gap, "n_in": 500,
                             "n_out": 500, "auc": auc, "auc_ci_low": auc - 0.02, "auc_ci_high": auc + 0.02,
                             "tpr@0.1%fpr": tpr, "tpr@1%fpr": tpr * 3,
                             "error": "needs 4 references" if attack in failed else None})
    return pd.DataFrame(rows)


def accuracy_table():
    rng = np.random.default_rng(1)
    rows = []
    for seed in SEEDS:
        for branch in ("imp", "random_mask", "random_reinit"):
            for level in LEVELS:
                if branch != "imp" and level == 0:
                    continue
                test = 0.9 - (0.0 if branch == "imp" else 0.03 * level) + rng.normal(0, 0.005)
                rows.append({**ID, "seed": seed, "branch": branch, "level": level, "sparsity": sparsity_of(level),
                             "train_acc": 1.0, "test_acc": test, "gap": 1.0 - test})
    return pd.DataFrame(rows)


def class_count_table():
    rng = np.random.default_rng(2)
    rows = []
    for seed in SEEDS[:2]:
        for level in (0, 3):
            for k in (2, 5, 10):
                for subset in range(2):
                    for attack in ("lira_online", "loss", "shokri"):
                        rows.append({**ID, "experiment": "class_count", "seed": seed, "attack": attack,
                                     "level": level, "n_classes": k, "subset": subset, "classes": "0,1",
                                     "auc": 0.5 + 0.01 * k + rng.normal(0, 0.01), "tpr@1%fpr": 0.01 * k,
                                     "tpr@0.1%fpr": 0.001 * k, "gap": 0.015 * k, "n_pool": 400})
    return pd.DataFrame(rows)


def transfer_table(models=(("mlp", "mlp"), ("mlp", "conv-2"))):
    rows = []
    for seed in SEEDS[:2]:
        for fit_arch, target_arch in models:
            for a in LEVELS:
                for b in LEVELS:
                    native = 0.62 + 0.001 * seed
                    cost = -0.02 * abs(a - b) - (0.01 if target_arch != fit_arch else 0.0)
                    rows.append({**ID, "experiment": "transfer", "seed": seed, "attack": "lira_offline",
                                 "fit_level": a, "target_level": b, "fit_arch": fit_arch, "target_arch": target_arch,
                                 "auc": 0.7, "balanced_acc_transferred": native + cost, "balanced_acc_native": native,
                                 "tpr@1%fpr": 0.02, "tpr@0.1%fpr": 0.002})
    return pd.DataFrame(rows)


def compression_tables():
    rng = np.random.default_rng(3)
    methods = ("prune-0.5", "quant-4", "distill-mlp-small")
    models, rows = [], []
    for seed in SEEDS[:2]:
        for i, method in enumerate(methods):
            models.append({**ID, "experiment": "compression", "seed": seed, "compression": method,
                           "method": method.split("-")[0], "test_acc": 0.85 - 0.01 * i, "train_acc": 0.99,
                           "gap": 0.14, "dense_test_acc": 0.86, "sparsity": 0.5 if i == 0 else 0.0})
            for shadows in ("matched", "mismatched"):
                for attack in ("loss", "lira_online", "cm_mia"):
                    auc = 0.6 + 0.02 * i + rng.normal(0, 0.01)
                    rows.append({**ID, "experiment": "compression", "seed": seed, "compression": method,
                                 "shadows": shadows, "attack": attack, "auc": auc, "tpr@1%fpr": 0.02 + 0.01 * i,
                                 "tpr@0.1%fpr": 0.002 * i, "n_in": 500})
    return pd.DataFrame(models), pd.DataFrame(rows)


def attack_lines(ax):
    """Lines that carry an attack's label (not the chance line, not the bands)."""
    labels = {plots.attack_style(a)["label"] for a in plots.ATTACK_LABELS}
    return [line for line in ax.get_lines()
            if any(line.get_label() == label or line.get_label().startswith(label + " (AUC") for label in labels)]


def test_attack_style_is_per_family_and_stable():
    online, offline, loss = (plots.attack_style(a) for a in ("lira_online", "lira_offline", "loss"))
    assert online["color"] == offline["color"] != loss["color"]
    assert online["marker"] == offline["marker"] != loss["marker"]
    assert online["linestyle"] != offline["linestyle"]
    assert online["label"] == "LiRA online"
    assert plots.attack_style("lira_online") == online
    colours = {plots.FAMILY_STYLE[f][0] for f in plots.FAMILY_STYLE}
    assert len(colours) == len(plots.FAMILY_STYLE)
    assert plots.attack_style("made_up")["color"] not in colours


def test_metric_labels_are_human():
    assert plots.metric_label("tpr@0.1%fpr") == "TPR at 0.1% FPR"
    assert plots.metric_label("gap") == "train-test gap"
    assert plots.chance_level("tpr@1%fpr") == pytest.approx(0.01)
    assert plots.chance_level("auc") == 0.5


def test_mean_interval_is_the_t_interval_and_one_seed_uses_bootstrap_ci():
    mean, low, high = plots.mean_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * np.std([1, 2, 3], ddof=1) / np.sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    one = pd.DataFrame({"level": [0], "auc": [0.6], "auc_ci_low": [0.55], "auc_ci_high": [0.66]})
    row = plots.aggregate(one, ["level"], "auc").iloc[0]
    assert (row["low"], row["high"]) == (0.55, 0.66)


def roc_curves(names=("lira_online", "loss"), n=400):
    rng = np.random.default_rng(4)
    member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    curves = {}
    for shift, name in enumerate(names):
        fpr, tpr, _ = roc_curve(member, rng.normal(size=2 * n) + (shift + 1) * 0.5 * member)
        curves[name] = {"fpr": fpr, "tpr": tpr}
    return curves


def test_roc_loglog_shades_unresolvable_fpr_and_states_auc():
    fig = plots.roc_loglog(roc_curves(), n_out=400, title="t")
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert len(attack_lines(ax)) == 2
    assert any(line.get_label().startswith("chance") for line in ax.get_lines())
    shaded = [p for p in ax.patches if "not resolvable" in p.get_label()]
    assert len(shaded) == 1
    extent = shaded[0].get_bbox()
    assert extent.x1 == pytest.approx(1 / 400)
    assert extent.x0 == pytest.approx(ax.get_xlim()[0])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("LiRA online (AUC" in t and "TPR@0.1% n/r" in t for t in legend)  # 400 non-members: 0.1% < 1/n_out
    loss_line = next(line for line in ax.get_lines() if line.get_label().startswith("Loss threshold"))
    assert to_hex(loss_line.get_color()) == to_hex(plots.attack_style("loss")["color"])
    plt.close(fig)


def test_roc_loglog_levels_use_a_sequential_map_with_colour_bar():
    curves = {f"level {i}": c for i, c in enumerate(roc_curves(("a", "b", "c")).values())}
    fig = plots.roc_loglog(curves, n_out=2000, sparsities={f"level {i}": sparsity_of(i) for i in range(3)})
    assert len(fig.axes) == 2  # the plot and its colour bar
    assert fig.axes[1].get_ylabel() == "weights remaining (%)"
    colours = [to_hex(line.get_color()) for line in fig.axes[0].get_lines()[:3]]
    cmap = matplotlib.colormaps[plots.SPARSITY_CMAP]
    assert len(set(colours)) == 3 and colours[0] == to_hex(cmap(1.0))  # the dense level takes the map's end
    assert "TPR@0.1% " in fig.axes[0].get_legend().get_texts()[0].get_text()
    plt.close(fig)


def test_roc_loglog_level_labels_without_sparsities_get_level_colours():
    curves = {f"level {i}": c for i, c in enumerate(roc_curves(("a", "b")).values())}
    fig = plots.roc_loglog(curves, n_out=2000)
    assert fig.axes[1].get_ylabel() == "IMP level"
    assert len({to_hex(line.get_color()) for line in fig.axes[0].get_lines()[:2]}) == 2
    plt.close(fig)


def test_roc_loglog_refuses_empty_curves():
    with pytest.raises(ValueError, match="no ROC curve"):
        plots.roc_loglog({"lira_online": {"fpr": [], "tpr": []}}, n_out=100)


def test_attack_vs_sparsity_axes_bands_chance_and_gap_panel():
    table = attacks_table()
    fig = plots.attack_vs_sparsity(table, "auc")
    ax, gap_ax = fig.axes
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()
    assert gap_ax.get_shared_x_axes().joined(ax, gap_ax)
    assert gap_ax.get_position().y1 < ax.get_position().y0  # the gap sits below, not on a twin axis
    assert gap_ax.get_ylabel().startswith("train-test gap")
    lines = attack_lines(ax)
    assert sorted(line.get_label() for line in lines) == sorted(["Loss threshold", "LiRA online", "RMIA"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "LiRA offline" not in legend  # it failed: no legend entry
    assert any(line.get_label().startswith("chance") and line.get_ydata()[0] == 0.5 for line in ax.get_lines())
    assert len(ax.collections) == 3  # one 95% band per attack
    online = table[(table["attack"] == "lira_online") & (table["level"] == 2)]["auc"]
    line = next(line for line in lines if line.get_label() == "LiRA online")
    assert line.get_ydata()[2] == pytest.approx(online.mean())
    assert line.get_xdata()[2] == pytest.approx(100 * 0.8 ** 2)
    assert ax.get_ylabel() == "AUC"
    plt.close(fig)


def test_attack_vs_sparsity_tpr_is_on_a_log_axis_with_tpr_equal_fpr_chance():
    fig = plots.attack_vs_sparsity(attacks_table(), "tpr@0.1%fpr")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "TPR at 0.1% FPR"
    chance = [line for line in ax.get_lines() if line.get_label().startswith("chance")]
    assert chance and chance[0].get_ydata()[0] == pytest.approx(0.001)
    plt.close(fig)


def test_attack_vs_sparsity_refuses_empty_and_mixed_runs():
    table = attacks_table()
    with pytest.raises(ValueError, match="no auc values"):
        plots.attack_vs_sparsity(table, "auc", attacks_shown=("lira_offline",))
    mixed = table.copy()
    mixed.loc[mixed["seed"] == 2, "model_arch"] = "conv-2"
    with pytest.raises(ValueError, match="several runs"):
        plots.attack_vs_sparsity(mixed, "auc")


def test_same_attack_same_colour_in_two_figures():
    roc = plots.roc_loglog(roc_curves(), n_out=400)
    curve = plots.attack_vs_sparsity(attacks_table(), "auc")

    def pick(fig):
        return next(to_hex(line.get_color()) for line in fig.axes[0].get_lines()
                    if line.get_label().startswith("LiRA online"))

    assert pick(roc) == pick(curve) == to_hex(plots.attack_style("lira_online")["color"])
    plt.close("all")


def test_accuracy_vs_sparsity_dense_reference_and_error_bars():
    table = accuracy_table()
    fig = plots.accuracy_vs_sparsity(table)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()
    dense = 100 * table[(table["branch"] == "imp") & (table["level"] == 0)]["test_acc"].mean()
    reference = [line for line in ax.get_lines() if line.get_label().startswith("dense")]
    assert reference and reference[0].get_ydata()[0] == pytest.approx(dense)
    band = [p for p in ax.patches if p.get_bbox().height > 0]
    assert any(p.get_bbox().y0 == pytest.approx(dense - 1) and p.get_bbox().y1 == pytest.approx(dense + 1)
               for p in band)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"IMP (lottery ticket)", "random mask (control)", "random re-init (control)"} <= set(legend)
    assert len(ax.containers) == 3  # one errorbar container per branch
    plt.close(fig)


def test_attack_vs_classes_points_intervals_chance_and_gap():
    table = class_count_table()
    fig = plots.attack_vs_classes(table)
    assert len(fig.axes) == 4  # two levels x (metric, gap)
    top = fig.axes[0]
    assert any(line.get_label().startswith("chance") for line in top.get_lines())
    n_points = sum(len(c.get_offsets()) for c in top.collections if isinstance(c, PathCollection))
    assert n_points == len(table[(table["level"] == 0)].groupby(["attack", "seed", "n_classes"]))  # a dot per seed
    assert "TPR" in top.get_ylabel() or "tpr" in top.get_ylabel().lower()  # the plan's primary metric by default
    legend = [text.get_text() for text in fig.axes[1].get_legend().get_texts()]
    assert any("hokri" in label for label in legend)  # Shokri's shadow classifier is shown
    assert fig.axes[2].get_ylabel().startswith("train-test gap")
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["2", "5", "10"]
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.attack_vs_classes(table, attacks_shown=("rmia",))


def test_transfer_cost_is_balanced_accuracy_against_native_per_pair():
    cost = plots.transfer_cost(transfer_table())
    same = cost[(cost["target_arch"] == "mlp") & (cost["fit_level"] == 0) & (cost["target_level"] == 2)]
    assert same["cost"].to_numpy() == pytest.approx([-0.04, -0.04])
    assert same["margin"].to_numpy() == pytest.approx([0.25 * 0.12, 0.25 * 0.121])
    cross = cost[(cost["target_arch"] == "conv-2") & (cost["fit_level"] == 1) & (cost["target_level"] == 1)]
    assert cross["cost"].to_numpy() == pytest.approx([-0.01, -0.01])  # cross-architecture same level: a pair
    own_diagonal = cost[(cost["target_arch"] == "mlp") & (cost["fit_level"] == cost["target_level"])]
    assert own_diagonal.empty and (cost["baseline"] == "balanced_acc_native").all()


def test_transfer_cost_heatmap_one_shared_diverging_scale():
    fig = plots.transfer_cost_heatmap(transfer_table(), "lira_offline")
    panels = [ax for ax in fig.axes if "transfer cost" not in ax.get_ylabel()]  # the colour bar's axes left out
    images = [mesh for ax in panels for mesh in ax.collections]  # one seaborn heatmap (a QuadMesh) per panel
    assert len(images) == 2
    norms = {(image.norm.vmin, image.norm.vmax, image.norm.vcenter) for image in images}
    assert len(norms) == 1 and next(iter(norms))[2] == 0.0
    colour_bars = [ax for ax in fig.axes if "transfer cost" in ax.get_ylabel()]
    assert len(colour_bars) == 1
    assert fig.get_size_inches()[0] <= 9.5
    norm = images[0].norm
    assert norm.vmin <= -0.25 * 0.12 and norm.vmax >= 0.25 * 0.12  # the scale covers the margin
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.transfer_cost_heatmap(transfer_table(), "rmia")
    with pytest.raises(ValueError, match="balanced_acc_transferred"):
        plots.transfer_cost_heatmap(transfer_table().drop(columns="balanced_acc_transferred"))


def test_compression_panel_dots_not_bars_y_not_from_zero():
    _, compression = compression_tables()
    fig = plots.compression_panel(compression, attacks_shown=("loss", "lira_online", "cm_mia"))
    assert len(fig.axes) == 4  # two shadow settings x (AUC, TPR)
    auc_ax, tpr_ax = fig.axes[0], fig.axes[1]
    assert not auc_ax.patches  # no bars
    assert auc_ax.get_ylim()[0] > 0.3
    assert tpr_ax.get_yscale() == "log"
    assert any(line.get_label().startswith("chance") for line in auc_ax.get_lines())
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["prune-0.5", "quant-4", "distill-mlp-small"]
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.compression_panel(compression, attacks_shown=("samia",))


def test_frontier_points_and_figure():
    models, compression = compression_tables()
    points = plots.frontier_points(accuracy_table(), attacks_table(), models, compression, attack="lira_online")
    assert set(points["kind"]) == {"imp", "compression"}
    assert len(points[points["kind"] == "compression"]) == 3 * 2  # matched shadows only, 2 seeds
    assert points["test_acc"].notna().all()
    imp_l2 = points[(points["kind"] == "imp") & (points["label"] == "L2")]
    acc = accuracy_table()
    assert imp_l2["test_acc"].mean() == pytest.approx(
        acc[(acc["branch"] == "imp") & (acc["level"] == 2)]["test_acc"].mean())
    fig = plots.privacy_utility_frontier(points)
    tpr_ax, auc_ax = fig.axes[:2]
    assert tpr_ax.get_yscale() == "log" and auc_ax.get_ylabel() == "AUC"
    assert tpr_ax.get_xlabel() == "test accuracy (%)"
    assert any(ax.get_ylabel() == "weights remaining (%)" for ax in fig.axes[2:])  # the colour bar
    labels = {t.get_text() for t in auc_ax.texts}
    assert {"L0", "L3", "quant-4"} <= labels
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.privacy_utility_frontier(points.iloc[0:0])


def test_keep_matrix_sets_the_target_apart_without_grid():
    rng = np.random.default_rng(5)
    keep = rng.uniform(size=(5, 200)) < 0.5
    fig = plots.keep_matrix(keep, n_show=60)
    target_ax, refs_ax = fig.axes
    assert [t.get_text() for t in target_ax.get_yticklabels()] == ["target"]
    assert target_ax.get_images()[0].get_array().shape == (1, 60)
    assert refs_ax.get_images()[0].get_array().shape == (4, 60)
    for ax in fig.axes:
        assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0].startswith("IN") and legend[1] == "OUT"
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.keep_matrix(np.zeros((0, 0), bool))


def trajectory_tables():
    summary = pd.DataFrame({"attack": "lira_online", "from_level": [0, 1, 2], "to_level": [1, 2, 3],
                            "spearman": [0.7, 0.8, 0.85], "newly_exposed": [10, 8, 6],
                            "newly_protected": [12, 7, 5], "exposed_both": [30, 33, 35]})
    per_class = pd.DataFrame([{"label": c, "level": level, "exposed_frac": 0.05 + 0.01 * c}
                              for c in range(3) for level in range(4)])
    return summary, per_class


def test_churn_noise_floor_is_the_independent_ranking_expectation():
    summary, _ = trajectory_tables()
    floor = plots.churn_noise_floor(summary, top_frac=0.1)
    assert floor["newly_exposed"].iloc[0] == pytest.approx((30 + 10) * 0.9)
    assert floor["newly_protected"].iloc[0] == pytest.approx((30 + 12) * 0.9)
    # simulated: two independent random rankings of 1000 examples, 500 members, top 10%
    rng = np.random.default_rng(6)
    member = np.arange(1000) < 500
    entered = []
    for _ in range(300):
        top_a, top_b = (rng.permutation(1000) < 100 for _ in range(2))
        entered.append(((top_b & ~top_a) & member).sum())
    assert np.mean(entered) == pytest.approx(500 * 0.1 * 0.9, rel=0.05)


def test_trajectory_panel_states_top_set_and_draws_noise_floor():
    summary, per_class = trajectory_tables()
    fig = plots.trajectory_panel(summary, per_class, classes=["cat", "dog", "owl"], top_frac=0.1)
    assert "top set = the top 10% of scores" in fig._suptitle.get_text()
    churn = fig.axes[1]
    floors = [c for c in churn.collections if c.get_label().startswith("noise floor")]
    assert floors and floors[0].get_linestyle()[0][1] is not None  # dashed
    colour_bar = fig.axes[-1]
    assert "class's members" in colour_bar.get_ylabel()
    assert [t.get_text() for t in fig.axes[2].get_yticklabels()] == ["cat", "dog", "owl"]
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.trajectory_panel(summary.iloc[0:0], per_class)


def test_save_figure_writes_png_and_pdf_and_closes(tmp_path):
    fig = plots.accuracy_vs_sparsity(accuracy_table())
    paths = plots.save_figure(fig, "accuracy", tmp_path)
    assert [p.name for p in paths] == ["accuracy.png", "accuracy.pdf"]
    assert all(p.parent == tmp_path / "figures" for p in paths)
    assert paths[0].stat().st_size > 1024 and paths[1].stat().st_size > 1024
    assert not plt.fignum_exists(fig.number)


def test_roc_markers_sit_at_the_tpr_the_tables_report():
    """On a vertical step the marker must be at the top (highest TPR at FPR <= target), not the bottom."""
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(0)
    member = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    scores = np.where(member, rng.normal(0.6, 1, 4000), rng.normal(0, 1, 4000))
    fpr, tpr, _ = roc_curve(member, scores)
    fig = plots.roc_loglog({"rmia": {"fpr": fpr, "tpr": tpr}}, n_out=2000)
    line = next(curve for curve in fig.axes[0].get_lines() if curve.get_label().startswith("RMIA"))
    marked = tpr[np.asarray(line.get_markevery())]
    expected = [tpr[fpr <= t + 1e-12].max() for t in (1e-3, 1e-2, 1e-1)]
    np.testing.assert_allclose(marked, expected)
    plt.close(fig)


def test_frontier_names_its_attack():
    points = pd.DataFrame({"kind": ["imp", "imp"], "label": ["L0", "L1"], "level": [0, 1], "seed": [0, 0],
                           "test_acc": [0.8, 0.79], "auc": [0.6, 0.61], "tpr@0.1%fpr": [0.01, 0.02],
                           "sparsity": [0.0, 0.2], "attack": "rmia"})
    fig = plots.privacy_utility_frontier(points)
    assert "RMIA" in fig._suptitle.get_text()
    plt.close(fig)


# ---------------------------------------------------------------- C2 paired figure, C4 with target models
def leave_one_out_attacks(n_targets=3):
    """attacks.csv shape of the >= 5-seed study: every model of a seed the target once (shokri: model 0)."""
    rng = np.random.default_rng(8)
    rows = []
    for seed in range(5):
        for level in range(8):
            for attack in ("rmia", "loss", "shokri"):
                for target in range(1 if attack == "shokri" else n_targets):
                    auc = 0.65 + 0.004 * level + rng.normal(0, 0.003)
                    rows.append({**ID, "seed": seed, "attack": attack, "level": level, "branch": "imp",
                                 "target_model": target, "sparsity": sparsity_of(level), "gap": 0.1, "n_in": 2000,
                                 "n_out": 2000, "auc": auc, "tpr@1%fpr": 0.05 + 0.001 * level + rng.normal(0, 0.002)})
    return pd.DataFrame(rows)


def test_ticket_minus_dense_draws_paired_seed_means_and_the_margin_band():
    from mialth_utils.figures import paired

    table = leave_one_out_attacks()
    fig = paired.ticket_minus_dense(table, "auc")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["RMIA (primary)", "Loss threshold", "Shokri (boosted trees)"]
    summary, margin = paired.paired_differences(table, "rmia", "auc")
    per_seed = table[table["attack"] == "rmia"].groupby(["seed", "level"])["auc"].mean().unstack()
    assert margin == pytest.approx(0.25 * (per_seed[0].mean() - 0.5))
    expected = (per_seed[7] - per_seed[0]).mean()
    assert summary.set_index("level").loc[7, "mean"] == pytest.approx(expected)
    assert summary.set_index("level").loc[0, "mean"] == 0.0
    band = [p for p in visible[0].patches if p.get_label().startswith("margin")]
    assert len(band) == 1 and band[0].get_label() == f"margin +-{margin:.3g}"
    corners = band[0].get_path().transformed(band[0].get_patch_transform()).vertices[:, 1]
    assert (corners.min(), corners.max()) == pytest.approx((-margin, margin))
    plt.close(fig)


def test_attack_vs_sparsity_averages_target_models_within_seed_and_shows_shokri():
    from mialth_utils.experiments.tickets import C4_SHOWN

    table = leave_one_out_attacks()
    fig = plots.attack_vs_sparsity(table, "auc", C4_SHOWN)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "Shokri" in " ".join(labels)
    from mialth_utils.figures.lth import per_seed

    rows = per_seed(table[table["attack"] == "rmia"], "auc")
    assert len(rows) == 5 * 8 and "target_model" not in rows  # one row per (seed, level)
    plt.close(fig)
