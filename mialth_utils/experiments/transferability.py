"""E5 (05_transfer): attacks fitted at level a applied at level b, and to another architecture; claim C5."""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..claims import c5
from ..config import StudySpec
from ..evaluation.analysis import transfer_matrix
from ..reporting import plots
from ..reporting.results import RunRecorder
from .base import Experiment, FigureSet, PlannedSet, Table, build

COLUMNS = {
    "fit_level": "IMP level of the reference models the attack was fitted on (a), integer",
    "target_level": "IMP level of the target the fitted attack was applied to (b), integer",
    "fit_arch": "architecture of the reference models the attack was fitted on",
    "target_arch": "architecture of the attacked target",
    "balanced_acc_transferred": "balanced accuracy of the target at level b at the threshold fixed on the fit "
                                "references (level a; one of them playing the target): the transferred decision "
                                "rule, never the target's labels, 0..1",
    "balanced_acc_native": "balanced accuracy of the target at level b with the attack and threshold fitted on its own "
                           "references at b (the native baseline of C5), 0..1",
}
# The plan's primary attack (rmia) first, then the attacks the transfer study has always had.
ATTACKS = ("rmia", "lira_offline", "modified_entropy")


def model_sets(spec: StudySpec) -> list[PlannedSet]:
    """The other architecture's set first: this run's own training, done while 03 may still be building the
    target architecture's set beside it (its chains are locked while built: this run then waits and loads)."""
    other = ([PlannedSet(replace(spec.models, model=spec.transfer_model, controls=()), labels={"role": "other"})]
             if spec.transfer_model and spec.transfer_model != spec.model else [])
    return other + [PlannedSet(spec.models, labels={"role": "own"})]


def transfer(spec: StudySpec, attacks=ATTACKS, levels=None) -> dict:
    """E5 (05_transfer): attacks fitted at level a applied at level b, and across architectures."""
    rec = RunRecorder(spec, EXPERIMENT.name)
    built = {planned.labels["role"]: build(spec, planned) for planned in model_sets(spec)}
    models, other = built["own"], built.get("other")
    levels = list(range(0, spec.models.n_levels + 1, 2)) if levels is None else list(levels)
    frames = [transfer_matrix(models, a, levels, seed=spec.seed) for a in attacks]
    if other is not None:
        frames += [transfer_matrix(models, a, levels, target_models=other, seed=spec.seed) for a in attacks]
    table = pd.concat(frames, ignore_index=True)
    rec.table("transfer", table)
    rec.finish(attacks=list(attacks), levels=levels)
    return {"table": table, "figure": plots.transfer_cost_heatmap(table.assign(seed=spec.seed))}  # one run: one seed


EXPERIMENT = Experiment("transfer", "05_transfer", model_sets=model_sets, tables=(Table("transfer", COLUMNS),),
                        claims=(c5.CLAIM,), replicated=True, heavy=True, reuses="lth_attack",
                        figures=(FigureSet("C5", "transfer",
                                           (("fig_c5_transfer_cost", lambda g, t: plots.transfer_cost_heatmap(g)),)),))
