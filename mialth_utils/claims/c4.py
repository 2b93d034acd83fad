"""C4: attack accuracy varies directly with the sparsity of the network (the slope over IMP levels)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..stats import hierarchical_samples, percentile_interval, seed_interval, sign_verdict, slopes
from .common import (
    C2_METRICS,
    CI_TEXT,
    SETTING_COLUMNS,
    Claim,
    format_interval,
    group_settings,
    join_notes,
    seed_note,
    setting_label,
    verdict_frame,
    verdict_row,
)
from .scores import group_runs, level_metrics, run_levels

RULE_C4 = {metric: (f"slope of {metric} against counted sparsity over IMP levels, {CI_TEXT} (paired bootstrap of examples "
                    "across levels within seeds, seeds resampled): supported if ci_low > 0, contradicted if "
                    "ci_high < 0, else inconclusive") for metric in C2_METRICS}


RULE_C4_TABLE = {metric: (f"slope of {metric} against counted sparsity over IMP levels per seed, {CI_TEXT} (t, across "
                          "seeds; no per-example scores): supported if ci_low > 0, contradicted if ci_high < 0, "
                          "else inconclusive") for metric in C2_METRICS}


def _run_sparsity(run: dict, levels: list[int], attack_table: pd.DataFrame | None) -> tuple[np.ndarray, str]:
    """Counted sparsity per level: from the run, else the attacks table, else nominal 1 - 0.8**level (said so)."""
    if "sparsity" in run:
        return np.array([run["sparsity"][level] for level in levels], float), ""
    if attack_table is not None and {"seed", "level", "sparsity"} <= set(attack_table.columns):
        rows = attack_table[attack_table["seed"] == run["seed"]]
        for column in SETTING_COLUMNS:
            if column in rows.columns and column in run:
                rows = rows[rows[column] == run[column]]
        if "branch" in rows.columns:
            rows = rows[rows["branch"] == "imp"]
        found = rows.groupby("level")["sparsity"].mean()
        if all(level in found.index for level in levels):
            return found.loc[levels].to_numpy(float), ""
    return 1 - 0.8 ** np.asarray(levels, float), "nominal sparsity 1 - 0.8**level (no counted sparsity given)"


def verdict_c4(score_runs: list[dict] | None, attacks, attack_table: pd.DataFrame | None = None,
               n_boot: int = 1000) -> pd.DataFrame:
    """C4: slope of AUC and TPR@1%FPR against sparsity over IMP levels, per named attack.

    From per-example scores when given (paired example bootstrap across levels, seeds resampled);
    otherwise from the attacks table (t-interval across seeds). The train-test gap's slope against
    sparsity goes in the detail, so a reader sees whether the gap explains the attack's slope.
    """
    if not score_runs:
        return _verdict_c4_table(attack_table, attacks) if attack_table is not None else verdict_frame([])
    rows = []
    for key, runs in group_runs(score_runs):
        gap_note = _gap_slope_note(key, attack_table)
        for attack in attacks:
            usable = [run for run in runs if len(run_levels(run, attack)) >= 2]
            if not usable:
                continue
            per_seed, notes = [], set()
            for run in usable:
                levels = run_levels(run, attack)
                sparsity, note = _run_sparsity(run, levels, attack_table)
                notes.add(note)
                per_seed.append((sparsity, level_metrics(run, attack, levels, n_boot)))
            for metric in C2_METRICS:
                points = [stats.linregress(x, m[metric][0]).slope for x, m in per_seed]
                samples = [slopes(x, m[metric][1]) for x, m in per_seed]
                low, high = percentile_interval(hierarchical_samples(samples))
                rows.append(verdict_row("C4", setting_label(key, attack), RULE_C4[metric], f"slope_{metric}_vs_sparsity",
                                 np.mean(points), low, high, len(per_seed), sign_verdict(low, high),
                                 detail=join_notes(gap_note, *sorted(notes),
                                              seed_note(len(per_seed), examples_resampled=True))))
    return verdict_frame(rows)


def imp_rows(table: pd.DataFrame, key: dict) -> pd.DataFrame:
    for column, value in key.items():
        if column in table.columns:
            table = table[table[column] == value]
    return table[table["branch"] == "imp"] if "branch" in table.columns else table


def _seed_slopes(rows: pd.DataFrame, column: str) -> pd.Series:
    """Per seed, the linregress slope of ``column`` against sparsity over levels (one value per level)."""
    per_level = rows.groupby(["seed", "level"])[["sparsity", column]].mean().dropna()
    return per_level.groupby(level="seed").apply(
        lambda g: stats.linregress(g["sparsity"], g[column]).slope if len(g) >= 2 else np.nan)


def _gap_slope_note(key: dict, attack_table: pd.DataFrame | None) -> str:
    if attack_table is None or "gap" not in attack_table.columns:
        return "train-test gap slope not available (no attacks table)"
    rows = imp_rows(attack_table, key)
    if rows.empty:
        return "train-test gap slope not available (setting not in the attacks table)"
    return f"train-test gap slope vs sparsity (t across seeds): {format_interval(*seed_interval(_seed_slopes(rows, 'gap')))}"


def _verdict_c4_table(attack_table: pd.DataFrame, attacks) -> pd.DataFrame:
    rows = []
    for key, group in group_settings(attack_table):
        gap_note = _gap_slope_note(key, attack_table)
        for attack in attacks:
            chosen = imp_rows(group[group["attack"] == attack], {})
            for metric in C2_METRICS:
                per_seed = _seed_slopes(chosen, metric).dropna() if len(chosen) else pd.Series(dtype=float)
                if per_seed.empty:
                    continue
                estimate, low, high = seed_interval(per_seed)
                rows.append(verdict_row("C4", setting_label(key, attack), RULE_C4_TABLE[metric],
                                 f"slope_{metric}_vs_sparsity", estimate, low, high, len(per_seed),
                                 sign_verdict(low, high), detail=join_notes(gap_note, seed_note(len(per_seed)))))
    return verdict_frame(rows)


def _judge(tables: dict, score_runs, attacks, n_boot: int):
    if not score_runs and "attacks" not in tables:
        return None
    return verdict_c4(score_runs, attacks, tables.get("attacks"), n_boot=n_boot)


CLAIM = Claim("C4", "attack accuracy varies directly with sparsity",
              "Attack accuracy varies directly with the sparsity of the network.", _judge)
