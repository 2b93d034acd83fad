"""Every attack side by side on the dense model and the deepest IMP ticket: TPR at 1% FPR with its
t-interval over seeds, AUC and the PPV at membership priors of 1/10/50% (Jebreel et al.), per setting.
A description, not a verdict: which attack is strongest is read off, no rule decides it."""
from __future__ import annotations

import pandas as pd

from ..evaluation.metrics import PPV_PRIORS, ppv_label
from ..experiments.base import settings
from ..stats import seed_interval

METRIC = "tpr@1%fpr"


def attack_summary(attacks: pd.DataFrame) -> pd.DataFrame:
    """Per setting, level (dense and deepest IMP level) and attack: the mean over seeds of the per-seed mean
    over target models of TPR@1%FPR (with its 95% t-interval over seeds), AUC and the PPVs; strongest first."""
    ppv = [ppv_label(p) for p in PPV_PRIORS if ppv_label(p) in attacks]
    rows = []
    for key, table in settings(attacks):
        imp = table[(table["branch"] == "imp") & table["auc"].notna()] if "branch" in table else table
        if imp.empty:
            continue
        for level in sorted({0, int(imp["level"].max())}):
            at = imp[imp["level"] == level]
            for attack, g in at.groupby("attack"):
                per_seed = g.groupby("seed")[[METRIC, "auc", *ppv]].mean()
                mean, low, high = seed_interval(per_seed[METRIC])
                rows.append({"setting": key, "level": level, "sparsity": float(g["sparsity"].mean()), "attack": attack,
                             "n_refs": int(g["n_refs"].max()), "n_seeds": len(per_seed),
                             "targets_per_seed": float(g.groupby("seed")["target_model"].nunique().mean())
                             if "target_model" in g else 1.0,
                             METRIC: mean, "ci_low": low, "ci_high": high, "auc": float(per_seed["auc"].mean()),
                             **{c: float(per_seed[c].mean()) for c in ppv}})
    out = pd.DataFrame(rows)
    return out.sort_values(["setting", "level", METRIC], ascending=[True, True, False]) if len(out) else out


def leaderboard_lines(attacks: pd.DataFrame | None) -> list[str]:
    """The report section: one table per setting and level, strongest attack at TPR@1%FPR first."""
    if attacks is None or attacks.empty:
        return []
    summary = attack_summary(attacks)
    if summary.empty:
        return []
    ppv = [c for c in (ppv_label(p) for p in PPV_PRIORS) if c in summary]
    lines = ["## Every attack, dense and at the deepest ticket", "",
             "Mean over seeds of each seed's mean over its target models (attacks whose cost allows it play every "
             "model of a seed as the target, the others model 0 only); 95% t-interval over seeds. PPV: the share of "
             "flagged examples that are members at the TPR@1%FPR decision if 1%, 10% or 50% of the queried examples "
             "were members (FPR at its nominal 1%: a lower bound). Descriptive: no rule decides the order.", ""]
    head = "| attack | refs | TPR@1%FPR [95% CI] | AUC | " + " | ".join(
        f"PPV prior {c.split('prior')[1]}" for c in ppv) + " |"
    for (setting, level), g in summary.groupby(["setting", "level"], sort=False):
        name = "dense" if level == 0 else f"IMP level {level}"
        lines += [f"**{setting}, {name}** (sparsity {g['sparsity'].iloc[0]:.3f}, {int(g['n_seeds'].max())} seeds): "
                  f"strongest at TPR@1%FPR: {g['attack'].iloc[0]}.", "", head,
                  "| --- " * (4 + len(ppv)) + "|"]
        for _, r in g.iterrows():
            lines.append(f"| {r['attack']} | {r['n_refs']} | {100 * r[METRIC]:.2f}% [{100 * r['ci_low']:.2f}, "
                         f"{100 * r['ci_high']:.2f}] | {r['auc']:.3f} | "
                         + " | ".join(f"{r[c]:.3f}" for c in ppv) + " |")
        lines.append("")
    return lines
