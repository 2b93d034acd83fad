"""10_defences: DP-SGD, PPB, label smoothing, weight decay and early stopping, each on target and
references, dense and an IMP ticket, every attack; the privacy-utility frontier."""
from __future__ import annotations

from ..config import StudySpec, study_spec
from ..evaluation.defended import SIZES as DEFENCE_SIZES
from ..evaluation.defended import audit_defences, defence_settings, defended_spec
from ..reporting import defences as defence_report
from ..reporting import plots
from ..reporting.results import RunRecorder
from ..runtime import resolve_device
from .base import Experiment, FigureSet, PlannedSet, Table

COLUMNS = {
    "defence": "defence applied to target and reference models alike: none (undefended), dp_eps<epsilon> (DP-SGD), "
               "ppb, label_smoothing, weight_decay, early_stopping",
    "defence_setting": "the training settings the defence changed, as name=value (undefended: none changed)",
    "dp_epsilon_target": "epsilon DP-SGD was asked to reach in one training run (TrainSpec.target_epsilon)",
    "dp_epsilon_run": "epsilon one DP-SGD training run spent (Opacus RDP accountant, at dp_delta)",
    "dp_epsilon_spent": "epsilon the model cost in all: its DP-SGD runs composed over the IMP levels that made it "
                        "(RDP; level 0: one run), at dp_delta",
    "dp_delta": "DP delta of the epsilons (default 1 / number of training examples)",
    "dp_noise_multiplier": "Gaussian noise std / clipping norm Opacus chose to reach dp_epsilon_target",
    "early_stop_epoch": "epoch whose weights early stopping kept (best held-out accuracy), integer",
    "early_stop_heldout_acc": "held-out accuracy (even-indexed half of the test split) at early_stop_epoch, 0..1",
    "judged_by": "which attack judged the defence: lira_online, or strongest (the attack with the highest value of "
                 "the metric on that model)",
    "metric": "attack metric the row compares, e.g. tpr@0.1%fpr, tpr@1%fpr",
    "strongest_attack": "the attack with the highest metric on the defended model (judged_by = strongest)",
    "undefended_strongest_attack": "the attack with the highest metric on the undefended model at the same level",
    "defended": "the metric on the defended model, 0..1",
    "defended_ci_low": "lower end of the bootstrap 95% interval of defended, 0..1",
    "defended_ci_high": "upper end of the bootstrap 95% interval of defended, 0..1",
    "undefended": "the metric on the undefended model of the same setting and level, 0..1",
    "undefended_ci_low": "lower end of the bootstrap 95% interval of undefended, 0..1",
    "undefended_ci_high": "upper end of the bootstrap 95% interval of undefended, 0..1",
    "undefended_test_acc": "test accuracy of the undefended target at the same level, 0..1",
    "accuracy_cost": "undefended_test_acc - test_acc: accuracy points (as a fraction) the defence cost, -1..1",
    "effect": "reduces | increases | no measurable change | not resolvable, by the rule in the row's rule column",
    "defences": "defence settings of the run (list)",
}
SPEC_PARAMS = ("profile", "dataset", "model", "seed", "device", "results_dir")


def defence_sizes(profile: str, **given) -> dict:
    """The defences notebook's model-set sizes at ``profile``; a given value (not None) wins."""
    return {**DEFENCE_SIZES.get(profile, {}), **{k: v for k, v in given.items() if v is not None}}


def spec_for(params: dict) -> StudySpec:
    """The spec notebook 10 builds from its parameters (sizes by ``defence_sizes``)."""
    sizes = defence_sizes(params.get("profile", "quick"), **{k: params.get(k) for k in ("n_models", "n_levels", "epochs")})
    return study_spec(**{k: v for k, v in params.items() if k in SPEC_PARAMS}, **sizes)


def model_sets(spec: StudySpec, settings: dict | None = None) -> list[PlannedSet]:
    """One model set per defence setting (default: ``defence_settings()``, the notebook's defaults)."""
    settings = defence_settings() if settings is None else settings
    return [PlannedSet(defended_spec(spec, changes), labels={"defence": name}) for name, changes in settings.items()]


def defences(spec: StudySpec, epsilons=(8.0,), ppb_lambda: float = 1.0, label_smoothing: float = 0.1,
             weight_decay: float = 5e-3, early_stop_patience: int = 2, max_grad_norm: float = 1.0,
             levels=None) -> dict:
    """10_defences: each defence on target and references, dense and IMP, every attack, the frontier."""
    rec = RunRecorder(spec, EXPERIMENT.name)
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


EXPERIMENT = Experiment(
    "defences", "10_defences", model_sets=model_sets, spec_for=spec_for, heavy=True,
    tables=(Table("defences", COLUMNS), Table("defence_models", COLUMNS, of_models=True),
            Table("defence_effects", COLUMNS)),
    figures=(FigureSet("defences", "defences", (("fig_defences_frontier", lambda g, t: plots.privacy_utility_frontier(
        defence_report.frontier_points(g))),)),))
