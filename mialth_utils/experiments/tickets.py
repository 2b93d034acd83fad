"""E1-E3 (03_lth_attack): IMP levels with the random-mask / random-reinit controls, every attack at every
level; claims C1 (tickets keep accuracy), C2 (equally vulnerable) and C4 (attack vs sparsity)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..analysis_plan import section
from ..attacks.registry import default_attacks
from ..claims import c1, c2, c4
from ..claims.scores import primary_metric
from ..config import StudySpec
from ..evaluation.audit import audit_model_set
from ..evaluation.metrics import roc_points
from ..figures import paired
from ..reporting import plots
from ..reporting.results import RunRecorder
from .base import Experiment, FigureSet, PlannedSet, Table, build, eval_idx, legend

CONTROLS = ("random_mask", "random_reinit")


def model_sets(spec: StudySpec) -> list[PlannedSet]:
    return [PlannedSet(replace(spec.models, controls=spec.models.controls or CONTROLS))]


def lth_attack(spec: StudySpec) -> dict:
    """E1-E3 (03_lth_attack): IMP levels with controls, every attack at every level."""
    rec = RunRecorder(spec, EXPERIMENT.name)
    models = build(spec, model_sets(spec)[0])
    table = models.table()
    accuracy = table[table["model_index"] == 0].sort_values(["branch", "level"])
    rec.table("accuracy", accuracy)
    rec.table("model_set", table)
    attacks, scores = audit_model_set(models, attacks_factory=lambda: default_attacks(spec.fast_attacks, spec.seed),
                                      n_boot=spec.n_boot, seed=spec.seed, leave_one_out=True)
    rec.table("attacks", attacks)
    member = models.membership.member_mask(0)
    evaluated = eval_idx(models, spec.seed)
    np.savez_compressed(rec.folder / "scores.npz", member=member, eval_idx=evaluated,
                        **{f"{lvl}__{name}": s for lvl, sc in scores.items() for name, s in sc.items()})
    own = model_zero(attacks)
    curves = {lvl: {name: {**roc_points(s, member, spec.seed), **legend(own, lvl, name)}
                    for name, s in sc.items()} for lvl, sc in scores.items()}
    figs = _run_figures(spec, accuracy, own, curves, len(evaluated) // 2)
    rec.finish(device=models.data.device, n_levels=spec.models.n_levels, max_sparsity=float(accuracy["sparsity"].max()))
    return {"model_set": models, "accuracy": accuracy, "attacks": attacks, "curves": curves, "figures": figs}


def _run_figures(spec: StudySpec, accuracy: pd.DataFrame, attacks: pd.DataFrame, curves: dict, n_out: int) -> dict:
    """This run's figures; the two ROC figures are saved (the others are the collector's, over seeds)."""
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
    return figs


def model_zero(attacks: pd.DataFrame) -> pd.DataFrame:
    """The rows where model 0 played the target (leave-one-out tables hold every model's)."""
    return attacks[attacks["target_model"] == 0] if "target_model" in attacks.columns else attacks


def _same_model(table: pd.DataFrame | None, acc: pd.DataFrame) -> pd.DataFrame | None:
    if table is None:
        return None
    sel = (table["dataset"] == acc["dataset"].iloc[0]) & (table["model_arch"] == acc["model_arch"].iloc[0])
    return table[sel] if sel.any() else None


def frontier(acc: pd.DataFrame, tables: dict):
    """The privacy-utility frontier of one setting: its IMP levels, and the compressed models of its data set
    and architecture; needs the attacks table of the same setting."""
    if "attacks" not in tables:
        raise ValueError("needs the lth_attack runs' attacks table")
    att = model_zero(tables["attacks"][tables["attacks"]["settings_hash"] == acc["settings_hash"].iloc[0]])
    points = plots.frontier_points(acc, att, _same_model(tables.get("compression_models"), acc),
                                   _same_model(tables.get("compression"), acc))
    return plots.privacy_utility_frontier(points)


C4_SHOWN = (*plots.HEADLINE, "shokri")  # the C4 figures show every attack C4 judges, Shokri's included


EXPERIMENT = Experiment(
    "lth_attack", "03_lth_attack", model_sets=model_sets,
    tables=(Table("accuracy", of_models=True), Table("model_set", of_models=True), Table("attacks")),
    claims=(c1.CLAIM, c2.CLAIM, c4.CLAIM), replicated=True,
    figures=(FigureSet("C1", "accuracy", (("fig_c1_accuracy", lambda g, t: plots.accuracy_vs_sparsity(g)),)),
             FigureSet("C2", "attacks", (("fig_c2_paired_primary", lambda g, t: paired.ticket_minus_dense(
                                             g, primary_metric(g[g["attack"] == section("C2")["primary_attack"]],
                                                               section("C2"))[0])),
                                         ("fig_c2_paired_auc", lambda g, t: paired.ticket_minus_dense(g, "auc")))),
             FigureSet("C4", "attacks", (("fig_c4_auc", lambda g, t: plots.attack_vs_sparsity(g, "auc", C4_SHOWN)),
                                         ("fig_c4_tpr1", lambda g, t: plots.attack_vs_sparsity(g, "tpr@1%fpr",
                                                                                               C4_SHOWN)))),
             FigureSet("frontier", "accuracy", (("fig_frontier", frontier),))))
