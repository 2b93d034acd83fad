"""E8 (11_ticket_chain): what the whole IMP chain leaks. The chain attacks (``attacks.chain``: the dense model
and its tickets seen together) and the zero-reference estimates of LiRA's TPR at low FPR (the loss tail after
Dodd et al. 2025, the loss trace over levels after Pollock et al. 2024), every model of the set the target
once (leave-one-out), from the saved logits of the model set 03_lth_attack trains."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .. import signals as S
from ..analysis_plan import section
from ..attacks.chain import chain_features, chain_scores
from ..attacks.registry import get_attack
from ..claims import e8
from ..claims.scores import tpr_column
from ..config import StudySpec
from ..data.membership import balanced_eval_indices
from ..data.views import augmentation_indices
from ..evaluation.audit import leave_one_out_targets
from ..evaluation.metrics import evaluate
from ..log import progress
from ..reporting.results import RunRecorder
from ..figures import chain as chain_figures
from .base import Experiment, FigureSet, PlannedSet, Table, build

log = logging.getLogger(__name__)
ZR = section("zero_reference")
COLUMNS = {
    "chain_levels": "number of models of the chain the attack saw: 2 for chain_sr (dense and the ticket at "
                    "`level`), level + 1 for chain_mr (levels 0..level), integer",
    "measured_tpr": "LiRA online's TPR at the plan's zero_reference fpr on this target and level (leave-one-out "
                    "references), 0..1",
    "tail_estimate": "zero-reference estimate of measured_tpr: the share of the target's evaluated non-members whose "
                     "loss exceeds the members' (1 - fpr) loss quantile (after Dodd et al. 2025), 0..1",
    "tail_error": "tail_estimate - measured_tpr",
    "lt_iqr_k": "k of lt_iqr_precision: the members LiRA online finds at fpr, at least the plan's lt_iqr_min_k, "
                "integer",
    "lt_iqr_precision": "share of LiRA online's k highest-scored evaluated members that are also among the k with the "
                        "largest interquartile range of their loss over levels 0..level (after Pollock et al. 2024; "
                        "chance k / n members), 0..1; empty at levels < 2",
    "lt_iqr_chance": "k / number of evaluated members: lt_iqr_precision of a random ranking, 0..1",
}


def model_sets(spec: StudySpec) -> list[PlannedSet]:
    return [PlannedSet(spec.models)]


def zero_reference(loss: np.ndarray, lira: np.ndarray, member: np.ndarray, idx: np.ndarray, level: int,
                   measured: float, plan: dict = ZR) -> dict:
    """One target and level: the loss-tail estimate of LiRA's TPR at ``plan['fpr']`` and the LT-IQR precision
    at k against LiRA's ranking of the members (``loss`` (N, L + 1) of the target, ``lira`` (N,) its scores
    at ``level``, ``idx`` the evaluated examples)."""
    fpr = float(plan["fpr"])
    e_member, e_non = idx[member[idx]], idx[~member[idx]]
    tau = np.quantile(loss[e_member, level], 1 - fpr)
    estimate = float((loss[e_non, level] > tau).mean())
    row = {"measured_tpr": measured, "tail_estimate": estimate, "tail_error": estimate - measured}
    if level >= 2:
        k = max(int(plan["lt_iqr_min_k"]), int(round(measured * len(e_member))))
        iqr = np.subtract(*np.quantile(loss[e_member, :level + 1], [0.75, 0.25], axis=1))
        top_lira = set(e_member[np.argsort(-lira[e_member], kind="stable")[:k]])
        top_iqr = set(e_member[np.argsort(-iqr, kind="stable")[:k]])
        row.update(lt_iqr_k=k, lt_iqr_precision=len(top_lira & top_iqr) / k, lt_iqr_chance=k / len(e_member))
    return row


def level_outputs(models, targets: list[int], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level by level, every model's logits read once from the store: logit-scaled confidences
    (M, Q_aug, N, L + 1), the identity view's loss (M, N, L + 1) and the plan's measured attack's scores
    (targets, L + 1, N), each target's references the other models of the set."""
    game, n_models = models.game, models.membership.n_models
    aug = augmentation_indices(game.views)
    phi, loss, scores = [], [], []
    for level in progress(range(models.spec.n_levels + 1), desc="levels"):
        logits = np.stack([models.logits(m, level) for m in range(n_models)])  # (M, Q, N + P, C)
        phi.append(chain_features(logits[:, None], game.labels, aug)[..., 0])
        loss.append(S.loss(logits[:, 0, :game.n_pool], game.labels))
        at_level = []
        for target in targets:
            refs = [m for m in range(n_models) if m != target]
            data = S.build_attack_data(game, logits[target], logits[refs], refs)
            at_level.append(get_attack(ZR["measured_attack"], seed).fit(data).score(data))
        scores.append(np.stack(at_level))
    return np.stack(phi, -1), np.stack(loss, -1), np.stack(scores, 1)


def ticket_chain(spec: StudySpec) -> dict:
    """E8 (11_ticket_chain): chain_sr and chain_mr at every level, LiRA online's measured TPR beside the
    zero-reference estimates, every model of the set the target once."""
    rec = RunRecorder(spec, EXPERIMENT.name)
    models = build(spec, model_sets(spec)[0])
    membership, targets = models.membership, leave_one_out_targets(models)
    phi, loss, measured_scores = level_outputs(models, targets, spec.seed)
    fpr_column = tpr_column(float(ZR["fpr"]))
    chain_rows, zr_rows = [], []
    for i, target in enumerate(progress(targets, desc="targets")):
        member = membership.member_mask(target)
        idx = balanced_eval_indices(member, membership.target_pool, spec.seed)
        def metrics(scores):
            return evaluate(scores, member, candidates=membership.target_pool, n_boot=0, seed=spec.seed)
        for (attack, level), scores in chain_scores(phi, membership.keep, target,
                                                    range(1, spec.models.n_levels + 1)).items():
            chain_rows.append({"target_model": target, "attack": attack, "level": level,
                               **_model_info(models, target, level), "n_refs": membership.n_models - 1,
                               "chain_levels": 2 if attack == "chain_sr" else level + 1, **metrics(scores)})
        for level in range(spec.models.n_levels + 1):
            lira = measured_scores[i, level]
            zr_rows.append({"target_model": target, "level": level, **_model_info(models, target, level),
                            **zero_reference(loss[target], lira, member, idx, level, metrics(lira)[fpr_column])})
    chain, zr = pd.DataFrame(chain_rows), pd.DataFrame(zr_rows)
    rec.table("chain", chain)
    rec.table("zero_reference", zr)
    deepest = chain[(chain["attack"] == "chain_mr") & (chain["level"] == spec.models.n_levels)]
    log.info("chain_mr over levels 0..%d: TPR@1%%FPR %.4f (mean over %d targets)", spec.models.n_levels,
             deepest["tpr@1%fpr"].mean(), len(deepest))
    rec.finish(n_levels=spec.models.n_levels)
    return {"chain": chain, "zero_reference": zr, "figure": chain_figures.chain_gain(chain, {"zero_reference": zr}),
            "zero_reference_figure": chain_figures.zero_reference(zr, {})}


def _model_info(models, target: int, level: int) -> dict:
    info = models.metrics(target, level)
    return {key: info[key] for key in ("sparsity", "test_acc", "gap") if key in info}


EXPERIMENT = Experiment(
    "ticket_chain", "11_ticket_chain", model_sets=model_sets, reuses="lth_attack", replicated=True,
    tables=(Table("chain", COLUMNS), Table("zero_reference", COLUMNS)), claims=(e8.CLAIM,),
    figures=(FigureSet("E8", "chain", (("fig_e8_chain", chain_figures.chain_gain),)),
             FigureSet("zero_reference", "zero_reference", (("fig_zero_reference", chain_figures.zero_reference),))))
