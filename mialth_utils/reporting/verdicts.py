"""Verdicts on the papers' claims (C1-C5, E6), decided by rules in code and printed beside them.

Every verdict is one of ``VERDICTS`` and comes with the rule (a constant string below), the
statistic, its estimate and 95% interval, the number of seeds and, where the claim is "equal",
the equivalence margin, all stated here in advance. Intervals cover training seeds (a t-interval
across seeds, or a bootstrap that resamples seeds) and, where per-example scores exist (C2, C4),
example resampling within each seed too (``hierarchical_samples``). Pure functions over the tidy
tables (see the table schemas) and the saved scores; nothing here trains or attacks.

The module is longer than the usual ~200 lines because it holds one rule per claim and the rules
read best side by side; each function stays short.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from ..evaluation.bootstrap import bootstrap_metrics

log = logging.getLogger(__name__)

VERDICTS = ("supported", "contradicted", "inconclusive")
SUPPORTED, CONTRADICTED, INCONCLUSIVE = VERDICTS
COLUMNS = ("claim", "setting", "rule", "statistic", "estimate", "ci_low", "ci_high", "n_seeds", "verdict",
           "margin", "detail")
SETTING_COLUMNS = ("settings_hash", "dataset", "model_arch")
CONFIDENCE = 0.95

# Margins, fixed before any result was seen (none is tuned on the study's numbers).
# C1: a ticket "keeps" the dense accuracy if it loses at most 1 point of test accuracy, a loss a reader
# of an accuracy-vs-sparsity plot would call matching.
C1_ACCURACY_MARGIN = 0.01
# C1: "high sparsity" = 80% of prunable weights removed (IMP level 7 at 20% per level is 0.79).
C1_HIGH_SPARSITY = 0.8
# C2: "equally vulnerable" = within 0.02 AUC (the margin the issue names), and within 0.01 absolute TPR
# at 1% FPR, i.e. a ticket may gain at most as large a share of true positives as the operating
# point's share of false positives.
C2_MARGINS = {"auc": 0.02, "tpr@1%fpr": 0.01}
# C5: a transferred attack may lose at most as much AUC as C2 accepts as "equally vulnerable".
C5_TRANSFER_MARGIN = 0.02
# E6: the paper's average gain in attack success rate over baselines (Jin et al. 2023).
E6_PAPER_GAIN = 0.105
# Attacks judged in C2-C4 when the caller names none, each judged on its own (never the best of them):
# the threshold attacks of the papers' era, Shokri's shadow classifier, and today's strongest
# (LiRA online/offline, RMIA, SAMIA). Discrete-score attacks (correctness, label_only) are left out:
# their ties make TPR at 1% FPR meaningless.
CLAIM_ATTACKS = ("loss", "modified_entropy", "shokri", "lira_online", "lira_offline", "rmia", "samia")
E6_ATTACKS = ("cm_mia", "cm_mia_empirical")
E6_BASELINES = ("loss", "lira_offline", "modified_entropy")
C2_METRICS = ("auc", "tpr@1%fpr")

_CI = "95% interval"
RULE_C1_LEVEL = (f"IMP minus dense test accuracy per seed, {_CI} (t, across seeds): a level keeps accuracy if "
                 f"ci_low >= -{C1_ACCURACY_MARGIN}; contradicted if ci_high < -{C1_ACCURACY_MARGIN}; else inconclusive")
RULE_C1 = (f"supported if every IMP level with sparsity <= {C1_HIGH_SPARSITY} keeps accuracy (ci_low of IMP minus "
           f"dense test accuracy >= -{C1_ACCURACY_MARGIN}); contradicted if one of them has ci_high < "
           f"-{C1_ACCURACY_MARGIN}; else inconclusive; estimate = sparsity kept by consecutive levels from dense")
RULE_C1_SIGNATURE = (f"at the highest IMP level, IMP minus control test accuracy per seed, {_CI} (t, across seeds): "
                     "supported if ci_low > 0, contradicted if ci_high < 0, else inconclusive")
RULE_C2_LEVEL = {metric: (f"ticket minus dense {metric} on the same resampled examples, {_CI} (bootstrap of examples "
                          f"within seeds and of seeds): supported (equally vulnerable) if inside [-{m}, +{m}]; "
                          f"contradicted if ci_low > {m} or ci_high < -{m}; else inconclusive")
                 for metric, m in C2_MARGINS.items()}
RULE_C2 = {metric: (f"supported if every ticket level is equally vulnerable ({metric} difference interval inside "
                    f"+/-{m}); contradicted if any level is contradicted; else inconclusive")
           for metric, m in C2_MARGINS.items()}
RULE_C3 = (f"OLS auc ~ 1 + n_classes + gap over units (seed, subset, n_classes) at level 0; {_CI} of the n_classes "
           "coefficient by a cluster bootstrap over seeds (over units with one seed): supported if ci_low > 0, "
           "contradicted if ci_high < 0, else inconclusive")
RULE_C4 = {metric: (f"slope of {metric} against counted sparsity over IMP levels, {_CI} (paired bootstrap of examples "
                    "across levels within seeds, seeds resampled): supported if ci_low > 0, contradicted if "
                    "ci_high < 0, else inconclusive") for metric in C2_METRICS}
RULE_C4_TABLE = {metric: (f"slope of {metric} against counted sparsity over IMP levels per seed, {_CI} (t, across "
                          "seeds; no per-example scores): supported if ci_low > 0, contradicted if ci_high < 0, "
                          "else inconclusive") for metric in C2_METRICS}
RULE_C5 = (f"mean over level pairs a != b of the transfer cost auc(fit a, target b) - auc(fit b, target b) per seed, "
           f"{_CI} (t, across seeds): supported if ci_low >= -{C5_TRANSFER_MARGIN}, contradicted if ci_high < "
           f"-{C5_TRANSFER_MARGIN}, else inconclusive")
RULE_E6 = {metric: (f"CM-MIA minus the named baseline of {metric}, mean over compressions (mixture shadows) per seed, "
                    f"{_CI} (t, across seeds): supported if ci_low > 0, contradicted if ci_high < 0, else inconclusive")
           for metric in ("balanced_acc_fixed", "auc_abnormal")}
LEVEL_STATISTICS = ("imp_minus_dense_test_acc",) + tuple(f"ticket_minus_dense_{m}" for m in C2_METRICS)
CLAIM_TITLES = {"C1": "tickets keep the dense test accuracy to high sparsity",
                "C2": "tickets are equally vulnerable as the dense network",
                "C3": "attack accuracy varies directly with the number of classes",
                "C4": "attack accuracy varies directly with sparsity",
                "C5": "attacks transfer across models with high accuracy",
                "E6": "CM-MIA beats the baselines on compressed models (paper: +0.105)"}


# ---------------------------------------------------------------- intervals and decisions
def seed_interval(values) -> tuple[float, float, float]:
    """Mean and 95% t-interval across seeds of a per-seed statistic; NaN bounds for fewer than 2 seeds."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1) * stats.sem(values)
    return mean, float(mean - half), float(mean + half)


def hierarchical_samples(per_seed: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """Two-level bootstrap: sample b = mean over seeds drawn with replacement of their b-th resample.

    ``per_seed[i]`` holds a statistic over B example resamples of training seed i; percentiles of
    the result cover both example resampling and the choice of training seeds.
    """
    stack = np.stack([np.asarray(values, float) for values in per_seed])  # (S, B)
    n_seeds, n_boot = stack.shape
    picks = np.random.default_rng(seed).integers(0, n_seeds, size=(n_boot, n_seeds))
    return stack[picks, np.arange(n_boot)[:, None]].mean(axis=1)


def percentile_interval(samples) -> tuple[float, float]:
    """Central 95% percentile interval, ignoring NaN resamples."""
    samples = np.asarray(samples, float)
    if not np.isfinite(samples).any():
        return np.nan, np.nan
    low, high = np.nanpercentile(samples, [50 * (1 - CONFIDENCE), 50 * (1 + CONFIDENCE)])
    return float(low), float(high)


def sign_verdict(low: float, high: float) -> str:
    """Positive effect: supported if the interval is above 0, contradicted if below, else inconclusive."""
    return SUPPORTED if low > 0 else CONTRADICTED if high < 0 else INCONCLUSIVE


def noninferiority_verdict(low: float, high: float, margin: float) -> str:
    """No worse than -margin: supported if ci_low >= -margin, contradicted if ci_high < -margin."""
    return SUPPORTED if low >= -margin else CONTRADICTED if high < -margin else INCONCLUSIVE


def equivalence_verdict(low: float, high: float, margin: float) -> str:
    """Equal within +/-margin: supported inside the band, contradicted entirely outside it."""
    if -margin <= low and high <= margin:
        return SUPPORTED
    return CONTRADICTED if low > margin or high < -margin else INCONCLUSIVE


# ---------------------------------------------------------------- table helpers
def _row(claim, setting, rule, statistic, estimate, low, high, n_seeds, verdict, margin=np.nan, detail="") -> dict:
    return dict(zip(COLUMNS, (claim, setting, rule, statistic, float(estimate), float(low), float(high),
                              int(n_seeds), verdict, float(margin), detail)))


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _setting_label(key: dict, *extra) -> str:
    label = "/".join(str(key[c]) for c in ("dataset", "model_arch") if c in key) or "all"
    if "settings_hash" in key:
        label += f" [{key['settings_hash']}]"
    return ", ".join([label, *map(str, extra)])


def _group_settings(table: pd.DataFrame, extra=()):
    """Yield (setting key dict, rows) per setting (the identifying columns present) and ``extra`` columns."""
    columns = [c for c in SETTING_COLUMNS if c in table.columns] + list(extra)
    if not columns:
        yield {}, table
        return
    for values, group in table.groupby(columns, dropna=False, sort=True):
        yield dict(zip(columns, values if isinstance(values, tuple) else (values,))), group


def _seed_note(n_seeds: int, examples_resampled: bool = False) -> str:
    """What the number of seeds means for the interval (the study asks for >= 3 training seeds)."""
    if n_seeds < 2 and examples_resampled:
        return "1 seed: the interval covers example resampling only, not training seeds"
    if n_seeds < 2:
        return f"needs >= 2 seeds for an interval across seeds (has {n_seeds})"
    return f"only {n_seeds} seeds (the study asks for >= 3)" if n_seeds < 3 else ""


def _join(*parts) -> str:
    return "; ".join(p for p in parts if p)


def _fmt(estimate, low, high) -> str:
    if np.isnan(low) or np.isnan(high):
        return f"{estimate:.4f} (no interval)"
    return f"{estimate:.4f} [{low:.4f}, {high:.4f}]"


# ---------------------------------------------------------------- C1
def verdict_c1(accuracy: pd.DataFrame) -> pd.DataFrame:
    """C1 from accuracy.csv (target rows): per-level IMP minus dense test accuracy, the sparsity kept,
    and the lottery-ticket signature (IMP minus random_mask / random_reinit at the highest level)."""
    table = accuracy[accuracy["role"] == "target"] if "role" in accuracy.columns else accuracy
    rows = []
    for key, group in _group_settings(table):
        wide = group.pivot_table(index="seed", columns=["branch", "level"], values="test_acc", aggfunc="mean")
        if ("imp", 0) not in wide.columns:
            log.warning("C1: %s has no dense (imp, level 0) accuracy; skipped", _setting_label(key))
            continue
        sparsity = group[group["branch"] == "imp"].groupby("level")["sparsity"].mean()
        tickets = sparsity[sparsity.index >= 1]
        level_rows = [_c1_level_row(key, wide, level, tickets[level]) for level in tickets.index]
        rows += level_rows + [_c1_summary_row(key, level_rows, tickets)]
        top = int(sparsity.index.max())
        for control in ("random_mask", "random_reinit"):
            if (control, top) in wide.columns:
                rows.append(_c1_signature_row(key, wide, control, top, sparsity[top]))
    return _frame(rows)


def _c1_level_row(key, wide, level, sparsity) -> dict:
    difference = (wide[("imp", level)] - wide[("imp", 0)]).dropna()
    estimate, low, high = seed_interval(difference)
    verdict = noninferiority_verdict(low, high, C1_ACCURACY_MARGIN)
    return _row("C1", _setting_label(key, f"level {level} (sparsity {sparsity:.3f})"), RULE_C1_LEVEL,
                "imp_minus_dense_test_acc", estimate, low, high, len(difference), verdict, C1_ACCURACY_MARGIN,
                _seed_note(len(difference)))


def _c1_summary_row(key, level_rows, tickets: pd.Series) -> dict:
    """The claim row: sparsity kept by consecutive levels from dense; verdict over levels up to high sparsity."""
    sparsities = tickets.to_list()
    kept, first_lost = 0.0, None
    for row, level, sparsity in zip(level_rows, tickets.index, sparsities):
        if row["verdict"] != SUPPORTED:
            first_lost = f"first level not shown to keep it: {level} (sparsity {sparsity:.3f}) at " + _fmt(
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
    detail = _join(f"keeps accuracy from dense up to sparsity {kept:.3f}", first_lost,
                   "" if judged else f"no IMP level with sparsity <= {C1_HIGH_SPARSITY}", _seed_note(n_seeds))
    return _row("C1", _setting_label(key), RULE_C1, "max sparsity kept", kept, np.nan, np.nan, n_seeds, verdict,
                C1_ACCURACY_MARGIN, detail)


def _c1_signature_row(key, wide, control, level, sparsity) -> dict:
    difference = (wide[("imp", level)] - wide[(control, level)]).dropna()
    estimate, low, high = seed_interval(difference)
    return _row("C1", _setting_label(key, f"level {level} (sparsity {sparsity:.3f})"), RULE_C1_SIGNATURE,
                f"imp_minus_{control}_test_acc", estimate, low, high, len(difference), sign_verdict(low, high),
                detail=_seed_note(len(difference)))


# ---------------------------------------------------------------- C2 and C4 (per-example scores)
def _group_runs(score_runs: list[dict]):
    """Yield (setting key, runs of its seeds) for score runs of one setting each."""
    groups: dict[tuple, list[dict]] = {}
    for run in score_runs:
        groups.setdefault(tuple(run.get(c, "") for c in SETTING_COLUMNS), []).append(run)
    for values, runs in sorted(groups.items(), key=lambda item: str(item[0])):
        yield dict(zip(SETTING_COLUMNS, values)), sorted(runs, key=lambda run: run["seed"])


def _run_levels(run: dict, attack: str) -> list[int]:
    return sorted(int(level) for level, name in run["scores"] if name == attack)


def point_metric(scores: np.ndarray, member: np.ndarray, metric: str) -> float:
    """AUC or TPR at 1% FPR (highest TPR among ROC points with FPR <= 1%, no interpolation), via sklearn."""
    if metric == "auc":
        return float(roc_auc_score(member, scores))
    fpr, tpr, _ = roc_curve(member, scores, drop_intermediate=False)
    return float(tpr[fpr <= 0.01 + 1e-12].max())


def _level_metrics(run: dict, attack: str, levels: list[int], n_boot: int) -> dict:
    """Per metric: (point (K,), bootstrap (K, B)) over ``levels`` of one seed, one paired resample of examples."""
    index = np.asarray(run.get("eval_idx", np.arange(len(run["member"]))))
    member = np.asarray(run["member"], bool)[index]
    stack = np.stack([np.asarray(run["scores"][(level, attack)], float)[index] for level in levels])
    boot = bootstrap_metrics(stack, member, n_boot, seed=int(run["seed"]), fprs=(0.01,))
    return {metric: (np.array([point_metric(row, member, metric) for row in stack]), np.asarray(boot[metric]))
            for metric in C2_METRICS}


def verdict_c2(score_runs: list[dict], attacks, levels=None, n_boot: int = 1000) -> pd.DataFrame:
    """C2: ticket (level >= 1) minus dense (level 0) AUC and TPR@1%FPR on the same examples, per named attack."""
    rows = []
    for key, runs in _group_runs(score_runs):
        for attack in attacks:
            common = set.intersection(*(set(_run_levels(run, attack)) for run in runs))
            tickets = sorted(common - {0}) if levels is None else [lv for lv in levels if lv in common and lv >= 1]
            if 0 not in common or not tickets:
                log.info("C2: %s has no dense and ticket scores for %s in every seed", _setting_label(key), attack)
                continue
            per_seed = [_level_metrics(run, attack, [0, *tickets], n_boot) for run in runs]
            for metric in C2_METRICS:
                level_rows = [_c2_level_row(key, attack, metric, level, i + 1, per_seed)
                              for i, level in enumerate(tickets)]
                rows += level_rows + [_c2_summary_row(key, attack, metric, level_rows)]
    return _frame(rows)


def _c2_level_row(key, attack, metric, level, position, per_seed) -> dict:
    points = [seed_metrics[metric][0][position] - seed_metrics[metric][0][0] for seed_metrics in per_seed]
    samples = [seed_metrics[metric][1][position] - seed_metrics[metric][1][0] for seed_metrics in per_seed]
    low, high = percentile_interval(hierarchical_samples(samples))
    margin = C2_MARGINS[metric]
    verdict = equivalence_verdict(low, high, margin)
    direction = ("tickets more vulnerable" if low > margin else "tickets less vulnerable" if high < -margin else "")
    return _row("C2", _setting_label(key, attack, f"level {level}"), RULE_C2_LEVEL[metric],
                f"ticket_minus_dense_{metric}", np.mean(points), low, high, len(per_seed), verdict, margin,
                _join(direction, _seed_note(len(per_seed), examples_resampled=True)))


def _c2_summary_row(key, attack, metric, level_rows) -> dict:
    verdicts = [r["verdict"] for r in level_rows]
    verdict = (SUPPORTED if all(v == SUPPORTED for v in verdicts)
               else CONTRADICTED if CONTRADICTED in verdicts else INCONCLUSIVE)
    worst = max(level_rows, key=lambda r: abs(r["estimate"]))
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
    contradicted = [r["setting"].rsplit("level ", 1)[1] for r in level_rows if r["verdict"] == CONTRADICTED]
    detail = _join(f"levels: {counts}", "contradicted at levels " + ", ".join(contradicted) if contradicted else "",
                   f"largest difference at {worst['setting'].rsplit(', ', 1)[1]}",
                   _seed_note(worst["n_seeds"], examples_resampled=True))
    return _row("C2", _setting_label(key, attack), RULE_C2[metric], f"largest_ticket_minus_dense_{metric}",
                worst["estimate"], worst["ci_low"], worst["ci_high"], worst["n_seeds"], verdict,
                C2_MARGINS[metric], detail)


def slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of each column of ``y`` (K, B) against ``x`` (K,); NaN propagates."""
    x = np.asarray(x, float)
    centred = x - x.mean()
    y = np.asarray(y, float)
    return (centred[:, None] * (y - y.mean(axis=0))).sum(axis=0) / (centred ** 2).sum()


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
        return _verdict_c4_table(attack_table, attacks) if attack_table is not None else _frame([])
    rows = []
    for key, runs in _group_runs(score_runs):
        gap_note = _gap_slope_note(key, attack_table)
        for attack in attacks:
            usable = [run for run in runs if len(_run_levels(run, attack)) >= 2]
            if not usable:
                continue
            per_seed, notes = [], set()
            for run in usable:
                levels = _run_levels(run, attack)
                sparsity, note = _run_sparsity(run, levels, attack_table)
                notes.add(note)
                per_seed.append((sparsity, _level_metrics(run, attack, levels, n_boot)))
            for metric in C2_METRICS:
                points = [stats.linregress(x, m[metric][0]).slope for x, m in per_seed]
                samples = [slopes(x, m[metric][1]) for x, m in per_seed]
                low, high = percentile_interval(hierarchical_samples(samples))
                rows.append(_row("C4", _setting_label(key, attack), RULE_C4[metric], f"slope_{metric}_vs_sparsity",
                                 np.mean(points), low, high, len(per_seed), sign_verdict(low, high),
                                 detail=_join(gap_note, *sorted(notes),
                                              _seed_note(len(per_seed), examples_resampled=True))))
    return _frame(rows)


def _imp_rows(table: pd.DataFrame, key: dict) -> pd.DataFrame:
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
    rows = _imp_rows(attack_table, key)
    if rows.empty:
        return "train-test gap slope not available (setting not in the attacks table)"
    return f"train-test gap slope vs sparsity (t across seeds): {_fmt(*seed_interval(_seed_slopes(rows, 'gap')))}"


def _verdict_c4_table(attack_table: pd.DataFrame, attacks) -> pd.DataFrame:
    rows = []
    for key, group in _group_settings(attack_table):
        gap_note = _gap_slope_note(key, attack_table)
        for attack in attacks:
            chosen = _imp_rows(group[group["attack"] == attack], {})
            for metric in C2_METRICS:
                per_seed = _seed_slopes(chosen, metric).dropna() if len(chosen) else pd.Series(dtype=float)
                if per_seed.empty:
                    continue
                estimate, low, high = seed_interval(per_seed)
                rows.append(_row("C4", _setting_label(key, attack), RULE_C4_TABLE[metric],
                                 f"slope_{metric}_vs_sparsity", estimate, low, high, len(per_seed),
                                 sign_verdict(low, high), detail=_join(gap_note, _seed_note(len(per_seed)))))
    return _frame(rows)


# ---------------------------------------------------------------- C3
def _ols(design: np.ndarray, response: np.ndarray) -> np.ndarray | None:
    """Least-squares coefficients, or None when the design is rank deficient."""
    coefficients, _, rank, _ = np.linalg.lstsq(design, response, rcond=None)
    return coefficients if rank == design.shape[1] else None


def _class_slopes(units: pd.DataFrame) -> tuple[float, float]:
    """(adjusted, unadjusted) n_classes coefficients; NaN where the design is rank deficient."""
    ones = np.ones(len(units))
    k, gap, auc = (units[c].to_numpy(float) for c in ("n_classes", "gap", "auc"))
    adjusted = _ols(np.column_stack([ones, k, gap]), auc)
    unadjusted = _ols(np.column_stack([ones, k]), auc)
    return (np.nan if adjusted is None else adjusted[1]), (np.nan if unadjusted is None else unadjusted[1])


def _cluster_bootstrap(units: pd.DataFrame, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_boot, 2) refitted slopes, resampling seeds with replacement (units when there is one seed)."""
    clusters = [g.index.to_numpy() for _, g in units.groupby("seed")]
    if len(clusters) < 2:
        clusters = [np.array([i]) for i in units.index]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(clusters), size=(n_boot, len(clusters)))
    return np.array([_class_slopes(units.loc[np.concatenate([clusters[i] for i in draw])]) for draw in draws])


def verdict_c3(class_count: pd.DataFrame, attacks=None, n_boot: int = 2000) -> pd.DataFrame:
    """C3: does AUC rise with the number of classes once the train-test gap is accounted for?

    Units are (seed, subset, n_classes) rows at level 0 for each named attack (every attack in the
    table when ``attacks`` is None, each judged on its own); the verdict is on the gap-adjusted slope.
    """
    table = class_count
    if "level" in table.columns:
        table = table[table["level"] == 0]
    rows = []
    for key, group in _group_settings(table, extra=("attack",)):
        attack = key.pop("attack")
        if attacks is not None and attack not in attacks:
            continue
        units = group[["seed", "n_classes", "gap", "auc"]].dropna().reset_index(drop=True)
        rows.append(_c3_row(key, attack, units, n_boot))
    return _frame(rows)


def _c3_row(key, attack, units, n_boot) -> dict:
    n_seeds = units["seed"].nunique()
    adjusted, unadjusted = _class_slopes(units)
    gap_by_k = ", ".join(f"{k}: {g:.3f}" for k, g in units.groupby("n_classes")["gap"].mean().items())
    statistic, setting = "auc_per_class_adjusted_for_gap", _setting_label(key, attack)
    context = f"mean gap per k: {gap_by_k}; {len(units)} units"
    if not np.isfinite(adjusted) or len(units) <= 3:
        reason = ("gap constant or collinear with n_classes: the class effect cannot be separated from the gap"
                  if not np.isfinite(adjusted) else "no more units than coefficients: needs several subsets per k")
        return _row("C3", setting, RULE_C3, statistic, adjusted, np.nan, np.nan, n_seeds, INCONCLUSIVE,
                    detail=_join(reason, f"unadjusted slope {unadjusted:.4f}/class", context))
    samples = _cluster_bootstrap(units, n_boot)
    failed = int(np.isnan(samples[:, 0]).sum())
    low, high = percentile_interval(samples[:, 0]) if failed <= n_boot // 2 else (np.nan, np.nan)
    detail = _join(f"unadjusted slope {_fmt(unadjusted, *percentile_interval(samples[:, 1]))}/class", context,
                   "1 seed: bootstrap over units, the interval does not cover training seeds" if n_seeds < 2
                   else f"cluster bootstrap over {n_seeds} seeds",
                   f"{failed} of {n_boot} resamples rank deficient" + (" (dropped)" if failed <= n_boot // 2 else
                                                                         ": too many, no interval") if failed else "",
                   _seed_note(n_seeds) if n_seeds > 1 else "")
    return _row("C3", setting, RULE_C3, statistic, adjusted, low, high, n_seeds, sign_verdict(low, high),
                detail=detail)


# ---------------------------------------------------------------- C5
def _transfer_costs(rows: pd.DataFrame) -> pd.DataFrame:
    """Off-diagonal transfer costs auc(a -> b) - auc(b -> b) per seed (columns seed, fit_level, target_level, cost)."""
    diagonal = rows[rows["fit_level"] == rows["target_level"]].groupby(["seed", "target_level"])["auc"].mean()
    off = rows[rows["fit_level"] != rows["target_level"]]
    reference = diagonal.reindex(pd.MultiIndex.from_arrays([off["seed"], off["target_level"]])).to_numpy()
    return off[["seed", "fit_level", "target_level"]].assign(cost=off["auc"].to_numpy() - reference).dropna()


def verdict_c5(transfer: pd.DataFrame) -> pd.DataFrame:
    """C5: mean transfer cost over level pairs, per (setting, attack, fit_model, target_model)."""
    rows = []
    for key, group in _group_settings(transfer, extra=("attack", "fit_model", "target_model")):
        attack, fit_model, target_model = (key.pop(c) for c in ("attack", "fit_model", "target_model"))
        costs = _transfer_costs(group)
        if costs.empty:
            continue
        per_seed = costs.groupby("seed")["cost"].mean()
        estimate, low, high = seed_interval(per_seed)
        worst = costs.groupby(["fit_level", "target_level"])["cost"].mean().idxmin()
        worst_cost = costs.groupby(["fit_level", "target_level"])["cost"].mean().min()
        detail = _join(f"worst pair: fit level {worst[0]} -> target level {worst[1]}, mean cost {worst_cost:+.4f}",
                       _seed_note(len(per_seed)))
        rows.append(_row("C5", _setting_label(key, attack, f"{fit_model} -> {target_model}"), RULE_C5,
                         "mean_transfer_cost_auc", estimate, low, high, len(per_seed),
                         noninferiority_verdict(low, high, C5_TRANSFER_MARGIN), C5_TRANSFER_MARGIN, detail))
    return _frame(rows)


# ---------------------------------------------------------------- E6
def verdict_e6(compression: pd.DataFrame, baselines=E6_BASELINES, attacks=E6_ATTACKS) -> pd.DataFrame:
    """E6: CM-MIA minus each named baseline (mixture shadows), on all examples (balanced_acc_fixed) and
    on CM-MIA's abnormal subset (auc_abnormal) where the table has it."""
    table = compression[compression["shadows"] == "mixture"] if "shadows" in compression.columns else compression
    rows = []
    for key, group in _group_settings(table):
        for attack in attacks:
            for baseline in baselines:
                for metric in ("balanced_acc_fixed", "auc_abnormal"):
                    if metric in group.columns:
                        rows += _e6_rows(key, group, attack, baseline, metric)
    return _frame(rows)


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
    detail = _join(f"paper: +{E6_PAPER_GAIN} attack success rate over baselines; {covers}",
                   f"compressions: {compressions}", _seed_note(len(per_seed)))
    return [_row("E6", _setting_label(key, f"{attack} vs {baseline}"), RULE_E6[metric],
                 f"{attack}_minus_{baseline}_{metric}", estimate, low, high, len(per_seed),
                 sign_verdict(low, high), detail=detail)]


# ---------------------------------------------------------------- all claims and the report
def all_verdicts(tables: dict[str, pd.DataFrame], score_runs: list[dict] | None = None, attacks=CLAIM_ATTACKS,
                 n_boot: int = 1000) -> pd.DataFrame:
    """Every claim whose inputs exist: tables keyed accuracy, attacks, class_count, transfer, compression
    (tidy CSVs across seeds); ``score_runs`` as for ``verdict_c2`` (one dict per lth_attack run)."""
    present = {name: table for name, table in tables.items() if table is not None and len(table)}
    frames = []
    if "accuracy" in present:
        frames.append(verdict_c1(present["accuracy"]))
    if score_runs:
        frames.append(verdict_c2(score_runs, attacks, n_boot=n_boot))
    if score_runs or "attacks" in present:
        frames.append(verdict_c4(score_runs, attacks, present.get("attacks"), n_boot=n_boot))
    if "class_count" in present:
        frames.append(verdict_c3(present["class_count"], attacks))
    if "transfer" in present:
        frames.append(verdict_c5(present["transfer"]))
    if "compression" in present:
        frames.append(verdict_e6(present["compression"]))
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return _frame([])
    order = {claim: i for i, claim in enumerate(CLAIM_TITLES)}
    verdicts = pd.concat(frames, ignore_index=True)
    return verdicts.sort_values("claim", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def _bullet(row) -> str:
    detail = f" ({row.detail})" if row.detail else ""
    return (f"- {row.setting}: {row.statistic} = {_fmt(row.estimate, row.ci_low, row.ci_high)}, "
            f"{row.n_seeds} seed{'s' * (row.n_seeds != 1)}: **{row.verdict}**{detail}")


def verdict_lines(verdicts: pd.DataFrame) -> list[str]:
    """Markdown for report.md: per claim, each rule once, then its rows with the interval and the verdict in
    bold; per-level rows (C1, C2) are counted here and listed in verdicts.csv."""
    lines = []
    for claim, title in CLAIM_TITLES.items():
        rows = verdicts[verdicts["claim"] == claim]
        if rows.empty:
            continue
        lines += [f"### {claim}: {title}", ""]
        per_level = rows["statistic"].isin(LEVEL_STATISTICS)
        for rule, group in rows[~per_level].groupby("rule", sort=False):
            lines += [f"Rule: {rule}", ""] + [_bullet(row) for row in group.itertuples()] + [""]
        if per_level.any():
            counts = rows.loc[per_level, "verdict"].value_counts()
            lines += ["Per-level rows (verdicts.csv): " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS
                                                                    if v in counts), ""]
    return lines
