"""The data figures of notebook 01: the keep-matrix and example images with their membership."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from .style import styled

KEEP_COLOURS = ListedColormap(["#E6E6E6", "#0072B2"])  # OUT, IN


@styled
def keep_matrix(keep: np.ndarray, n_show: int = 80):
    """The keep-matrix (rows: models, columns: pool examples; IN = the model trains on the example)
    for the first ``n_show`` examples, the target (row 0) set apart above the reference models."""
    keep = np.asarray(keep, bool)
    if keep.ndim != 2 or keep.size == 0:
        raise ValueError(f"keep must be a non-empty (models, examples) bool array, got shape {keep.shape}")
    n_models, n_examples = keep.shape
    shown = keep[:, :n_show]
    n_refs = n_models - 1
    fig, axes = plt.subplots(2 if n_refs else 1, 1, sharex=True, squeeze=False,
                             figsize=(7.2, 0.9 + 0.16 * n_models + (0.35 if n_refs else 0)),
                             height_ratios=(1, max(n_refs, 1)) if n_refs else None,
                             gridspec_kw={"hspace": 0.5})
    panels = [(axes[0, 0], shown[:1], ["target"])]
    if n_refs:
        panels.append((axes[1, 0], shown[1:], [str(i) for i in range(1, n_models)]))
    for ax, block, labels in panels:
        ax.imshow(block, cmap=KEEP_COLOURS, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.grid(False)
        ax.set_yticks(range(len(labels)), labels if len(labels) <= 16 else
                      [label if i % 4 == 0 else "" for i, label in enumerate(labels)])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0, 0].set_title(f"Target: IN for {keep[0].sum()} of {n_examples} pool examples", fontsize=8, loc="left")
    if n_refs:
        low, high = keep[1:].sum(0).min(), keep[1:].sum(0).max()
        count = f"exactly {low}" if low == high else f"{low} to {high}"
        axes[1, 0].set_title(f"{n_refs} reference models: each example IN for {count} of them", fontsize=8,
                             loc="left")
        axes[1, 0].set_ylabel("reference model")
    axes[-1, 0].set_xlabel(f"pool example (first {shown.shape[1]} of {n_examples})")
    fig.legend(handles=[Patch(color=KEEP_COLOURS(1), label="IN (trains on it)"),
                        Patch(color=KEEP_COLOURS(0), label="OUT")], loc="upper right", ncol=2,
               bbox_to_anchor=(0.98, 1.02))
    fig.suptitle("keep-matrix", x=0.02, ha="left", y=1.02, fontsize=9)
    return fig


@styled
def example_images(data, pool_idx: np.ndarray, member: np.ndarray, labels: np.ndarray):
    """A few pool examples with their class and whether the target trained on them (IN / OUT)."""
    if len(pool_idx) == 0:
        raise ValueError("no pool examples to show")
    n = len(pool_idx)
    fig, axes = plt.subplots(2, (n + 1) // 2, figsize=(8, 2.4), squeeze=False)
    import torch

    x = data.train_x[torch.as_tensor(pool_idx)].float().cpu() / 255
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = x[i].permute(1, 2, 0)
            ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray")
            ax.set_title(("IN " if member[i] else "OUT ") + str(data.classes[int(labels[i])])[:8], fontsize=6)
    fig.suptitle("Pool examples: IN = a member of the target's training set", fontsize=8)
    return fig
