"""The data dictionary of the collected tables: one meaning per column name, written beside them.

``COLUMNS`` maps every column name of every table in ``results/tables/`` to one line (meaning,
unit, range). ``write_dictionary`` writes ``results/tables/README.md`` from the tables actually
collected and refuses a column that ``COLUMNS`` does not define, so a new or renamed column cannot
reach the results undocumented, and one name cannot carry two meanings in two tables.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..experiments import REGISTRY

log = logging.getLogger(__name__)

FPR_LEVELS = ("10%", "1%", "0.1%", "0.01%", "0%")

IDENTIFYING = {
    "experiment": "which experiment wrote the row (lth_attack, class_count, transfer, compression, trajectories, "
                  "verdicts, ...)",
    "run_id": "readable prefix + hash of every setting including the seed: one run folder",
    "settings_hash": "hash of every setting except the seed: equal hash, different seed = replicates of one setting",
    "seed": "integer seed of the replicate (data split, keep-matrix, initialisation, training order)",
    "dataset": "data set name (e.g. fashion-mnist, digits, cifar10)",
    "model_arch": "architecture of the target model (e.g. lenet-300-100, conv-2)",
    "profile": "size profile of the run (smoke, quick, full, ...): sets model counts, epochs, levels",
}

MODEL = {
    "branch": "imp = iterative magnitude pruning (level 0 = dense); random_mask / random_reinit = the two "
              "lottery-ticket controls (same sparsity, random mask / re-initialised weights), level >= 1 only",
    "level": "IMP level, integer 0..n_levels (0 = dense); each level prunes 20% of the remaining prunable weights",
    "sparsity": "counted fraction of prunable weights that are exactly zero, 0..1 (1 - 0.8^level for IMP; "
                "0 for unpruned models)",
    "train_acc": "accuracy of the model the row describes on its own training members, 0..1",
    "test_acc": "accuracy of the model the row describes on the held-out test split, 0..1",
    "gap": "train_acc - test_acc of the model the row describes (the overfitting an attack may exploit), -1..1",
    "dense_test_acc": "test accuracy of the dense (uncompressed) target the compressed model came from, 0..1",
    "target_test_acc": "test accuracy of the attacked (compressed) target, 0..1",
    "n_train": "number of examples the model trained on, integer",
    "final_loss": "mean training cross-entropy of the model's last epoch (nats)",
    "seconds": "wall-clock seconds spent computing the row (training for a model row, fit + scoring for an "
               "attack row)",
    "nonmember_pool_acc": "accuracy of the model on the pool examples it did not train on, 0..1",
    "mask_sparsity": "fraction of prunable weights the mask removes, 0..1 (sparsity counts the zeros themselves)",
    "compute_precision": "arithmetic the model trained in: bf16 (autocast) or fp32; logits are always float32",
    "amount": "the compression's setting as written: sparsity (prune, structured), bits (quant), student "
              "architecture (distill) or IMP level (imp)",
}

ATTACK = {
    "attack": "attack name (loss, correctness, confidence, entropy, modified_entropy, shokri, ml_leaks, "
              "lira_online, lira_offline, lira_offline_fixvar, rmia, label_only, samia, cm_mia, cm_mia_all, "
              "cm_mia_gauss, cm_mia_empirical)",
    "n_in": "number of members (target trained on them) in the balanced evaluation set, integer",
    "n_out": "number of non-members in the balanced evaluation set, integer; FPRs below 1/n_out are not resolvable",
    "target_model": "index of the model that played the target (0..n_models-1): with leave-one-out every model of "
                    "a seed's set is the target once for the attacks whose cost allows it, model 0 only for the others, "
                    "integer",
    "n_refs": "number of reference (shadow) models the attack used, integer",
    "n_queries": "number of (augmented) queries per example the attack's signal used, integer",
    "auc": "area under the attack's ROC on the balanced evaluation set, 0..1 (0.5 = chance)",
    "auc_ci_low": "lower end of the bootstrap 95% interval of auc (members and non-members resampled), 0..1",
    "auc_ci_high": "upper end of the bootstrap 95% interval of auc, 0..1",
    "balanced_acc": "best balanced accuracy (TPR + TNR) / 2 over thresholds, 0.5..1: the papers' attack accuracy",
    "balanced_acc_fixed": "balanced accuracy at a threshold fixed on a reference model (never on the target's "
                          "labels), 0..1",
    "advantage": "membership advantage max(TPR - FPR) over thresholds, 0..1 (0 = chance)",
    "precision": "attack precision: fraction of examples flagged as members that are members, at the "
                 "balanced-accuracy threshold, 0..1",
    "recall": "attack recall (TPR) at the balanced-accuracy threshold, 0..1",
    "top_tie_block": "size of the largest block of tied scores among the top 1% of scores, integer "
                     "(large = TPR at low FPR unreliable)",
    "score_kind": "continuous | discrete: discrete scores (correctness, label_only) tie by nature",
    "error": "why the attack could not run (empty when it ran); its metrics are then NaN",
}

RUNS = {
    "folder": "run folder under results/experiments (experiment/run_id)",
    "wall_seconds": "wall-clock seconds the notebook run took",
    "torch": "torch version", "python": "Python version", "machine": "CPU architecture (platform.machine)",
    "processor": "processor name (platform.processor)", "cpu_count": "logical CPU cores of the machine, integer",
    "device": "torch device the run used (cpu, cuda, mps)", "git_sha": "commit of the code the run used",
    "git_dirty": "True if tracked code differed from that commit when the run started",
    "class_counts": "class counts the class-count experiment used (list)",
    "n_subsets": "seeded class subsets per class count, integer",
    "compressions": "compression methods of the run (list of labels)", "keep_hash": "hash of the keep-matrix",
    "n_population": "never-trained population examples (RMIA, CM-MIA), integer",
    "max_sparsity": "highest counted sparsity of the run's IMP levels, 0..1",
    "n_levels": "IMP levels after the dense model, integer", "n_models": "target + reference models, integer",
    "mean_test_acc": "mean test accuracy of the run's models, 0..1",
    "top_frac": "share of the highest scores that makes the top (exposed) set, 0..1",
    "attacks": "attacks the run used (list)", "levels": "IMP levels the run used (list)",
    "gpu": "GPU name, when the run used CUDA",
}

VERDICTS = {
    "claim": "claim judged: C1..C5 (paper P1), E6 (paper P2)",
    "setting": "the data set / model / attack / level the verdict is about",
    "rule": "the decision rule in words, as written in code",
    "statistic": "name of the statistic the rule tests (e.g. AUC difference, Spearman rho)",
    "estimate": "value of the statistic, in its own unit",
    "ci_low": "lower end of the row's interval of the estimate, t across seeds (its level is in the rule: 90% for "
              "a TOST, else 95%)",
    "ci_high": "upper end of the row's interval of the estimate",
    "n_seeds": "number of independent training seeds behind the estimate, integer",
    "verdict": "supported | contradicted | inconclusive | equivalent_but_different (equal within the margin, yet "
               "measurably different from zero) | reported (a context row that decides nothing)",
    "margin": "equivalence margin stated in advance, in the statistic's unit (NaN if the rule has none)",
    "detail": "one line of what the numbers were",
    "verdict_role": "primary (the claim's headline: the plan's primary attack and metric) | secondary (another attack or "
                    "metric, Holm-adjusted where the plan says so) | level (one level, pair or control) | context",
    "p_value": "p-value of the row's test (Holm-adjusted for secondary rows where the plan says so; NaN if none)",
    "mde": "smallest effect the design could detect: 80% power at the plan's alpha from the observed seed "
           "standard deviation, in the statistic's unit (NaN if not computed)",
    "deciding": "for a claim-level row, the level / pair / baseline whose row decided the verdict",
    "plan_hash": "first 16 hex digits of the SHA-256 of analysis_plan.toml, the plan the row was judged by",
}


def _tpr_columns() -> dict[str, str]:
    columns = {}
    for fpr in FPR_LEVELS:
        name = f"tpr@{fpr}fpr"
        columns[name] = (f"true-positive rate at {fpr} false-positive rate: share of members found when at most "
                         f"{fpr} of non-members are flagged, 0..1 (chance: {fpr})")
        columns[name + "_ci_low"] = f"lower end of the bootstrap 95% interval of {name}, 0..1"
        columns[name + "_ci_high"] = f"upper end of the bootstrap 95% interval of {name}, 0..1"
        columns[name + "_resolvable"] = (f"bool: {fpr} FPR >= 1/n_out, i.e. the non-member count can resolve it"
                                         + (" (always True at 0%)" if fpr == "0%" else ""))
    return columns


def _ppv_columns() -> dict[str, str]:
    from ..evaluation.metrics import PPV_PRIORS, ppv_label

    return {ppv_label(p): (f"positive predictive value of the TPR@1%FPR decision if {p:.0%} of the queried examples "
                           "were members: prior*TPR / (prior*TPR + (1-prior)*0.01), FPR at its nominal 1% (a lower "
                           "bound), 0..1 (chance: the prior)") for p in PPV_PRIORS}


def _experiment_columns() -> dict[str, str]:
    """The columns every experiment documents with its tables (``experiments.REGISTRY``); one meaning per
    name: two experiments documenting one name differently is an error."""
    columns: dict[str, str] = {}
    for experiment in REGISTRY:
        for table in experiment.tables:
            for name, meaning in table.columns.items():
                if columns.get(name, meaning) != meaning:
                    raise ValueError(f"column {name!r} has two meanings ({experiment.name}.{table.name}: {meaning!r}; "
                                     f"elsewhere: {columns[name]!r}): rename one of them")
                columns[name] = meaning
    return columns


def _model_tables() -> tuple[str, ...]:
    """Tables whose rows are models, not attacks: an attack metric's name there would carry a second
    meaning (the old accuracy.csv had `precision` = the bf16 training setting)."""
    return tuple(table.name for experiment in REGISTRY for table in experiment.tables if table.of_models)


# ATTACK after the experiments' own columns: a shared attack-table column (``target_model``, the leave-one-out
# index since transfer's architecture columns became ``fit_arch`` / ``target_arch``) keeps its one meaning.
COLUMNS: dict[str, str] = {**IDENTIFYING, **MODEL, **_tpr_columns(), **_ppv_columns(), **_experiment_columns(),
                           **ATTACK, **VERDICTS, **RUNS}
MODEL_TABLES = _model_tables()
ATTACK_METRICS = set(ATTACK) - {"attack"} | set(_tpr_columns()) | set(_ppv_columns())


def undocumented(tables: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Per table, the columns ``COLUMNS`` does not define, and attack-metric names used in a table of
    models (where they would mean something else); empty dict when every column is documented."""
    missing = {}
    for name, df in tables.items():
        columns = [c for c in df.columns if c not in COLUMNS]
        if name in MODEL_TABLES:
            columns += [f"{c} (an attack metric's name in a table of models)" for c in df.columns
                        if c in ATTACK_METRICS]
        if columns:
            missing[name] = columns
    return missing


def floats_that_should_be_integers(tables: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Per table, columns documented as integers but stored as floats (store them as ``Int64``)."""
    found = {}
    for name, df in tables.items():
        columns = [c for c in df.columns if "integer" in COLUMNS.get(c, "") and pd.api.types.is_float_dtype(df[c])]
        if columns:
            found[name] = columns
    return found


def store_integers(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables with every column documented as an integer stored as ``Int64`` (NaN where missing)."""
    out = dict(tables)
    for name, columns in floats_that_should_be_integers(tables).items():
        df = out[name].copy()
        for column in columns:
            values = df[column]
            if (values.dropna() % 1 == 0).all():
                df[column] = values.round().astype("Int64")
        out[name] = df
    return out


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def render_dictionary(tables: dict[str, pd.DataFrame]) -> str:
    """The README text: the identifying columns once, then per table every column with its type and meaning."""
    lines = ["# Data dictionary of `results/tables/`", "",
             "Generated by `mialth_utils.reporting.dictionary` from the tables collected; one meaning per column "
             "name across every table. Every row carries the identifying columns: "
             + ", ".join(f"`{c}`" for c in IDENTIFYING) + ". Rows with equal `settings_hash` and different "
             "`seed` are replicates of one setting.", ""]
    for name, df in tables.items():
        lines += [f"## {name}.csv", "", f"{len(df)} rows.", "", "| column | type | meaning |", "| --- | --- | --- |"]
        lines += [f"| `{_escape(c)}` | {df[c].dtype} | {_escape(COLUMNS[c])} |" for c in df.columns]
        lines.append("")
    return "\n".join(lines)


def write_dictionary(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write the data dictionary (``results/tables/README.md``; ``path`` may be that file or its
    folder). Raises ValueError naming every column that ``COLUMNS`` does not define."""
    missing = undocumented(tables)
    if missing:
        listing = "; ".join(f"{name}: {', '.join(columns)}" for name, columns in missing.items())
        raise ValueError(f"undocumented columns ({listing}): add each to COLUMNS in "
                         "mialth_utils/reporting/dictionary.py with one meaning, or rename it to a documented one")
    for name, columns in floats_that_should_be_integers(tables).items():
        log.warning("%s: integer columns stored as floats: %s", name, ", ".join(columns))
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_dictionary(tables) + "\n", encoding="utf-8")
    return path
