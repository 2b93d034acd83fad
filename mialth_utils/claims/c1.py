"""C1: lottery tickets (IMP, rewinding) keep the dense model's test accuracy down to high sparsity."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import CONTRADICTED, INCONCLUSIVE, SUPPORTED, noninferiority_verdict, seed_interval, sign_verdict
from .common import (
    CI_TEXT,
    Claim,
    format_interval,
    group_settings,
    join_notes,
    log,
    seed_note,
    setting_label,
    verdict_frame,
    verdict_row,
)

# Margins, fixed before any result was seen (none is tuned on the study's numbers).
# C1: a ticket "keeps" the dense accuracy if it loses at most 1 point of test accuracy, a loss a reader
# of an accuracy-vs-sparsity plot would call matching.
C1_ACCURACY_MARGIN = 0.01


# C1: "high sparsity" = 80% of prunable weights removed (IMP level 7 at 20% per level is 0.79).
C1_HIGH_SPARSITY = 0.8


RULE_C1_LEVEL = (f"IMP minus dense test accuracy per seed, {CI_TEXT} (t, across seeds): a level keeps accuracy if "
                 f"ci_low >= -{C1_ACCURACY_MARGIN}; contradicted if ci_high < -{C1_ACCURACY_MARGIN}; else inconclusive")


RULE_C1 = (f"supported if every IMP level with sparsity <= {C1_HIGH_SPARSITY} keeps accuracy (ci_low of IMP minus "
           f"dense test accuracy >= -{C1_ACCURACY_MARGIN}); contradicted if one of them has ci_high < "
           f"-{C1_ACCURACY_MARGIN}; else inconclusive; estimate = sparsity kept by consecutive levels from dense")


RULE_C1_SIGNATURE = (f"at the highest IMP level, IMP minus control test accuracy per seed, {CI_TEXT} (t, across seeds): "
                     "supported if ci_low > 0, contradicted if ci_high < 0, else inconclusive")


def verdict_c1(accuracy: pd.DataFrame) -> pd.DataFrame:
    """C1 from accuracy.csv (target rows): per-level IMP minus dense test accuracy, the sparsity kept,
    and the lottery-ticket signature (IMP minus random_mask / random_reinit at the highest level)."""
    table = accuracy[accuracy["role"] == "target"] if "role" in accuracy.columns else accuracy
    rows = []
    for key, group in group_settings(table):
        wide = group.pivot_table(index="seed", columns=["branch", "level"], values="test_acc", aggfunc="mean")
        if ("imp", 0) not in wide.columns:
            log.warning("C1: %s has no dense (imp, level 0) accuracy; skipped", setting_label(key))
            continue
        sparsity = group[group["branch"] == "imp"].groupby("level")["sparsity"].mean()
        tickets = sparsity[sparsity.index >= 1]
        level_rows = [_c1_level_row(key, wide, level, tickets[level]) for level in tickets.index]
        rows += level_rows + [_c1_summary_row(key, level_rows, tickets)]
        top = int(sparsity.index.max())
        for control in ("random_mask", "random_reinit"):
            if (control, top) in wide.columns:
                rows.append(_c1_signature_row(key, wide, control, top, sparsity[top]))
    return verdict_frame(rows)


def _c1_level_row(key, wide, level, sparsity) -> dict:
    difference = (wide[("imp", level)] - wide[("imp", 0)]).dropna()
    estimate, low, high = seed_interval(difference)
    verdict = noninferiority_verdict(low, high, C1_ACCURACY_MARGIN)
    return verdict_row("C1", setting_label(key, f"level {level} (sparsity {sparsity:.3f})"), RULE_C1_LEVEL,
                "imp_minus_dense_test_acc", estimate, low, high, len(difference), verdict, C1_ACCURACY_MARGIN,
                seed_note(len(difference)))


def _c1_summary_row(key, level_rows, tickets: pd.Series) -> dict:
    """The claim row: sparsity kept by consecutive levels from dense; verdict over levels up to high sparsity."""
    sparsities = tickets.to_list()
    kept, first_lost = 0.0, None
    for row, level, sparsity in zip(level_rows, tickets.index, sparsities):
        if row["verdict"] != SUPPORTED:
            first_lost = f"first level not shown to keep it: {level} (sparsity {sparsity:.3f}) at " + format_interval(
                row["estimate"], row["ci_low"], row["ci_high"])
            break
        kept = sparsity
    judged = [r["verdict"] for r, s in zip(level_rows, sparsities) if s <= C1_HIGH_SPARSITY]
    if not judged:
        verdict = INCONCLUSIVE
    else:
        verdict = (SUPPORTED if all(v == SUPPORTED for v in judged)
                   else CONTRADICTED if CONTRADICTED in judged else INCONCLUSIVE)
    n_seeds = min((r["n_seeds"] for r in level_rows), default=0)
    detail = join_notes(f"keeps accuracy from dense up to sparsity {kept:.3f}", first_lost,
                   "" if judged else f"no IMP level with sparsity <= {C1_HIGH_SPARSITY}", seed_note(n_seeds))
    return verdict_row("C1", setting_label(key), RULE_C1, "max sparsity kept", kept, np.nan, np.nan, n_seeds, verdict,
                C1_ACCURACY_MARGIN, detail)


def _c1_signature_row(key, wide, control, level, sparsity) -> dict:
    difference = (wide[("imp", level)] - wide[(control, level)]).dropna()
    estimate, low, high = seed_interval(difference)
    return verdict_row("C1", setting_label(key, f"level {level} (sparsity {sparsity:.3f})"), RULE_C1_SIGNATURE,
                f"imp_minus_{control}_test_acc", estimate, low, high, len(difference), sign_verdict(low, high),
                detail=seed_note(len(difference)))


def _judge(tables: dict, score_runs, attacks, n_boot: int):
    return verdict_c1(tables["accuracy"]) if "accuracy" in tables else None


CLAIM = Claim("C1", "tickets keep the dense test accuracy to high sparsity",
              "Lottery tickets (IMP, rewinding) keep the dense model's test accuracy down to high sparsity.",
              _judge, level_statistics=("imp_minus_dense_test_acc",))
