"""E6: CM-MIA beats the existing attacks on compressed models (Jin et al. 2023: +10.5% attack success rate)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import seed_interval, sign_verdict
from .common import CI_TEXT, Claim, group_settings, join_notes, seed_note, setting_label, verdict_frame, verdict_row

# E6: the paper's average gain in attack success rate over baselines (Jin et al. 2023).
E6_PAPER_GAIN = 0.105


E6_CMMIA_VARIANTS = ("cm_mia", "cm_mia_empirical")


E6_BASELINES = ("loss", "lira_offline", "modified_entropy")


RULE_E6 = {metric: (f"CM-MIA minus the named baseline of {metric}, mean over compressions (mixture shadows) per seed, "
                    f"{CI_TEXT} (t, across seeds): supported if ci_low > 0, contradicted if ci_high < 0, else inconclusive")
           for metric in ("balanced_acc_fixed", "auc_abnormal")}


def verdict_e6(compression: pd.DataFrame, baselines=E6_BASELINES, attacks=E6_CMMIA_VARIANTS) -> pd.DataFrame:
    """E6: CM-MIA minus each named baseline (mixture shadows), on all examples (balanced_acc_fixed) and
    on CM-MIA's abnormal subset (auc_abnormal) where the table has it."""
    table = compression[compression["shadows"] == "mixture"] if "shadows" in compression.columns else compression
    rows = []
    for key, group in group_settings(table):
        for attack in attacks:
            for baseline in baselines:
                for metric in ("balanced_acc_fixed", "auc_abnormal"):
                    if metric in group.columns:
                        rows += _e6_rows(key, group, attack, baseline, metric)
    return verdict_frame(rows)


def _e6_rows(key, group, attack, baseline, metric) -> list[dict]:
    wide = group.pivot_table(index=["seed", "compression"], columns="attack", values=metric, aggfunc="mean")
    if attack not in wide.columns or baseline not in wide.columns:
        return []
    difference = (wide[attack] - wide[baseline]).dropna()
    if difference.empty:
        return []
    per_seed = difference.groupby(level="seed").mean()
    estimate, low, high = seed_interval(per_seed)
    covers = ("no interval to compare with" if not np.isfinite(low) else
              "the interval covers it" if low <= E6_PAPER_GAIN <= high else "the interval does not cover it")
    compressions = ", ".join(sorted(difference.index.get_level_values("compression").unique()))
    detail = join_notes(f"paper: +{E6_PAPER_GAIN} attack success rate over baselines; {covers}",
                   f"compressions: {compressions}", seed_note(len(per_seed)))
    return [verdict_row("E6", setting_label(key, f"{attack} vs {baseline}"), RULE_E6[metric],
                 f"{attack}_minus_{baseline}_{metric}", estimate, low, high, len(per_seed),
                 sign_verdict(low, high), detail=detail)]


def _notes(tables: dict) -> list[str]:
    """CM-MIA's tested share and its cost against testing every example."""
    if "compression" not in tables or "tested_frac" not in tables["compression"]:
        return []
    cm = tables["compression"][tables["compression"]["attack"] == "cm_mia"]
    full = tables["compression"][tables["compression"]["attack"] == "cm_mia_all"]
    if not len(cm) or not len(full):
        return []
    line = (f"CM-MIA tested {100 * cm['tested_frac'].mean():.1f}% of the examples on average (test used: "
            f"{', '.join(sorted(set(cm['test_used'].dropna())))}); end-to-end cost {cm['cost_seconds'].mean():.3f} s "
            f"vs {full['cost_seconds'].mean():.3f} s testing every example.")
    return [line, ""]


def _judge(tables: dict, score_runs, attacks, n_boot: int):
    return verdict_e6(tables["compression"]) if "compression" in tables else None


CLAIM = Claim("E6", "CM-MIA beats the baselines on compressed models (paper: +0.105)",
              "CM-MIA beats existing attacks on compressed models (+10.5% attack success rate on average) at lower "
              "cost, since only abnormal samples are tested.", _judge, notes=_notes)
