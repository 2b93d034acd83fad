"""09_audit_your_model: audit a target trained outside the kit (its state_dict or logits, its member
indices, its recipe): references trained with the target's recipe (and pruning), every attack on it."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..attacks.registry import default_attacks
from ..config import StudySpec, study_spec
from ..data.registry import load_dataset
from ..evaluation.defended import AUDIT_SIZES
from ..evaluation.metrics import roc_points
from ..evaluation.target_audit import ExternalTargetSet, audit_target
from ..reporting import plots
from ..reporting.results import RunRecorder
from ..runtime import resolve_device
from .base import Experiment, PlannedSet, Table, data_location, legend

COLUMNS = {
    "target_source": "how an audited external target was given: state_dict or logits",
    "n_references": "reference models trained for an audit, integer",
}
SPEC_PARAMS = ("profile", "dataset", "model", "seed", "device", "results_dir", "data_path", "image_size")


def audit_sizes(profile: str, **given) -> dict:
    """The audit notebook's reference count and recipe at ``profile``; a given value (not None) wins."""
    return {**AUDIT_SIZES.get(profile, {}), **{k: v for k, v in given.items() if v is not None}}


def spec_for(params: dict) -> StudySpec:
    """The spec notebook 09 builds from its parameters (sizes and recipe by ``audit_sizes``)."""
    sizes = audit_sizes(params.get("profile", "quick"), n_models=params.get("n_models"),
                        prune_frac=params.get("prune_frac"), **params.get("recipe", {}))
    return study_spec(**{k: v for k, v in params.items() if k in SPEC_PARAMS}, **sizes)


def demo_members(spec: StudySpec, n_train: int, n_members: int | None = None) -> np.ndarray:
    """The training-split indices the demo target trains on (seeded: the plan knows them in advance)."""
    n_members = n_members or min(1000, n_train // 4)
    return np.sort(np.random.default_rng((spec.seed, 9)).choice(n_train, n_members, replace=False))


def model_sets(spec: StudySpec, level: int = 0, member_idx=None) -> list[PlannedSet]:
    """The references around the target (rows 1.. of its game; row 0 is the target, trained outside the
    kit or by ``train_demo_target``, whose members are used when none are given)."""
    models = replace(spec.models, n_levels=level, controls=())
    if member_idx is None:
        member_idx = demo_members(spec, len(load_dataset(spec.dataset, seed=spec.seed, **data_location(spec)).train_y))

    def game(device, cache_dir) -> ExternalTargetSet:
        return ExternalTargetSet(models, member_idx, device, cache_dir)

    return [PlannedSet(models, game=game, trained_rows=tuple(range(1, models.n_models)))]


def train_demo_target(spec: StudySpec, folder, n_members: int | None = None) -> dict:
    """A stand-in for a user's target (09_audit_your_model without a target): a model of ``spec.model``
    trained with the recipe on ``n_members`` seeded examples; writes state.pt and members.npy."""
    import torch

    from ..models import make_model
    from ..training.loop import train

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = load_dataset(spec.dataset, seed=spec.seed, **data_location(spec))
    members = demo_members(spec, len(data.train_y), n_members)
    net = make_model(spec.model, data, spec.seed + 77)
    train(net, data, torch.from_numpy(members), spec.models.train, seed=spec.seed + 78, desc="demo target")
    torch.save(net.state_dict(), folder / "state.pt")
    np.save(folder / "members.npy", members)
    return {"state_path": str(folder / "state.pt"), "members_path": str(folder / "members.npy")}


def audit_your_model(spec: StudySpec, members_path: str, state_path: str = "", logits_path: str = "",
                     level: int = 0) -> dict:
    """09_audit_your_model: references trained with the target's recipe (and pruning, at ``level``),
    every attack on the target, the table, the ROC figure and the reference models' table."""
    rec = RunRecorder(spec, EXPERIMENT.name)
    planned = model_sets(spec, level, np.load(members_path))[0]
    game = planned.game(resolve_device(spec.device), spec.cache_dir).build()
    rows, scores, info = audit_target(game, default_attacks(spec.fast_attacks, spec.seed), state_path=state_path or None,
                                      logits_path=logits_path or None, level=level, n_boot=spec.n_boot,
                                      seed=spec.seed)
    rec.table("audit", rows)
    refs = game.reference_table(level)
    rec.table("audit_references", refs)
    member = game.membership.keep[0]
    n_out = min(int(member.sum()), int((~member).sum()))  # the balanced evaluation set's non-members
    curves = {name: {**roc_points(s, member, spec.seed), **legend(rows.assign(level=level), level, name)}
              for name, s in scores.items()}
    fig = plots.roc_loglog(curves, n_out, "Every attack on your model")
    plots.save_figure(fig, f"{spec.run_id}_audit_roc", spec.results_dir)
    rec.finish(target_source=info["target_source"], level=level, n_references=spec.models.n_models - 1,
               n_pool=int(game.spec.n_pool))
    return {"attacks": rows, "references": refs, "target": info, "figure": fig, "game": game}


EXPERIMENT = Experiment("audit", "09_audit_your_model", model_sets=model_sets, spec_for=spec_for,
                        tables=(Table("audit", COLUMNS), Table("audit_references", COLUMNS, of_models=True)))
