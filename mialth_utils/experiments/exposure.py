"""E7 (07_sample_trajectories): which examples become more or less exposed from level to level."""
from __future__ import annotations

from ..attacks.registry import get_attack
from ..config import StudySpec
from ..evaluation.analysis import level_scores, trajectory_summary
from ..reporting import plots
from ..reporting.results import RunRecorder
from .base import Experiment, PlannedSet, Table, build

COLUMNS = {
    "from_level": "IMP level a of the pair (a, b) compared, integer",
    "to_level": "IMP level b of the pair (a, b) compared, integer",
    "spearman": "Spearman rank correlation of the per-example scores at a and b, -1..1 (0 = independent)",
    "newly_exposed": "members in the top set (top top_frac of scores) at b but not at a, integer",
    "newly_protected": "members in the top set at a but not at b, integer",
    "exposed_both": "members in the top set at a and at b, integer",
    "label": "class index of the examples, integer",
    "exposed_frac": "share of the class's members in the top set at that level, 0..1 (chance: top_frac)",
}


def model_sets(spec: StudySpec) -> list[PlannedSet]:
    return [PlannedSet(spec.models)]


def trajectories(spec: StudySpec, attack: str = "lira_online", top_frac: float = 0.05) -> dict:
    """E7 (07_sample_trajectories): which examples become more or less exposed from level to level."""
    get_attack(attack)
    rec = RunRecorder(spec, EXPERIMENT.name)
    models = build(spec, model_sets(spec)[0])
    scores = level_scores(models, attack, seed=spec.seed)
    summary, per_class = trajectory_summary(scores, top_frac)
    summary.insert(0, "attack", attack)
    rec.table("trajectories", summary)
    rec.table("trajectories_per_class", per_class)
    fig = plots.trajectory_panel(summary, per_class, models.data.classes, top_frac)
    plots.save_figure(fig, f"{spec.run_id}_trajectories", spec.results_dir)
    rec.finish(attack=attack, top_frac=top_frac)
    return {"scores": scores, "summary": summary, "per_class": per_class, "figure": fig}


EXPERIMENT = Experiment("trajectories", "07_sample_trajectories", model_sets=model_sets, reuses="lth_attack",
                        tables=(Table("trajectories", COLUMNS), Table("trajectories_per_class", COLUMNS)))
