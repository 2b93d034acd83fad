"""One thin function per notebook: build (or load from the store) what it needs, record tables, return them.

Notebooks call these and display; everything heavy is cached, so re-running is cheap. Figures that
aggregate runs (over seeds) are drawn by the collector (``reporting.report``); a notebook shows
them for its own run without writing files, so ``results/figures`` holds no duplicates.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .attacks.registry import cmmia_attacks, default_attacks, get_attack
from .attacks.cmmia import mixed_attack_data
from .config import StudySpec
from .data.registry import load_dataset
from .evaluation.analysis import level_scores, trajectory_summary, transfer_matrix
from .evaluation.audit import audit_model_set, run_attacks
from .evaluation.defended import AUDIT_SIZES, SIZES as DEFENCE_SIZES, audit_defences, defence_settings
from .evaluation.target_audit import TargetGame, audit_target
from .evaluation.metrics import evaluate, roc_points
from .modelsets import CompressedModelSet, ModelSet
from .reporting import plots
from .reporting import defences as defence_report
from .reporting.results import RunRecorder
from .runtime import resolve_device, seed_everything
from .sparsity.compress import Compression

log = logging.getLogger(__name__)
E6_ATTACKS = ("loss", "modified_entropy", "lira_offline", "lira_online", "rmia")  # baselines named in advance


def model_set(spec: StudySpec, build: bool = True, **changes) -> ModelSet:
    """The spec's model set (``changes`` replace ModelSetSpec fields), built or loaded from the store."""
    seed_everything(spec.seed)
    models = ModelSet(dataclasses.replace(spec.models, **changes), resolve_device(spec.device), spec.cache_dir)
    return models.build(spec.workers, spec.scheduler) if build else models


def data_and_splits(spec: StudySpec) -> dict:
    """01_data_and_splits: the data set, the pool / population split and the keep-matrix."""
    rec = RunRecorder(spec, "data_and_splits")
    models = model_set(spec, build=False)
    keep = models.membership.keep
    splits = pd.DataFrame({"model_index": range(len(keep)), "role": ["target"] + ["reference"] * (len(keep) - 1),
                           "n_members": keep.sum(1), "n_non_members": (~keep).sum(1)})
    rec.table("splits", splits)
    fig_keep = plots.keep_matrix(keep)
    plots.save_figure(fig_keep, f"{spec.run_id}_keep_matrix", spec.results_dir)
    fig_img = plots.example_images(models.data, models.pool_idx[:16], keep[0, :16], models.labels[:16])
    rec.finish(n_pool=len(models.pool_idx), n_population=len(models.population_idx), keep_hash=models.membership.hash)
    data = models.data
    info = {"data set": data.name, "classes": data.n_classes, "input shape": data.input_shape,
            "train / test examples": (len(data.train_y), len(data.test_y)), "pool": len(models.pool_idx),
            "population (never trained on)": len(models.population_idx), "keep-matrix hash": models.membership.hash,
            "membership design": models.membership.mode}
    return {"info": info, "splits": splits, "figure_keep": fig_keep, "figure_images": fig_img}


def dense_models(spec: StudySpec) -> dict:
    """E0 (02_train_dense): target and reference models at level 0: utility and generalisation gap."""
    rec = RunRecorder(spec, "train_dense")
    models = model_set(spec, n_levels=0, controls=())
    table = models.table()
    rec.table("dense_models", table)
    summary = table.groupby("role")[["train_acc", "test_acc", "gap"]].agg(["mean", "std"])
    rec.finish(n_models=len(table), mean_test_acc=float(table["test_acc"].mean()))
    return {"models": table, "summary": summary, "model_set": models}


def lth_attack(spec: StudySpec) -> dict:
    """E1-E3 (03_lth_attack): IMP levels with controls, every attack at every level."""
    rec = RunRecorder(spec, "lth_attack")
    models = model_set(spec, controls=spec.models.controls or ("random_mask", "random_reinit"))
    table = models.table()
    accuracy = table[table["model_index"] == 0].sort_values(["branch", "level"])
    rec.table("accuracy", accuracy)
    rec.table("model_set", table)
    attacks, scores = audit_model_set(models, attacks_factory=lambda: default_attacks(spec.fast_attacks, spec.seed),
                                      n_boot=spec.n_boot, seed=spec.seed)
    rec.table("attacks", attacks)
    member = models.membership.member_mask(0)
    eval_idx = _eval_idx(models, spec.seed)
    np.savez_compressed(rec.folder / "scores.npz", member=member, eval_idx=eval_idx,
                        **{f"{lvl}__{name}": s for lvl, sc in scores.items() for name, s in sc.items()})
    curves = {lvl: {name: {**roc_points(s, member, spec.seed), **_legend(attacks, lvl, name)}
                    for name, s in sc.items()} for lvl, sc in scores.items()}
    n_out = len(eval_idx) // 2
    figs = {"accuracy_vs_sparsity": plots.accuracy_vs_sparsity(accuracy),
            "attack_auc_vs_sparsity": plots.attack_vs_sparsity(attacks, "auc"),
            "attack_tpr_vs_sparsity": plots.attack_vs_sparsity(attacks, "tpr@1%fpr"),
            "roc_attacks_dense": plots.roc_loglog(curves[0], n_out, "Every attack, dense model")}
    imp = accuracy[accuracy["branch"] == "imp"]
    sparsity = {f"level {lvl}": sp for lvl, sp in zip(imp["level"], imp["sparsity"])}
    lira = {f"level {lvl}": c["lira_online"] for lvl, c in curves.items() if "lira_online" in c}
    if lira:
        figs["roc_lira_by_level"] = plots.roc_loglog(lira, n_out, "LiRA online per level", sparsities=sparsity)
    for name in ("roc_attacks_dense", "roc_lira_by_level"):
        if name in figs:
            plots.save_figure(figs[name], f"{spec.run_id}_{name}", spec.results_dir)
    rec.finish(device=models.data.device, n_levels=spec.models.n_levels, max_sparsity=float(accuracy["sparsity"].max()))
    return {"model_set": models, "accuracy": accuracy, "attacks": attacks, "curves": curves, "figures": figs}


def _eval_idx(models: ModelSet, seed: int) -> np.ndarray:
    from .data.membership import balanced_eval_indices

    return balanced_eval_indices(models.membership.member_mask(0), models.membership.target_pool, seed)


def _legend(attacks: pd.DataFrame, level: int, name: str) -> dict:
    row = attacks[(attacks["level"] == level) & (attacks["attack"] == name)]
    return {} if row.empty else {"auc": float(row["auc"].iloc[0]), "tpr@0.1%fpr": float(row["tpr@0.1%fpr"].iloc[0])}


def class_count(spec: StudySpec, levels=(0,)) -> dict:
    """E4 (04_class_count): the same pipeline on several seeded class subsets per class count k."""
    rec = RunRecorder(spec, "class_count")
    frames = []
    n_total = load_dataset(spec.dataset, seed=spec.seed, **_data_location(spec)).n_classes
    for k in spec.class_counts:
        n_cls = None if k >= n_total else k
        for subset in range(spec.n_subsets if n_cls else 1):
            models = model_set(spec, n_classes=n_cls, class_subset=subset, n_levels=max(levels), controls=(),
                               **sizes_for_subset(spec, n_cls, subset))
            df, _ = audit_model_set(models, levels=levels, n_boot=spec.n_boot, seed=spec.seed,
                                    attacks_factory=lambda: default_attacks(spec.fast_attacks, spec.seed))
            df["n_classes"], df["subset"], df["n_pool"] = k, subset, models.spec.n_pool
            df["classes"] = "|".join(map(str, models.data.classes))
            frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    rec.table("class_count", table)
    rec.finish(class_counts=list(spec.class_counts), n_subsets=spec.n_subsets)
    return {"table": table, "figure": plots.attack_vs_classes(table)}


def _data_location(spec: StudySpec) -> dict:
    """Where an imagefolder data set is read from and at which size (ignored by the other data sets)."""
    return {"path": spec.models.data_path or None, "image_size": spec.models.image_size}


def sizes_for_subset(spec: StudySpec, n_classes: int | None, subset: int) -> dict:
    """Pool and population sizes that fit a class subset (scaled down, ratio kept, when it is small)."""
    available = len(load_dataset(spec.dataset, n_classes=n_classes, seed=spec.seed, class_subset=subset,
                                 **_data_location(spec)).train_y)
    want = spec.models.n_pool + spec.models.n_population
    if want <= available:
        return {}
    scale = 0.9 * available / want
    return {"n_pool": int(spec.models.n_pool * scale) // 2 * 2, "n_population": int(spec.models.n_population * scale)}


def transfer(spec: StudySpec, attacks=("lira_offline", "modified_entropy"), levels=None) -> dict:
    """E5 (05_transfer): attacks fitted at level a applied at level b, and across architectures."""
    rec = RunRecorder(spec, "transfer")
    # the other architecture's set first: this run's own training, done while 03 may still be building the
    # target architecture's set beside it (its chains are locked while built: this run then waits and loads)
    other = (model_set(spec, model=spec.transfer_model, controls=())
             if spec.transfer_model and spec.transfer_model != spec.model else None)
    models = model_set(spec)
    levels = list(range(0, spec.models.n_levels + 1, 2)) if levels is None else list(levels)
    frames = [transfer_matrix(models, a, levels, seed=spec.seed) for a in attacks]
    if other is not None:
        frames += [transfer_matrix(models, a, levels, target_models=other, seed=spec.seed) for a in attacks]
    table = pd.concat(frames, ignore_index=True)
    rec.table("transfer", table)
    rec.finish(attacks=list(attacks), levels=levels)
    return {"table": table, "figure": plots.transfer_cost_heatmap(table)}


def trajectories(spec: StudySpec, attack: str = "lira_online", top_frac: float = 0.05) -> dict:
    """E7 (07_sample_trajectories): which examples become more or less exposed from level to level."""
    get_attack(attack)
    rec = RunRecorder(spec, "trajectories")
    models = model_set(spec)
    scores = level_scores(models, attack, seed=spec.seed)
    summary, per_class = trajectory_summary(scores, top_frac)
    summary.insert(0, "attack", attack)
    rec.table("trajectories", summary)
    rec.table("trajectories_per_class", per_class)
    fig = plots.trajectory_panel(summary, per_class, models.data.classes, top_frac)
    plots.save_figure(fig, f"{spec.run_id}_trajectories", spec.results_dir)
    rec.finish(attack=attack, top_frac=top_frac)
    return {"scores": scores, "summary": summary, "per_class": per_class, "figure": fig}


def quickstart(spec: StudySpec, n_levels: int = 3) -> dict:
    """00_quickstart: a target, a few references, a few IMP levels, LiRA, the ROC."""
    models = model_set(spec, n_levels=min(n_levels, spec.models.n_levels), controls=())
    rows, scores = audit_model_set(models, attacks_factory=lambda: [get_attack("lira_online")], n_boot=0,
                                   seed=spec.seed)
    member = models.membership.member_mask(0)
    curves = {f"level {lvl}": {**roc_points(s["lira_online"], member, spec.seed), **_legend(rows, lvl, "lira_online")}
              for lvl, s in scores.items()}
    table = rows[["level", "sparsity", "train_acc", "test_acc", "gap", "auc", "tpr@1%fpr"]]
    fig = plots.roc_loglog(curves, len(_eval_idx(models, spec.seed)) // 2, "LiRA online",
                           sparsities={f"level {lvl}": sp for lvl, sp in zip(rows["level"], rows["sparsity"])})
    return {"model_set": models, "table": table, "figure": fig}


def compression_cmmia(spec: StudySpec) -> dict:
    """E6 (06_compression_cmmia): every compression method on target and references; the named baselines
    and CM-MIA with matched, mismatched (dense) and mixture shadows, all at thresholds fixed on
    reference models, on all examples and on CM-MIA's abnormal subset."""
    rec = RunRecorder(spec, "compression")
    imp_level = max((int(a) for m, a in spec.compressions if m == "imp"), default=0)
    base = model_set(spec, controls=(), n_levels=imp_level)
    dense = CompressedModelSet(base, Compression("imp", 0))
    sets = {}
    for method, amount in spec.compressions:
        cset = CompressedModelSet(base, Compression(method, amount)).build(spec.workers, spec.scheduler)
        sets[cset.compression.label] = cset
    member = base.membership.member_mask(0)
    models = pd.DataFrame([{**cset.metrics(0), "compression": label} for label, cset in sets.items()])
    rec.table("compression_models", models.drop(columns=["sparsity_per_layer"], errors="ignore"))
    frames = []
    for label, cset in sets.items():
        for setting, refs in (("matched", [cset]), ("mismatched", [dense]), ("mixture", list(sets.values()))):
            df = attack_compressed(mixed_attack_data(cset, refs), member, spec)
            df["compression"], df["shadows"], df["target_test_acc"] = label, setting, cset.metrics(0)["test_acc"]
            frames.append(df)
        log.info("%s: attacked with matched, mismatched and mixture shadows", label)
    table = pd.concat(frames, ignore_index=True)
    rec.table("compression", table)
    rec.finish(compressions=list(sets))
    return {"models": models, "table": table, "figure": plots.compression_panel(table)}


def attack_compressed(data, member: np.ndarray, spec: StudySpec) -> pd.DataFrame:
    """The named baselines and CM-MIA on one compressed target: metrics on all examples at thresholds
    fixed on reference models; for every attack its AUC on CM-MIA's abnormal subset; for CM-MIA the
    share tested, precision / recall of its p < alpha decisions and its end-to-end cost."""
    attacks = [get_attack(name, spec.seed) for name in E6_ATTACKS] + cmmia_attacks()
    df, scores = run_attacks(data, member, attacks, n_boot=min(spec.n_boot, 50), seed=spec.seed,
                             fixed_threshold=True)
    cm = next(a for a in attacks if a.name == "cm_mia")
    tested = getattr(cm, "tested_", None)
    extras = []
    for attack in attacks:
        row = {"attack": attack.name}
        if tested is not None and attack.name in scores and member[tested].any() and (~member[tested]).any():
            sub = evaluate(scores[attack.name][tested], member[tested], n_boot=0, seed=spec.seed)
            row.update(auc_abnormal=sub["auc"], n_abnormal_eval=sub["n_in"] + sub["n_out"])
        if hasattr(attack, "predicted_member_"):
            decided = attack.predicted_member_
            row.update(n_tested=int(attack.tested_.sum()), tested_frac=float(attack.tested_.mean()),
                       n_predicted_members=int(decided.sum()), test_used=attack.test_used_,
                       precision_at_alpha=float(member[decided].mean()) if decided.any() else float("nan"),
                       recall_at_alpha=float(decided[member].mean()), cost_seconds=attack.cost_seconds_)
        extras.append(row)
    return df.merge(pd.DataFrame(extras), on="attack", how="left")


def defence_sizes(profile: str, **given) -> dict:
    """The defences notebook's model-set sizes at ``profile``; a given value (not None) wins."""
    return {**DEFENCE_SIZES.get(profile, {}), **{k: v for k, v in given.items() if v is not None}}


def audit_sizes(profile: str, **given) -> dict:
    """The audit notebook's reference count and recipe at ``profile``; a given value (not None) wins."""
    return {**AUDIT_SIZES.get(profile, {}), **{k: v for k, v in given.items() if v is not None}}


def defences(spec: StudySpec, epsilons=(8.0,), ppb_lambda: float = 1.0, label_smoothing: float = 0.1,
             weight_decay: float = 5e-3, early_stop_patience: int = 2, max_grad_norm: float = 1.0,
             levels=None) -> dict:
    """10_defences: each defence on target and references, dense and IMP, every attack, the frontier."""
    rec = RunRecorder(spec, "defences")
    settings = defence_settings(epsilons, ppb_lambda, label_smoothing, weight_decay, early_stop_patience,
                                max_grad_norm)
    attacks, models = audit_defences(spec, settings, resolve_device(spec.device), levels)
    rec.table("defences", attacks)
    rec.table("defence_models", models)
    effects = defence_report.defence_effects(attacks)
    rec.table("defence_effects", effects)
    fig = plots.privacy_utility_frontier(defence_report.frontier_points(attacks),
                                         title="Defences: privacy-utility frontier (LiRA online; one point per "
                                               "defence setting and level)")
    plots.save_figure(fig, f"{spec.run_id}_defence_frontier", spec.results_dir)
    rec.finish(defences=list(settings), levels=sorted(set(attacks["level"])))
    return {"attacks": attacks, "models": models, "effects": effects, "figure": fig,
            "statements": defence_report.report_lines(effects)}


def train_demo_target(spec: StudySpec, folder, n_members: int | None = None) -> dict:
    """A stand-in for a user's target (09_audit_your_model without a target): a model of ``spec.model``
    trained with the recipe on ``n_members`` seeded examples; writes state.pt and members.npy."""
    import torch

    from .models import make_model
    from .training.loop import train

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = load_dataset(spec.dataset, seed=spec.seed, **_data_location(spec))
    n_members = n_members or min(1000, len(data.train_y) // 4)
    members = np.sort(np.random.default_rng((spec.seed, 9)).choice(len(data.train_y), n_members, replace=False))
    net = make_model(spec.model, data, spec.seed + 77)
    train(net, data, torch.from_numpy(members), spec.models.train, seed=spec.seed + 78, desc="demo target")
    torch.save(net.state_dict(), folder / "state.pt")
    np.save(folder / "members.npy", members)
    return {"state_path": str(folder / "state.pt"), "members_path": str(folder / "members.npy")}


def audit_your_model(spec: StudySpec, members_path: str, state_path: str = "", logits_path: str = "",
                     level: int = 0) -> dict:
    """09_audit_your_model: references trained with the target's recipe (and pruning, at ``level``),
    every attack on the target, the table, the ROC figure and the reference models' table."""
    rec = RunRecorder(spec, "audit")
    game = TargetGame(dataclasses.replace(spec.models, n_levels=level, controls=()), np.load(members_path),
                      resolve_device(spec.device), spec.cache_dir).build()
    rows, scores, info = audit_target(game, default_attacks(spec.fast_attacks, spec.seed), state_path=state_path or None,
                                      logits_path=logits_path or None, level=level, n_boot=spec.n_boot,
                                      seed=spec.seed)
    rec.table("audit", rows)
    refs = game.reference_table(level)
    rec.table("audit_references", refs)
    member = game.membership.keep[0]
    n_out = min(int(member.sum()), int((~member).sum()))  # the balanced evaluation set's non-members
    curves = {name: {**roc_points(s, member, spec.seed), **_legend(rows.assign(level=level), level, name)}
              for name, s in scores.items()}
    fig = plots.roc_loglog(curves, n_out, "Every attack on your model")
    plots.save_figure(fig, f"{spec.run_id}_audit_roc", spec.results_dir)
    rec.finish(target_source=info["target_source"], level=level, n_references=spec.models.n_models - 1,
               n_pool=int(game.spec.n_pool))
    return {"attacks": rows, "references": refs, "target": info, "figure": fig, "game": game}
