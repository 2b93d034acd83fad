"""C5: the attacks transfer across models with high accuracy (every pair, at the transferred threshold).

Judged as the analysis plan's section C5 says: per (fit, target) pair and seed, the balanced accuracy on
the target's balanced evaluation set at the threshold fixed on the FIT references, minus the balanced
accuracy at the target's native threshold; a one-sided non-inferiority t-test per pair with the margin
``margin_relative`` x (native balanced accuracy - 0.5); intersection-union: supported only if every pair
passes, and the worst pair is the deciding one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis_plan import section
from ..stats import CONTRADICTED, INCONCLUSIVE, REPORTED, SUPPORTED, min_detectable_effect, seed_interval, t_p_value
from .common import (
    Claim,
    group_settings,
    holm_adjusted,
    join_notes,
    min_seeds_gate,
    setting_label,
    verdict_frame,
    verdict_row,
)

PAIR_COLUMNS = ("fit_arch", "target_arch", "fit_level", "target_level")


RULE_C5_PAIR = ("per seed balanced_acc_transferred (threshold fixed on the fit references) minus the target's native balanced "
                "accuracy; one-sided t across seeds at the plan's alpha against -m, m = margin_relative x (native "
                "balanced accuracy - 0.5): supported (non-inferior) if p < alpha; contradicted if significantly "
                "below -m (Holm over the pairs); else inconclusive. Interval: 90% t (its lower end is the test)")


RULE_C5 = ("intersection-union over every pair (fit level != target level, and the cross-architecture pairs): "
           "supported if every pair is non-inferior; contradicted if any pair is significantly worse than its "
           "margin (Holm over the pairs); else inconclusive; < min_seeds seeds: inconclusive. The worst pair (largest "
           "non-inferiority p) decides and is shown; secondary attacks: claim p Holm-adjusted over the attacks")


RULE_C5_MEAN = "context: the per-seed mean over the pairs of the difference, 95% t-interval (gains can cancel losses)"


def transfer_pairs(rows: pd.DataFrame) -> pd.DataFrame:
    """The transfer pairs with the native balanced accuracy of their target (columns PAIR_COLUMNS, seed,
    balanced_acc_transferred, native, native_source). Native: the ``balanced_acc_native`` column where the table has it,
    else the diagonal row (fit level == target level) fitted on the target's own architecture."""
    rows = rows.dropna(subset=["balanced_acc_transferred"])
    same_arch = rows["fit_arch"] == rows["target_arch"]
    pairs = rows[~same_arch | (rows["fit_level"] != rows["target_level"])].copy()
    if "balanced_acc_native" in rows.columns and rows["balanced_acc_native"].notna().any():
        pairs["native"], pairs["native_source"] = pairs["balanced_acc_native"], "balanced_acc_native"
    else:
        diagonal = rows[same_arch & (rows["fit_level"] == rows["target_level"])]
        own = diagonal.groupby(["seed", "target_arch", "target_level"])["balanced_acc_transferred"].mean()
        index = pd.MultiIndex.from_arrays([pairs["seed"], pairs["target_arch"], pairs["target_level"]])
        pairs["native"], pairs["native_source"] = own.reindex(index).to_numpy(), "own-architecture diagonal"
    return pairs.dropna(subset=["native"])


def _pair_tests(pairs: pd.DataFrame, plan: dict) -> pd.DataFrame:
    """One row per pair: per-seed differences, margin, the non-inferiority and the 'worse' p-values."""
    out = []
    for pair, group in pairs.groupby(list(PAIR_COLUMNS), sort=True):
        per_seed = group.groupby("seed").apply(lambda g: (g["balanced_acc_transferred"] - g["native"]).mean(), include_groups=False)
        margin = plan["margin_relative"] * (group.groupby("seed")["native"].mean().mean() - 0.5)
        # no native advantage over chance: no margin to be non-inferior within; the pair is untestable
        # (NaN p-values), which keeps the claim from "supported" and never contradicts it
        testable = margin > 0
        out.append({**dict(zip(PAIR_COLUMNS, pair)), "per_seed": per_seed, "margin": float(margin),
                    "p_ok": t_p_value(per_seed, -margin, "greater") if testable else np.nan,
                    "p_worse": t_p_value(per_seed, -margin, "less") if testable else np.nan,
                    "source": group["native_source"].iloc[0] + ("" if testable else
                                                                 "; no native advantage over 0.5: untestable")})
    tests = pd.DataFrame(out)
    if len(tests):
        tests["p_worse_holm"] = holm_adjusted(tests["p_worse"], plan["alpha"])
    return tests


def pair_label(test) -> str:
    return f"{test['fit_arch']} level {test['fit_level']} -> {test['target_arch']} level {test['target_level']}"


def _pair_verdict(test, alpha) -> str:
    return (SUPPORTED if test["p_ok"] < alpha else CONTRADICTED if test["p_worse_holm"] < alpha else INCONCLUSIVE)


def _decide(tests: pd.DataFrame, alpha: float) -> tuple[str, pd.Series, float]:
    """(verdict, deciding pair, claim p = max pair p): intersection-union over the pairs."""
    verdicts = [_pair_verdict(test, alpha) for _, test in tests.iterrows()]
    claim_p = float(tests["p_ok"].max()) if tests["p_ok"].notna().all() else np.nan
    if CONTRADICTED in verdicts:
        return CONTRADICTED, tests.loc[tests["p_worse_holm"].idxmin()], claim_p
    deciding = tests.loc[tests["p_ok"].fillna(np.inf).idxmax()]
    return (SUPPORTED if all(v == SUPPORTED for v in verdicts) else INCONCLUSIVE), deciding, claim_p


def _pair_row(key, attack, test, plan) -> dict:
    estimate, low, high = seed_interval(test["per_seed"], 1 - 2 * plan["alpha"])
    verdict, gate = min_seeds_gate(_pair_verdict(test, plan["alpha"]), len(test["per_seed"]), plan)
    return verdict_row("C5", setting_label(key, attack, pair_label(test)), RULE_C5_PAIR,
                       "transferred_minus_native_balanced_acc", estimate, low, high, len(test["per_seed"]), verdict,
                       test["margin"], join_notes(gate, f"native: {test['source']}"), role="level",
                       p_value=test["p_ok"], mde=min_detectable_effect(test["per_seed"], plan["alpha"], plan["power"]),
                       deciding=pair_label(test))


def _claim_row(key, attack, tests, role, claim_p, plan) -> dict:
    alpha = plan["alpha"]
    verdict, worst, _ = _decide(tests, alpha)
    held = role == "secondary" and verdict == SUPPORTED and not claim_p < alpha  # claim_p: Holm-adjusted here
    verdict = INCONCLUSIVE if held else verdict
    estimate, low, high = seed_interval(worst["per_seed"], 1 - 2 * alpha)
    verdict, gate = min_seeds_gate(verdict, len(worst["per_seed"]), plan)
    passing = sum(_pair_verdict(t, alpha) == SUPPORTED for _, t in tests.iterrows())
    detail = join_notes(gate, f"{passing} of {len(tests)} pairs non-inferior",
                        f"worst pair {pair_label(worst)}: {estimate:+.4f}, margin -{worst['margin']:.4f}",
                        "Holm-adjusted over the secondary attacks" if role == "secondary" else "",
                        "every pair non-inferior before Holm, not after" if held else "")
    return verdict_row("C5", setting_label(key, attack), RULE_C5, "worst_pair_transferred_minus_native_balanced_acc",
                       estimate, low, high, len(worst["per_seed"]), verdict, worst["margin"], detail, role=role,
                       p_value=claim_p, mde=min_detectable_effect(worst["per_seed"], alpha, plan["power"]),
                       deciding=pair_label(worst))


def _mean_row(key, attack, tests, plan) -> dict:
    per_seed = pd.concat(list(tests["per_seed"]), axis=1).mean(axis=1)
    estimate, low, high = seed_interval(per_seed)
    return verdict_row("C5", setting_label(key, attack), RULE_C5_MEAN, "mean_over_pairs_transferred_minus_native",
                       estimate, low, high, len(per_seed), REPORTED, detail=f"{len(tests)} pairs", role="context",
                       mde=min_detectable_effect(per_seed, plan["alpha"], plan["power"]), deciding="all pairs")


def verdict_c5(transfer: pd.DataFrame, plan: dict | None = None) -> pd.DataFrame:
    """C5 per setting: the primary attack's claim row (its worst pair), the other attacks as secondary rows
    (claim p Holm-adjusted over them), one level row per pair and a context row with the mean over pairs."""
    plan = plan or section("C5")
    rows = []
    for key, group in group_settings(transfer):
        tests = {attack: _pair_tests(transfer_pairs(at), plan) for attack, at in group.groupby("attack", sort=True)}
        tests = {attack: t for attack, t in tests.items() if len(t)}
        if not tests:
            continue
        order = [plan["primary_attack"], *plan["secondary_attacks"]]
        primary = next((a for a in order if a in tests), sorted(tests)[0])
        secondary = [a for a in tests if a != primary]
        claim_p = {a: _decide(tests[a], plan["alpha"])[2] for a in tests}
        adjusted = dict(zip(secondary, holm_adjusted([claim_p[a] for a in secondary], plan["alpha"])))
        row = _claim_row(key, primary, tests[primary], "primary", claim_p[primary], plan)
        if primary != plan["primary_attack"]:
            row["detail"] = join_notes(row["detail"], f"the plan's primary attack {plan['primary_attack']} is not in "
                                                      f"the transfer table: {primary} stands in")
        rows += [row, _mean_row(key, primary, tests[primary], plan)]
        rows += [_claim_row(key, a, tests[a], "secondary", adjusted[a], plan) for a in secondary]
        rows += [_pair_row(key, a, test, plan) for a in tests for _, test in tests[a].iterrows()]
    return verdict_frame(rows)


def _judge(tables: dict):
    return verdict_c5(tables["transfer"]) if "transfer" in tables else None


CLAIM = Claim("C5", "attacks transfer across models with high accuracy",
              "The attacks transfer across models with high accuracy.", _judge)
