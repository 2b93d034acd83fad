"""One function per notebook: build (or load from cache) what it needs, record tables, return them.

Notebooks call these and display; everything heavy is cached, so re-running is cheap.
"""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from . import plots
from .analysis import level_scores, trajectory_summary, transfer_matrix
from .attacks import default_attacks, get_attack
from .audit import audit_population, run_attacks
from .metrics import evaluate, roc_points
from .population import Population
from .profiles import StudySpec
from .results import RunRecorder
from .runtime import resolve_device, seed_everything


def population(spec: StudySpec, progress: bool = True, **changes) -> Population:
    """The spec's population (``changes`` replace PopulationSpec fields), built or loaded from cache."""
    seed_everything(spec.seed)
    pop_spec = dataclasses.replace(spec.population, **changes)
    cache_dir = spec.results_dir / "cache"
    return Population(pop_spec, device=resolve_device(spec.device), cache_dir=cache_dir).build(progress=progress)


def data_and_splits(spec: StudySpec) -> dict:
    """01_data_and_splits: the data set, the pool / population split and the keep-matrix."""
    rec = RunRecorder(spec, "data_and_splits")
    pop = Population(spec.population, device="cpu", cache_dir=spec.results_dir / "cache")
    keep = pop.membership.keep
    splits = pd.DataFrame({"model_index": range(len(keep)), "role": ["target"] + ["reference"] * (len(keep) - 1),
                           "n_members": keep.sum(1), "n_non_members": (~keep).sum(1)})
    rec.table("splits", splits)
    fig_keep, ax = plt.subplots(figsize=(7, 2.2))
    ax.imshow(keep[:, :80], aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set(xlabel="pool example (first 80)", ylabel="model (0 = target)", title="keep-matrix: black = IN")
    x = pop.data.train_x[torch.from_numpy(pop.pool_idx[:16])].float().cpu()
    fig_img, axes = plt.subplots(2, 8, figsize=(8, 2.4))
    for i, a in enumerate(axes.flat):
        a.imshow(x[i].permute(1, 2, 0).squeeze(-1) / 255, cmap="gray")
        a.set_title(("IN " if keep[0, i] else "OUT ") + str(pop.data.classes[pop.labels[i]])[:8], fontsize=6)
        a.axis("off")
    plots.save_figure(fig_keep, f"{spec.run_name}_keep_matrix", spec.results_dir)
    plt.close(fig_img)
    rec.finish(n_pool=len(pop.pool_idx), n_population=len(pop.population_idx), keep_hash=pop.membership.hash)
    info = {"data set": pop.data.name, "classes": pop.data.n_classes, "input shape": pop.data.input_shape,
            "train / test examples": (len(pop.data.train_y), len(pop.data.test_y)), "pool": len(pop.pool_idx),
            "population (never trained on)": len(pop.population_idx), "keep-matrix hash": pop.membership.hash,
            "membership design": pop.membership.mode}
    return {"info": info, "splits": splits, "figure_keep": fig_keep, "figure_images": fig_img}


def dense_models(spec: StudySpec, progress: bool = True) -> dict:
    """E0 (02_train_dense): target and reference models at level 0: utility and generalisation gap."""
    rec = RunRecorder(spec, "train_dense")
    pop = population(spec, progress, n_levels=0, controls=())
    table = pop.table()
    rec.table("dense_models", table)
    summary = table.groupby("role")[["train_acc", "test_acc", "gap"]].agg(["mean", "std"])
    rec.finish(n_models=len(table), mean_test_acc=float(table["test_acc"].mean()))
    return {"models": table, "summary": summary, "population": pop}


def lth_attack(spec: StudySpec, progress: bool = True) -> dict:
    """E1-E3 (03_lth_attack): IMP levels with controls, every attack at every level."""
    rec = RunRecorder(spec, "lth_attack")
    controls = spec.population.controls or ("random_mask", "random_reinit")
    pop = population(spec, progress, controls=controls)
    models = pop.table()
    accuracy = models[models["model_index"] == 0].sort_values(["branch", "level"])
    rec.table("accuracy", accuracy)
    rec.table("population_models", models)
    attacks, scores = audit_population(pop, attacks_factory=lambda: default_attacks(spec.fast_attacks),
                                       n_boot=spec.n_boot, seed=spec.seed, progress=progress)
    rec.table("attacks", attacks)
    member = pop.membership.member_mask(0)
    curves = {lvl: {name: roc_points(s, member, spec.seed) for name, s in sc.items()} for lvl, sc in scores.items()}
    np.savez_compressed(rec.folder / "scores.npz", **{f"{lvl}__{name}": s for lvl, sc in scores.items()
                                                       for name, s in sc.items()}, member=member)
    figs = {"accuracy_vs_sparsity": plots.accuracy_vs_sparsity(accuracy, f"{spec.dataset} {spec.model}: C1"),
            "attack_auc_vs_sparsity": plots.attack_vs_sparsity(attacks, "auc"),
            "attack_tpr01_vs_sparsity": plots.attack_vs_sparsity(attacks, "tpr@0.1%fpr"),
            "roc_lira_by_level": plots.roc_loglog({f"level {lvl}": c["lira_online"] for lvl, c in curves.items()
                                                    if "lira_online" in c}, "LiRA online per level (log-log)"),
            "roc_attacks_dense": plots.roc_loglog(curves[0], "Every attack, dense model (log-log)")}
    for name, fig in figs.items():
        plots.save_figure(fig, f"{spec.run_name}_{name}", spec.results_dir)
    rec.finish(device=pop.data.device, n_levels=spec.population.n_levels,
               max_sparsity=float(accuracy["sparsity"].max()))
    return {"population": pop, "accuracy": accuracy, "attacks": attacks, "curves": curves, "figures": figs}


def class_count(spec: StudySpec, levels=(0, 3), progress: bool = True) -> dict:
    """E4 (04_class_count): the same pipeline on seeded class subsets of the data set."""
    rec = RunRecorder(spec, "class_count")
    frames = []
    n_total = _full_classes(spec)
    for k in spec.class_counts:
        n_cls = None if k >= n_total else k
        sizes = _sizes_for_subset(spec, n_cls)
        pop = population(spec, progress, n_classes=n_cls, n_levels=max(levels), controls=(), **sizes)
        df, _ = audit_population(pop, levels=levels, attacks_factory=lambda: default_attacks(spec.fast_attacks),
                                 n_boot=spec.n_boot, seed=spec.seed, progress=progress)
        df["n_classes"] = k
        df["n_pool"] = pop.spec.n_pool
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    rec.table("class_count", table)
    fig = plots.attack_vs_classes(table)
    plots.save_figure(fig, f"{spec.run_name}_attack_vs_classes", spec.results_dir)
    rec.finish(class_counts=list(spec.class_counts))
    return {"table": table, "figure": fig}


def _full_classes(spec: StudySpec) -> int:
    from .data import load_dataset

    return load_dataset(spec.dataset, seed=spec.seed).n_classes


def _sizes_for_subset(spec: StudySpec, n_classes: int | None) -> dict:
    """Pool and population sizes that fit a class subset (scaled down, ratio kept, when it is small)."""
    from .data import load_dataset

    available = len(load_dataset(spec.dataset, n_classes=n_classes, seed=spec.seed).train_y)
    want = spec.population.n_pool + spec.population.n_population
    if want <= available:
        return {}
    scale = 0.9 * available / want
    return {"n_pool": int(spec.population.n_pool * scale) // 2 * 2,
            "n_population": int(spec.population.n_population * scale)}


def transfer(spec: StudySpec, attacks=("lira_offline", "modified_entropy"), levels=None,
             progress: bool = True) -> dict:
    """E5 (05_transfer): attacks fitted at level a applied at level b, and across architectures."""
    rec = RunRecorder(spec, "transfer")
    pop = population(spec, progress)
    levels = list(range(0, spec.population.n_levels + 1, 2)) if levels is None else list(levels)
    frames = [transfer_matrix(pop, a, levels) for a in attacks]
    if spec.transfer_model and spec.transfer_model != spec.model:
        other = population(spec, progress, model=spec.transfer_model, controls=())
        frames += [transfer_matrix(pop, a, levels, target_population=other) for a in attacks]
    table = pd.concat(frames, ignore_index=True)
    rec.table("transfer", table)
    fig = plots.transfer_heatmap(table)
    plots.save_figure(fig, f"{spec.run_name}_transfer", spec.results_dir)
    rec.finish(attacks=list(attacks), levels=levels)
    return {"table": table, "figure": fig}


def trajectories(spec: StudySpec, attack: str = "lira_online", top_frac: float = 0.05,
                 progress: bool = True) -> dict:
    """E7 (07_sample_trajectories): which examples become more or less exposed from level to level."""
    get_attack(attack)
    rec = RunRecorder(spec, "trajectories")
    pop = population(spec, progress)
    scores = level_scores(pop, attack)
    summary, per_class = trajectory_summary(scores, top_frac)
    summary.insert(0, "attack", attack)
    rec.table("trajectories", summary)
    rec.table("trajectories_per_class", per_class)
    fig = plots.trajectory_panel(summary, per_class, pop.data.classes)
    plots.save_figure(fig, f"{spec.run_name}_trajectories", spec.results_dir)
    rec.finish(attack=attack, top_frac=top_frac)
    return {"scores": scores, "summary": summary, "per_class": per_class, "figure": fig}


def quickstart(spec: StudySpec, n_levels: int = 3, progress: bool = True) -> dict:
    """00_quickstart: a target, a few references, a few IMP levels, LiRA, the ROC."""
    pop = population(spec, progress, n_levels=min(n_levels, spec.population.n_levels), controls=())
    rows, scores = audit_population(pop, attacks_factory=lambda: [get_attack("lira_online")], n_boot=0,
                                    seed=spec.seed, progress=False, log=None)
    member = pop.membership.member_mask(0)
    curves = {f"level {lvl}": roc_points(s["lira_online"], member, spec.seed) for lvl, s in scores.items()}
    table = rows[["level", "sparsity", "train_acc", "test_acc", "gap", "auc", "tpr@1%fpr"]]
    fig = plots.roc_loglog(curves, "LiRA online (log-log)")
    plt.close(fig)
    return {"population": pop, "table": table, "figure": fig}


def compression_cmmia(spec: StudySpec, progress: bool = True, log=print) -> dict:
    """E6 (06_compression_cmmia): every compression method on target and references; every baseline
    and CM-MIA with matched, mismatched (dense) and mixture shadows."""
    from .cmmia import CMMIA, mixed_attack_data
    from .compress import CompressedPopulation, Compression

    rec = RunRecorder(spec, "compression")
    imp_level = max((int(a) for m, a in spec.compressions if m == "imp"), default=0)
    base = population(spec, progress, controls=(), n_levels=imp_level)
    dense = CompressedPopulation(base, Compression("imp", 0))
    cpops = {}
    for method, amount in spec.compressions:
        c = Compression(method, amount)
        cpops[c.label] = CompressedPopulation(base, c).build(progress, log=None)
    member = base.membership.member_mask(0)
    models = pd.DataFrame([{**cp.metrics(0), "compression": label} for label, cp in cpops.items()])
    rec.table("compression_models", models)
    frames = []
    for label, cpop in cpops.items():
        for setting, refs in (("matched", [cpop]), ("mismatched", [dense]), ("mixture", list(cpops.values()))):
            data = mixed_attack_data(cpop, refs)
            cm = [CMMIA(), CMMIA(test_all=True), CMMIA(test="gaussian")]
            df, _ = run_attacks_with_extras(data, member, default_attacks(True) + cm, spec)
            df["compression"], df["shadows"] = label, setting
            df["target_test_acc"] = cpop.metrics(0)["test_acc"]
            frames.append(df)
        if log:
            log(f"{label}: attacked with matched, mismatched and mixture shadows")
    table = pd.concat(frames, ignore_index=True)
    rec.table("compression", table)
    fig = plots.compression_bars(table)
    plots.save_figure(fig, f"{spec.run_name}_compression_cmmia", spec.results_dir)
    rec.finish(compressions=list(cpops))
    return {"models": models, "table": table, "figure": fig}


def run_attacks_with_extras(data, member, attacks, spec):
    """``run_attacks`` plus, for CM-MIA, the share of examples tested, metrics on the abnormal subset,
    the precision of its p < alpha decisions and the seconds its hypothesis tests took."""
    df, scores = run_attacks(data, member, attacks, n_boot=min(spec.n_boot, 50), seed=spec.seed, progress=False)
    extras = []
    for attack in attacks:
        row = {"attack": attack.name}
        if hasattr(attack, "tested_") and attack.name in scores:
            tested = attack.tested_
            row.update(n_tested=int(tested.sum()), tested_frac=float(tested.mean()),
                       test_seconds=attack.test_seconds_, n_predicted_members=int(attack.predicted_member_.sum()),
                       precision_at_alpha=float(member[attack.predicted_member_].mean())
                       if attack.predicted_member_.any() else float("nan"))
            if member[tested].any() and (~member[tested]).any():
                sub = evaluate(scores[attack.name][tested], member[tested], n_boot=0, seed=spec.seed)
                row.update(auc_abnormal=sub["auc"], balanced_acc_abnormal=sub["balanced_acc"],
                           n_abnormal_eval=sub["n_in"] + sub["n_out"])
        extras.append(row)
    return df.merge(pd.DataFrame(extras), on="attack", how="left"), scores
