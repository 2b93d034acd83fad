"""Report sections that estimate rather than judge: the zero-reference estimates of LiRA's TPR at low FPR
(``zero_reference.csv``, 11_ticket_chain) and the distilled student against its teacher on the teacher's
members and non-members apart (``distill_split.csv``, 06_compression_cmmia). Every interval is a t-interval
across seeds of a per-seed statistic (the seed's mean over its target models)."""
from __future__ import annotations

import pandas as pd

from ..analysis_plan import section
from ..stats import seed_interval


def _interval(per_seed: pd.Series, scale: float = 1.0) -> str:
    mean, low, high = seed_interval(per_seed)
    return f"{scale * mean:.4f} [{scale * low:.4f}, {scale * high:.4f}]"


def zero_reference_lines(zr: pd.DataFrame | None, figures: list[str] | None = None) -> list[str]:
    """The loss-tail estimate's error against LiRA online's measured TPR (all levels, the dense model, the
    deepest ticket) and LT-IQR's precision at k, per setting."""
    if zr is None or zr.empty:
        return []
    plan = section("zero_reference")
    fpr = 100 * float(plan["fpr"])
    lines = ["## Zero-reference estimates of LiRA's TPR at low FPR", "",
             f"No reference model is trained for these. Loss tail (after Dodd et al., arXiv 2510.19773): the share "
             f"of the target's non-members beyond the members' {100 - fpr:g}th loss percentile, an estimate of "
             f"{plan['measured_attack']}'s TPR at {fpr:g}% FPR (it uses the target's own training membership, as its "
             "owner would). LT-IQR (after Pollock et al., arXiv 2411.05743): the interquartile range of each member's "
             "loss over IMP levels 0..L, as precision at k against LiRA's k most exposed members. Per seed the mean "
             "over target models (and levels), then the mean over seeds with its 95% t-interval.", ""]
    lines += (figures or []) + ([""] if figures else [])
    for key, rows in zr.groupby(["dataset", "model_arch", "settings_hash"]):
        deepest = int(rows["level"].max())
        absolute = rows.assign(abs_error=rows["tail_error"].abs())
        by_seed = lambda frame, column: frame.groupby("seed")[column].mean()  # noqa: E731
        lines.append(f"- {key[0]}/{key[1]} [{key[2][:8]}], {rows['seed'].nunique()} seeds, levels 0..{deepest}:")
        lines.append(f"  - loss tail, mean |estimate - measured| over all levels: {_interval(by_seed(absolute, 'abs_error'))}; "
                     f"signed error {_interval(by_seed(rows, 'tail_error'))} (positive: the estimate overstates).")
        for level, name in ((0, "dense model"), (deepest, f"deepest ticket (level {deepest})")):
            at = rows[rows["level"] == level]
            lines.append(f"  - {name}: estimate {_interval(by_seed(at, 'tail_estimate'))} vs measured "
                         f"{_interval(by_seed(at, 'measured_tpr'))}.")
        lines += ["", "  | level | sparsity | measured TPR | tail estimate | error [95% CI] | abs. error [95% CI] | "
                  "LT-IQR precision (chance) |", "  | --- | --- | --- | --- | --- | --- | --- |"]
        for level, at in absolute.groupby("level"):
            iqr = (f"{by_seed(at, 'lt_iqr_precision').mean():.3f} ({by_seed(at, 'lt_iqr_chance').mean():.3f})"
                   if "lt_iqr_precision" in at and at["lt_iqr_precision"].notna().any() else "")
            lines.append(f"  | {int(level)} | {at['sparsity'].mean():.3f} | {by_seed(at, 'measured_tpr').mean():.4f} | "
                         f"{by_seed(at, 'tail_estimate').mean():.4f} | {_interval(by_seed(at, 'tail_error'))} | "
                         f"{_interval(by_seed(at, 'abs_error'))} | {iqr} |")
        lines.append("")
        if "lt_iqr_precision" in rows and rows["lt_iqr_precision"].notna().any():
            at = rows[rows["level"] == deepest]
            lines.append(f"  - LT-IQR over levels 0..{deepest}: precision at k {_interval(by_seed(at, 'lt_iqr_precision'))}"
                         f" against chance {by_seed(at, 'lt_iqr_chance').mean():.4f} (k = {at['lt_iqr_k'].mean():.0f} "
                         "members on average).")
    return lines + [""]


def distill_lines(split: pd.DataFrame | None) -> list[str]:
    """Teacher and student loss on the teacher's members and non-members, and the student's member /
    non-member loss gap against the teacher's (Jagielski et al. 2023), per setting."""
    if split is None or split.empty:
        return []
    lines = ["## Distillation: student against teacher, members and non-members apart", "",
             "The dense target (teacher) and its distilled student, on the teacher's members and non-members of the "
             "target's evaluation set: mean loss per group, and the loss gap non-members minus members (a student "
             "that keeps the teacher's gap carries its membership signal). Mean over seeds, 95% t-interval.", ""]
    for key, rows in split.groupby(["dataset", "model_arch", "settings_hash", "compression"]):
        loss = rows.pivot_table(index="seed", columns=["distill_role", "group"], values="mean_loss")
        lines.append(f"- {key[0]}/{key[1]} [{key[2][:8]}], {key[3]}, {len(loss)} seeds:")
        for role in ("teacher", "student"):
            if (role, "member") in loss and (role, "non_member") in loss:
                gap = loss[(role, "non_member")] - loss[(role, "member")]
                lines.append(f"  - {role}: loss on members {_interval(loss[(role, 'member')])}, on non-members "
                             f"{_interval(loss[(role, 'non_member')])}, gap {_interval(gap)}.")
        if all((r, g) in loss for r in ("teacher", "student") for g in ("member", "non_member")):
            ratio = ((loss[("student", "non_member")] - loss[("student", "member")])
                     / (loss[("teacher", "non_member")] - loss[("teacher", "member")]))
            lines.append(f"  - the student keeps {_interval(ratio, 100)} % of the teacher's member / non-member loss gap.")
    return lines + [""]
