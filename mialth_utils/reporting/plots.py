"""One function per figure, each returning ``fig``; ``save_figure`` writes PNG (300 dpi) and PDF."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use(matplotlib.get_backend())  # respects MPLBACKEND (Agg in tests and papermill runs)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")
HEADLINE = ("lira_online", "lira_offline", "rmia", "loss", "modified_entropy", "samia")


def save_figure(fig, name: str, results_dir: str | Path) -> list[Path]:
    """Write ``figures/<name>.png`` (300 dpi) and ``.pdf``, then close the figure (it still displays
    when returned to a notebook, but is not drawn twice by the inline backend)."""
    folder = Path(results_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=300, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def accuracy_vs_sparsity(acc: pd.DataFrame, title: str = ""):
    """E1 / C1: target test accuracy per level, IMP vs random-mask vs random-reinit controls."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.lineplot(data=acc, x="sparsity", y="test_acc", hue="branch", style="branch", markers=True, ax=ax)
    ax.set(xlabel="sparsity (counted zeros)", ylabel="test accuracy", title=title or "Tickets vs controls (C1)")
    return fig


def attack_vs_sparsity(attacks: pd.DataFrame, metric: str = "auc", attacks_shown=HEADLINE, title: str = ""):
    """E3 / C4: attack metric per level against sparsity, with the train-test gap on a twin axis."""
    df = attacks[attacks["attack"].isin(attacks_shown)]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    sns.lineplot(data=df, x="sparsity", y=metric, hue="attack", marker="o", ax=ax)
    lo, hi = metric + "_ci_low", metric + "_ci_high"
    if lo in df:
        colors = {label: h.get_color() for h, label in zip(*ax.get_legend_handles_labels())}
        for name, g in df.groupby("attack"):
            ax.fill_between(g["sparsity"], g[lo], g[hi], alpha=0.12, color=colors.get(name))
    gap = attacks.groupby("sparsity")["gap"].first()
    twin = ax.twinx()
    twin.plot(gap.index, gap.values, "k--", label="train-test gap")
    twin.set_ylabel("train-test gap (dashed)")
    twin.grid(False)
    ax.set(xlabel="sparsity", ylabel=metric, title=title or f"Attack {metric} vs sparsity (C4)")
    ax.legend(fontsize=6, loc="upper left")
    return fig


def roc_loglog(curves: dict[str, dict], title: str = "ROC (log-log)"):
    """Log-log ROC curves ``{label: {"fpr": ..., "tpr": ...}}`` with the chance line."""
    fig, ax = plt.subplots(figsize=(4, 4))
    for label, c in curves.items():
        ax.plot(np.maximum(c["fpr"], 1e-5), np.maximum(c["tpr"], 1e-5), label=label, lw=1)
    ax.plot([1e-5, 1], [1e-5, 1], "k:", lw=0.8, label="chance")
    ax.set(xscale="log", yscale="log", xlim=(1e-4, 1), ylim=(1e-4, 1), xlabel="FPR", ylabel="TPR", title=title)
    ax.legend(fontsize=6)
    return fig


def attack_vs_classes(df: pd.DataFrame, metric: str = "auc", attacks_shown=HEADLINE):
    """E4 / C3: attack metric against the number of classes."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.lineplot(data=df[df["attack"].isin(attacks_shown)], x="n_classes", y=metric, hue="attack",
                 style="level", marker="o", ax=ax)
    ax.set(xlabel="number of classes", ylabel=metric, title=f"Attack {metric} vs number of classes (C3)")
    ax.legend(fontsize=6)
    return fig


def transfer_heatmap(df: pd.DataFrame, metric: str = "auc"):
    """E5 / C5: rows = level the attack was fitted at, columns = level of the target."""
    groups = list(df.groupby(["attack", "fit_model", "target_model"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), squeeze=False)
    for ax, ((attack, fit_m, tgt_m), g) in zip(axes[0], groups):
        sns.heatmap(g.pivot(index="fit_level", columns="target_level", values=metric), annot=True, fmt=".2f",
                    cmap="viridis", ax=ax, annot_kws={"size": 5}, cbar=False)
        ax.set_title(f"{attack}: {fit_m} -> {tgt_m}", fontsize=8)
    fig.suptitle(f"Transfer ({metric}) (C5)")
    fig.tight_layout()
    return fig


def trajectory_panel(summary: pd.DataFrame, per_class: pd.DataFrame, classes=None):
    """E7: rank correlation between consecutive levels, exposed/protected counts, per-class exposure."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].plot(summary["to_level"], summary["spearman"], "o-")
    axes[0].set(xlabel="level", ylabel="Spearman (level-1 vs level)", title="score rank stability")
    axes[1].bar(summary["to_level"] - 0.2, summary["newly_exposed"], 0.4, label="newly exposed")
    axes[1].bar(summary["to_level"] + 0.2, summary["newly_protected"], 0.4, label="newly protected")
    axes[1].set(xlabel="level", ylabel="members", title="members entering / leaving the top set")
    axes[1].legend(fontsize=7)
    pc = per_class.copy()
    if classes is not None:
        pc["label"] = pc["label"].map(lambda i: classes[int(i)])
    sns.heatmap(pc.pivot(index="label", columns="level", values="exposed_frac"), cmap="magma", ax=axes[2])
    axes[2].set_title("share of class members exposed")
    fig.tight_layout()
    return fig


def compression_bars(df: pd.DataFrame, metric: str = "auc",
                     attacks_shown=("loss", "lira_offline", "rmia", "samia", "shokri", "cm_mia", "cm_mia_all")):
    """E6: grouped bars, one panel per shadow setting, x = compression method, hue = attack."""
    df = df[df["attack"].isin(attacks_shown)]
    grid = sns.catplot(data=df, x="compression", y=metric, hue="attack", col="shadows", kind="bar",
                       height=3.2, aspect=1.3, legend_out=True)
    grid.set_xticklabels(rotation=40, ha="right")
    grid.figure.suptitle(f"Attack {metric} on compressed targets (E6)", y=1.03)
    return grid.figure
