"""E6 (06_compression_cmmia): every compression method on target and references; the named baselines and
CM-MIA with matched, mismatched (dense) and mixture shadows, at thresholds fixed on reference models, on
all examples and on CM-MIA's abnormal subset; claim E6."""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from .. import signals as S
from ..attacks.cmmia import mixed_attack_data
from ..attacks.registry import cmmia_attacks, get_attack
from ..data.membership import balanced_eval_indices
from ..claims import e6, e6q
from ..config import StudySpec
from ..evaluation.audit import run_attacks
from ..evaluation.metrics import evaluate
from ..modelsets import CompressedModelSet
from ..reporting import plots
from ..reporting.results import RunRecorder
from ..sparsity.compress import Compression
from .base import Experiment, FigureSet, PlannedSet, Table, build

log = logging.getLogger(__name__)
# The baselines CM-MIA is compared with, named in advance (the claim's own pairs are claims.e6.E6_BASELINES).
E6_BASELINE_ATTACKS = ("loss", "modified_entropy", "lira_offline", "lira_online", "rmia")
COLUMNS = {
    "compression": "compressed-model label: prune-<fraction>, structured-<fraction>, quant-<bits>, "
                   "distill-<student>, imp-<level>",
    "method": "compression family: prune, structured, quant, distill, imp",
    "nonzero_params": "number of non-zero parameters of the compressed model, integer",
    "macs": "multiply-accumulates per example of the compressed model's forward pass, integer",
    "bits": "bit width of the quantized weights (quant only, else empty), integer",
    "shadows": "matched (shadows compressed like the target) | mismatched (another method) | mixture (every "
               "method)",
    "auc_abnormal": "AUC of the attack on CM-MIA's abnormal (tested) subset only, 0..1",
    "n_tested": "number of examples CM-MIA tested (its abnormal subset), integer",
    "tested_frac": "n_tested / number of evaluated examples, 0..1",
    "precision_at_alpha": "precision of CM-MIA's hypothesis test at its significance level alpha, 0..1",
    "recall_at_alpha": "recall of CM-MIA's hypothesis test at its significance level alpha, 0..1",
    "n_predicted_members": "number of examples CM-MIA's test declared members at alpha, integer",
    "cost_seconds": "wall-clock seconds CM-MIA took for one target end to end (features, neighbour search, tests)",
    "n_abnormal_eval": "number of examples of CM-MIA's abnormal subset the _abnormal metrics were computed on, integer",
    "asr": "CM-MIA's attack success rate by its own decision rule: balanced accuracy of its p < alpha member "
           "decisions on the balanced evaluation set (cm_mia rows only), 0..1",
    "untestable": "number of examples CM-MIA could not test (no OUT shadow model; never declared members), integer",
    "test_used": "CM-MIA's hypothesis test: empirical (enough OUT shadows for p < alpha) or gaussian",
    "distill_role": "teacher (the dense target) | student (the target distilled into the smaller model)",
    "group": "member | non_member: the target's (the teacher's) training membership of the pool examples",
    "mean_loss": "mean cross-entropy of the model on the group's evaluated examples (identity view)",
    "mean_confidence": "mean softmax probability of the true class on the group's evaluated examples, 0..1",
    "group_accuracy": "share of the group's evaluated examples the model classifies correctly, 0..1",
    "n_examples": "number of evaluated examples in the group, integer",
}
# Quantization below 4 bits (Bits for Privacy, arXiv 2512.15335) is attacked for E6Q only: it stays out of
# the mixture shadows and so out of E6, which judges the compressions it was planned on.
E6_MIN_BITS = 4


def in_mixture(compression: Compression) -> bool:
    """Whether a compression takes part in E6's mixture shadows (and so in E6's averages)."""
    return compression.method != "quant" or int(compression.amount) >= E6_MIN_BITS


def model_sets(spec: StudySpec) -> list[PlannedSet]:
    """The base set (to the deepest IMP level asked for), then each compression of it but ``imp`` (which
    is a level of the base set)."""
    level = max((int(a) for m, a in spec.compressions if m == "imp"), default=0)
    base = replace(spec.models, controls=(), n_levels=level)
    return [PlannedSet(base)] + [PlannedSet(base, Compression(m, a)) for m, a in spec.compressions if m != "imp"]


def compression_cmmia(spec: StudySpec) -> dict:
    """E6 (06_compression_cmmia): every compression method, the baselines and CM-MIA, three shadow settings."""
    rec = RunRecorder(spec, EXPERIMENT.name)
    base = build(spec, model_sets(spec)[0])
    dense = CompressedModelSet(base, Compression("imp", 0))
    sets = {}
    for method, amount in spec.compressions:
        cset = CompressedModelSet(base, Compression(method, amount)).build(spec.workers, spec.scheduler)
        sets[cset.compression.label] = cset
    member = base.membership.member_mask(0)
    models = pd.DataFrame([{**cset.metrics(0), "compression": label} for label, cset in sets.items()])
    rec.table("compression_models", models.drop(columns=["sparsity_per_layer"], errors="ignore"))
    frames, mixture = [], [cset for cset in sets.values() if in_mixture(cset.compression)]
    for label, cset in sets.items():
        shadows = (("matched", [cset]), ("mismatched", [dense])) + ((("mixture", mixture),)
                                                                    if in_mixture(cset.compression) else ())
        for setting, refs in shadows:
            df = attack_compressed(mixed_attack_data(cset, refs), member, spec)
            df["compression"], df["shadows"], df["target_test_acc"] = label, setting, cset.metrics(0)["test_acc"]
            frames.append(df)
        log.info("%s: attacked with matched, mismatched and mixture shadows", label)
    table = pd.concat(frames, ignore_index=True)
    rec.table("compression", table)
    students = [cset for cset in sets.values() if cset.compression.method == "distill"]
    if students:
        rec.table("distill_split", distill_split(dense, students[0], member, spec.seed))
    rec.finish(compressions=list(sets))
    return {"models": models, "table": table, "figure": plots.compression_panel(table)}


def attack_compressed(data, member: np.ndarray, spec: StudySpec) -> pd.DataFrame:
    """The named baselines and CM-MIA on one compressed target: metrics on all examples at thresholds
    fixed on reference models; for every attack its AUC on CM-MIA's abnormal subset; for CM-MIA the
    share tested, precision / recall of its p < alpha decisions and its end-to-end cost."""
    attacks = [get_attack(name, spec.seed) for name in E6_BASELINE_ATTACKS] + cmmia_attacks()
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
            row.update(asr=decision_balanced_acc(decided, member, spec.seed), untestable=attack.untestable_,
                       n_tested=int(attack.tested_.sum()), tested_frac=float(attack.tested_.mean()),
                       n_predicted_members=int(decided.sum()), test_used=attack.test_used_,
                       precision_at_alpha=float(member[decided].mean()) if decided.any() else float("nan"),
                       recall_at_alpha=float(decided[member].mean()), cost_seconds=attack.cost_seconds_)
        extras.append(row)
    return df.merge(pd.DataFrame(extras), on="attack", how="left")


def distill_split(teacher: CompressedModelSet, student: CompressedModelSet, member: np.ndarray,
                  seed: int) -> pd.DataFrame:
    """Teacher (the dense target) and its distilled student on the teacher's members and non-members apart
    (Jagielski et al. 2023): loss, true-class confidence and accuracy per group, on the target's balanced
    evaluation set (identity view). A student that keeps the teacher's member / non-member gap leaks it."""
    idx = balanced_eval_indices(member, None, seed)
    labels = teacher.game.labels[idx]
    rows = []
    for role, cset in (("teacher", teacher), ("student", student)):
        logits = cset.logits(0)[0, :teacher.game.n_pool][idx]
        loss, conf = S.loss(logits, labels), S.true_class_prob(logits, labels)
        hit = S.correct(logits, labels)
        for group, sel in (("member", member[idx]), ("non_member", ~member[idx])):
            rows.append({"compression": student.compression.label, "distill_role": role, "group": group,
                         "mean_loss": float(loss[sel].mean()), "mean_confidence": float(conf[sel].mean()),
                         "group_accuracy": float(hit[sel].mean()), "n_examples": int(sel.sum())})
    return pd.DataFrame(rows)


def decision_balanced_acc(decided: np.ndarray, member: np.ndarray, seed: int) -> float:
    """CM-MIA's attack success rate by its own decision rule: balanced accuracy of its member / non-member
    decisions on the target's balanced evaluation set (the one every metric of the row is computed on)."""
    idx = balanced_eval_indices(member, None, seed)
    d, m = decided[idx], member[idx]
    return float((d[m].mean() + (1 - d[~m].mean())) / 2)


EXPERIMENT = Experiment("compression", "06_compression_cmmia", model_sets=model_sets,
                        tables=(Table("compression_models", COLUMNS, of_models=True), Table("compression", COLUMNS),
                                Table("distill_split", COLUMNS, of_models=True)),
                        claims=(e6.CLAIM, e6q.CLAIM), heavy=True, replicated=True,
                        figures=(FigureSet("E6", "compression",
                                           (("fig_e6_compression", lambda g, t: plots.compression_panel(g)),)),))
