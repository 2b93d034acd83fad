"""E6Q: 4-bit quantization keeps leakage comparable to full precision, lower bit widths cut it (Bits for
Privacy, arXiv 2512.15335), judged as the analysis plan's section E6Q says, from ``compression.csv``
(06_compression_cmmia: the quantized target with shadows quantized alike) and ``attacks.csv`` (03_lth_attack:
the dense target, level 0, model 0), paired within seed.
"""
from __future__ import annotations

import pandas as pd

from ..analysis_plan import section
from ..stats import (
    CONTRADICTED,
    EQUIVALENT_BUT_DIFFERENT,
    INCONCLUSIVE,
    REPORTED,
    SUPPORTED,
    min_detectable_effect,
    seed_interval,
    t_p_value,
    tost,
)
from .common import (
    Claim,
    group_settings,
    join_notes,
    min_seeds_gate,
    rows_of_setting,
    setting_label,
    verdict_frame,
    verdict_row,
)
from .scores import chance, primary_metric

PLAN = section("E6Q")
EQUIVALENT, REDUCED = f"quant-{PLAN['equivalent_bits']}", f"quant-{PLAN['reduced_bits']}"
RULE_E6Q = PLAN["rule"]
RULE_EQUIVALENT = (f"{EQUIVALENT} minus dense per seed, TOST at alpha {PLAN['alpha']} with margin m = "
                   f"{PLAN['margin_relative']} x (dense - chance): equivalent if the 90% t-interval lies in [-m, m]; "
                   "equivalent_but_different if also the 95% interval excludes 0; contradicted if the 95% interval lies "
                   "outside [-m, m]; else inconclusive")
RULE_REDUCED = (f"{REDUCED} minus dense per seed, one-sided t at alpha {PLAN['alpha']}: supported (cuts leakage) if "
                "significantly below 0, contradicted if significantly above 0, else inconclusive")
RULE_RATIO = ("context: the quantized model's advantage over chance (mean over seeds) divided by the dense model's "
              "(mean over seeds); no interval")


def paired(compression: pd.DataFrame, attacks: pd.DataFrame, label: str, attack: str, column: str) -> pd.DataFrame:
    """Per seed: the quantized target ``label`` (matched shadows) and the dense target (attacks table, level 0,
    model 0) of ``attack`` at ``column``."""
    q = compression[(compression["compression"] == label) & (compression["attack"] == attack)
                    & (compression["shadows"] == "matched")].groupby("seed")[column].mean()
    dense = attacks[(attacks["attack"] == attack) & (attacks["level"] == 0)]
    if "target_model" in dense:
        dense = dense[dense["target_model"] == 0]
    if "branch" in dense:
        dense = dense[dense["branch"] == "imp"]
    d = dense.groupby("seed")[column].mean()
    both = pd.concat({"quantized": q, "dense": d}, axis=1).dropna()
    both["difference"] = both["quantized"] - both["dense"]
    return both


def _judge_metric(key, compression, attacks, column, role, note) -> list[dict]:
    alpha, attack = PLAN["alpha"], PLAN["primary_attack"]
    eq, red = (paired(compression, attacks, label, attack, column) for label in (EQUIVALENT, REDUCED))
    if eq.empty or red.empty:
        return []
    margin = PLAN["margin_relative"] * float((eq["dense"] - chance(column)).mean())
    t = tost(eq["difference"], margin, alpha)
    if not margin > 0:  # the dense model at or below chance: no margin to be equivalent within
        v_eq, note = INCONCLUSIVE, join_notes(note, "dense model at or below chance: no margin")
    elif t["p_tost"] < alpha:  # the plan's vocabulary: equivalent, yet different from 0, is its own outcome
        v_eq = EQUIVALENT_BUT_DIFFERENT if t["p_zero"] < alpha else SUPPORTED
    elif t["low95"] > margin or t["high95"] < -margin:
        v_eq = CONTRADICTED
    else:
        v_eq = INCONCLUSIVE
    p_below, p_above = t_p_value(red["difference"], 0.0, "less"), t_p_value(red["difference"], 0.0, "greater")
    v_red = SUPPORTED if p_below < alpha else CONTRADICTED if p_above < alpha else INCONCLUSIVE
    verdict = (CONTRADICTED if CONTRADICTED in (v_eq, v_red)
               else v_eq if v_red == SUPPORTED and v_eq in (SUPPORTED, EQUIVALENT_BUT_DIFFERENT) else INCONCLUSIVE)
    n_seeds = min(len(eq), len(red))
    verdict, gate = min_seeds_gate(verdict, n_seeds, PLAN)
    v_eq, gate_eq = min_seeds_gate(v_eq, len(eq), PLAN)
    v_red, gate_red = min_seeds_gate(v_red, len(red), PLAN)
    mde = lambda v: min_detectable_effect(v, alpha, PLAN["power"])  # noqa: E731
    deciding = REDUCED if v_eq in (SUPPORTED, EQUIVALENT_BUT_DIFFERENT) and v_red != SUPPORTED else EQUIVALENT
    shown = eq if deciding == EQUIVALENT else red
    rows = [verdict_row("E6Q", setting_label(key, f"{attack} ({column})"), RULE_E6Q, f"quantized_minus_dense_{column}",
                        *seed_interval(shown["difference"], 1 - 2 * alpha), n_seeds, verdict, margin,
                        join_notes(gate, note, f"{EQUIVALENT}: {v_eq}", f"{REDUCED}: {v_red}"), role=role,
                        p_value=t["p_tost"] if deciding == EQUIVALENT else p_below, mde=mde(shown["difference"]),
                        deciding=deciding),
            verdict_row("E6Q", setting_label(key, f"{attack} {EQUIVALENT} vs dense ({column})"), RULE_EQUIVALENT,
                        f"{EQUIVALENT}_minus_dense_{column}", t["estimate"], t["low90"], t["high90"], len(eq), v_eq,
                        margin, gate_eq, role="level", p_value=t["p_tost"], mde=mde(eq["difference"]),
                        deciding=EQUIVALENT),
            verdict_row("E6Q", setting_label(key, f"{attack} {REDUCED} vs dense ({column})"), RULE_REDUCED,
                        f"{REDUCED}_minus_dense_{column}", *seed_interval(red["difference"], 1 - 2 * alpha), len(red),
                        v_red, 0.0, gate_red, role="level", p_value=p_below, mde=mde(red["difference"]),
                        deciding=REDUCED)]
    for label, pair in ((EQUIVALENT, eq), (REDUCED, red)):  # a ratio of seed means: steady near chance
        ratio = float((pair["quantized"] - chance(column)).mean() / (pair["dense"] - chance(column)).mean())
        rows.append(verdict_row("E6Q", setting_label(key, f"{attack} {label} / dense advantage ({column})"),
                                RULE_RATIO, f"{label}_over_dense_advantage_{column}", ratio, float("nan"),
                                float("nan"), len(pair), REPORTED, role="context", deciding=label))
    return rows


def verdict_e6q(compression: pd.DataFrame, attacks: pd.DataFrame) -> pd.DataFrame:
    """E6Q per setting: the primary row (primary attack and metric), the two bit-width rows and the advantage
    ratios; the same at AUC as a secondary row."""
    rows = []
    for key, group in group_settings(compression):
        same = rows_of_setting(attacks, key)
        at = group[(group["attack"] == PLAN["primary_attack"]) & (group["shadows"] == "matched")]
        if at.empty or same.empty:
            continue
        metric, note = primary_metric(at, PLAN)
        rows += _judge_metric(key, group, same, metric, "primary", note)
        rows += _judge_metric(key, group, same, PLAN["secondary_metric"], "secondary", "AUC")
    return verdict_frame(rows)


def _notes(tables: dict) -> list[str]:
    """Each bit width's test accuracy beside the dense model's (a quantization that breaks the model leaks less
    trivially)."""
    models = tables.get("compression_models")
    if models is None or "compression" not in models:
        return []
    quant = models[models["compression"].isin([EQUIVALENT, REDUCED])]
    if "model_index" in quant:
        quant = quant[quant["model_index"] == 0]
    if quant.empty or "dense_test_acc" not in quant:
        return []
    by = [c for c in ("dataset", "model_arch", "compression") if c in quant]
    parts = [f"{'/'.join(map(str, label))}: test accuracy {g['test_acc'].mean():.4f} (dense {g['dense_test_acc'].mean():.4f})"
             for label, g in quant.groupby(by)]
    return ["Quantized targets (model 0), mean over seeds: " + "; ".join(parts) + ".", ""]


def _judge(tables: dict):
    if "compression" not in tables or "attacks" not in tables:
        return None
    return verdict_e6q(tables["compression"], tables["attacks"])


CLAIM = Claim("E6Q", PLAN["title"],
              "Bits for Privacy (arXiv 2512.15335): 4-bit quantization keeps membership leakage comparable to full "
              "precision; lower bit widths cut it by up to about 10x.", _judge, notes=_notes)

