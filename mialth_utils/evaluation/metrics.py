"""Attack metrics from scores and the true membership of a balanced evaluation set.

This is the only place the target's membership labels enter. Headline: TPR at low FPR (exact, from
sklearn's ``roc_curve``), with N_in / N_out stated and FPRs below 1/N_out marked unresolvable.
Point values come from sklearn; bootstrap intervals from ``bootstrap.bootstrap_metrics`` (array
arithmetic over resamples from one sort, exact to sklearn on every resample).
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from ..data.membership import balanced_eval_indices
from .bootstrap import FPRS, bootstrap_metrics, fpr_label, percentile_ci

def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """Highest TPR among ROC points with FPR <= target (no interpolation)."""
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


PPV_PRIORS = (0.01, 0.10, 0.50)  # membership priors (Jebreel et al.): the share of members among those queried
PPV_FPR = 0.01  # the operating point PPV is reported at


def ppv_label(prior: float, fpr: float = PPV_FPR) -> str:
    """Column name of the PPV at a membership prior, e.g. ``ppv@1%fpr_prior10%``."""
    return f"ppv@{fpr * 100:g}%fpr_prior{prior * 100:g}%"


def ppv(tpr: float, fpr: float, prior: float) -> float:
    """Positive predictive value of a decision with these TPR and FPR when a share ``prior`` of the queried
    examples are members: prior TPR / (prior TPR + (1 - prior) FPR) (NaN when nothing is flagged)."""
    flagged = prior * tpr + (1 - prior) * fpr
    return float(prior * tpr / flagged) if flagged > 0 else float("nan")


def _check(scores: np.ndarray, member: np.ndarray) -> None:
    if scores.shape != member.shape:
        raise ValueError(f"scores shape {scores.shape} != membership shape {member.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf: check the attack's inputs")
    if member.all() or not member.any():
        raise ValueError("the evaluated set has only one class (all members or all non-members)")


def roc(scores: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fpr, tpr, thr = roc_curve(member.astype(int), scores, drop_intermediate=False)
    return fpr, tpr, thr


def _point_metrics(scores, member, fprs) -> dict:
    fpr, tpr, thr = roc(scores, member)
    out = {"auc": float(roc_auc_score(member, scores))}
    bal = (tpr + 1 - fpr) / 2
    best = int(np.argmax(bal))
    out["balanced_acc"] = float(bal[best])
    out["advantage"] = float(np.max(tpr - fpr))
    pred = scores >= thr[best]
    out["precision"] = float(member[pred].mean()) if pred.any() else float("nan")
    out["recall"] = float(tpr[best])
    for f in fprs:
        out[fpr_label(f)] = tpr_at_fpr(fpr, tpr, f)
    for prior in PPV_PRIORS:  # at the nominal FPR: a lower bound of the PPV of the point TPR@1% was read at
        out[ppv_label(prior)] = ppv(tpr_at_fpr(fpr, tpr, PPV_FPR), PPV_FPR, prior)
    return out


def evaluate(scores: np.ndarray, member_mask: np.ndarray, *, candidates: np.ndarray | None = None,
             fprs=FPRS, n_boot: int = 200, seed: int = 0, threshold: float | None = None) -> dict:
    """Metrics of an attack's ``scores`` (N,) against true membership (N,) on a balanced subset.

    ``candidates`` restricts the game (disjoint design); ``threshold`` (fixed on reference data)
    adds ``balanced_acc_fixed``. ``ppv@1%fpr_prior<p>%``: the PPV of the TPR@1% decision at membership
    priors of 1, 10 and 50% (the FPR taken at its nominal 1%, so a lower bound). Bootstrap 95% CIs (members and non-members resampled separately)
    for AUC and the TPR@FPR values.
    """
    scores, member = np.asarray(scores, float), np.asarray(member_mask, bool)
    if scores.shape != member.shape:
        raise ValueError(f"scores shape {scores.shape} != membership shape {member.shape}")
    idx = balanced_eval_indices(member, candidates, seed)
    s, m = scores[idx], member[idx]
    _check(s, m)
    n_in, n_out = int(m.sum()), int((~m).sum())
    out = {"n_in": n_in, "n_out": n_out, **_point_metrics(s, m, fprs)}
    for f in fprs:
        out[fpr_label(f) + "_resolvable"] = bool(f == 0.0 or f >= 1.0 / n_out)
    if threshold is not None:
        pred = s >= threshold
        out["balanced_acc_fixed"] = float((pred[m].mean() + (1 - pred[~m].mean())) / 2)
    if n_boot:
        samples = bootstrap_metrics(s, m, n_boot, seed=seed + 1, fprs=fprs)
        for k, values in samples.items():
            out[k + "_ci_low"], out[k + "_ci_high"] = (float(v) for v in percentile_ci(values))
    return out


def roc_points(scores: np.ndarray, member_mask: np.ndarray, seed: int = 0, candidates=None) -> dict:
    """The ROC of the balanced evaluation set, for log-log plots."""
    idx = balanced_eval_indices(np.asarray(member_mask, bool), candidates, seed)
    fpr, tpr, _ = roc(np.asarray(scores)[idx], np.asarray(member_mask, bool)[idx])
    return {"fpr": fpr, "tpr": tpr}
