"""C2: tickets are equally vulnerable to MIA as the dense network (an equivalence test per level)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    VERDICTS,
    equivalence_verdict,
    hierarchical_samples,
    percentile_interval,
)
from .common import C2_METRICS, CI_TEXT, Claim, join_notes, log, seed_note, setting_label, verdict_frame, verdict_row
from .scores import group_runs, level_metrics, run_levels

# C2: "equally vulnerable" = within 0.02 AUC (the margin the issue names), and within 0.01 absolute TPR
# at 1% FPR, i.e. a ticket may gain at most as large a share of true positives as the operating
# point's share of false positives.
C2_MARGINS = {"auc": 0.02, "tpr@1%fpr": 0.01}


RULE_C2_LEVEL = {metric: (f"ticket minus dense {metric} on the same resampled examples, {CI_TEXT} (bootstrap of examples "
                          f"within seeds and of seeds): supported (equally vulnerable) if inside [-{m}, +{m}]; "
                          f"contradicted if ci_low > {m} or ci_high < -{m}; else inconclusive")
                 for metric, m in C2_MARGINS.items()}


RULE_C2 = {metric: (f"supported if every ticket level is equally vulnerable ({metric} difference interval inside "
                    f"+/-{m}); contradicted if any level is contradicted; else inconclusive")
           for metric, m in C2_MARGINS.items()}


def verdict_c2(score_runs: list[dict], attacks, levels=None, n_boot: int = 1000) -> pd.DataFrame:
    """C2: ticket (level >= 1) minus dense (level 0) AUC and TPR@1%FPR on the same examples, per named attack."""
    rows = []
    for key, runs in group_runs(score_runs):
        for attack in attacks:
            common = set.intersection(*(set(run_levels(run, attack)) for run in runs))
            tickets = sorted(common - {0}) if levels is None else [lv for lv in levels if lv in common and lv >= 1]
            if 0 not in common or not tickets:
                log.info("C2: %s has no dense and ticket scores for %s in every seed", setting_label(key), attack)
                continue
            per_seed = [level_metrics(run, attack, [0, *tickets], n_boot) for run in runs]
            for metric in C2_METRICS:
                level_rows = [_c2_level_row(key, attack, metric, level, i + 1, per_seed)
                              for i, level in enumerate(tickets)]
                rows += level_rows + [_c2_summary_row(key, attack, metric, level_rows)]
    return verdict_frame(rows)


def _c2_level_row(key, attack, metric, level, position, per_seed) -> dict:
    points = [seed_metrics[metric][0][position] - seed_metrics[metric][0][0] for seed_metrics in per_seed]
    samples = [seed_metrics[metric][1][position] - seed_metrics[metric][1][0] for seed_metrics in per_seed]
    low, high = percentile_interval(hierarchical_samples(samples))
    margin = C2_MARGINS[metric]
    verdict = equivalence_verdict(low, high, margin)
    direction = ("tickets more vulnerable" if low > margin else "tickets less vulnerable" if high < -margin else "")
    return verdict_row("C2", setting_label(key, attack, f"level {level}"), RULE_C2_LEVEL[metric],
                f"ticket_minus_dense_{metric}", np.mean(points), low, high, len(per_seed), verdict, margin,
                join_notes(direction, seed_note(len(per_seed), examples_resampled=True)))


def _c2_summary_row(key, attack, metric, level_rows) -> dict:
    verdicts = [r["verdict"] for r in level_rows]
    verdict = (SUPPORTED if all(v == SUPPORTED for v in verdicts)
               else CONTRADICTED if CONTRADICTED in verdicts else INCONCLUSIVE)
    worst = max(level_rows, key=lambda r: abs(r["estimate"]))
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
    contradicted = [r["setting"].rsplit("level ", 1)[1] for r in level_rows if r["verdict"] == CONTRADICTED]
    detail = join_notes(f"levels: {counts}", "contradicted at levels " + ", ".join(contradicted) if contradicted else "",
                   f"largest difference at {worst['setting'].rsplit(', ', 1)[1]}",
                   seed_note(worst["n_seeds"], examples_resampled=True))
    return verdict_row("C2", setting_label(key, attack), RULE_C2[metric], f"largest_ticket_minus_dense_{metric}",
                worst["estimate"], worst["ci_low"], worst["ci_high"], worst["n_seeds"], verdict,
                C2_MARGINS[metric], detail)


def _judge(tables: dict, score_runs, attacks, n_boot: int):
    return verdict_c2(score_runs, attacks, n_boot=n_boot) if score_runs else None


CLAIM = Claim("C2", "tickets are equally vulnerable as the dense network",
              "Tickets are equally vulnerable to MIA as the dense network.", _judge,
              level_statistics=tuple(f"ticket_minus_dense_{metric}" for metric in C2_METRICS))
