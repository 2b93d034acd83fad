"""C1: lottery tickets (IMP, rewinding) keep the dense model's test accuracy down to high sparsity (C1a), and
beat random masks and random re-initialisation (C1b, the lottery-ticket signature): analysis plan section C1.

Headline rows: C1a is the claim's ``primary`` row, C1b a ``secondary`` row of its own (the claim has two
halves; the plan names neither as secondary, so both verdicts are shown, C1a first because it is the claim
as the paper states it). Every test is one-sided at the plan's alpha; the interval shown is the matching
(1 - 2 alpha) two-sided t-interval across seeds (90%: its lower end is the one-sided bound)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis_plan import section
from ..stats import CONTRADICTED, INCONCLUSIVE, REPORTED, SUPPORTED, holm, min_detectable_effect, seed_interval, t_p_value
from .common import Claim, group_settings, join_notes, log, setting_label, verdict_frame, verdict_row

PLAN = section("C1")
CONTROLS = ("random_mask", "random_reinit")
C1B_MIN_SPARSITY = 0.5  # the plan's multiplicity_b: Holm over all (level, control) pairs at sparsity >= 0.5


RULE_C1A_LEVEL = (f"IMP minus dense test accuracy per seed, one-sided t across seeds (non-inferiority, margin "
                  f"{PLAN['margin_a']}): keeps accuracy if p(> -{PLAN['margin_a']}) < {PLAN['alpha']}; contradicted "
                  f"if p(< -{PLAN['margin_a']}) < {PLAN['alpha']}; else inconclusive; interval {1 - 2 * PLAN['alpha']:.0%}")


RULE_C1A = f"C1a (plan rule_a): {PLAN['rule_a']}"


RULE_C1B_LEVEL = (f"IMP minus control test accuracy per seed, one-sided t across seeds (IMP > control), Holm over "
                  f"all (level, control) pairs at sparsity >= {C1B_MIN_SPARSITY}: supported if the Holm-adjusted "
                  "p < alpha; contradicted if the control is better (Holm-adjusted one-sided p < alpha); else "
                  "inconclusive")


RULE_C1B = f"C1b (plan rule_b, Holm over all (level, control) pairs at sparsity >= {C1B_MIN_SPARSITY}): {PLAN['rule_b']}"


def few_seeds(n_seeds: int) -> str:
    return f"n seeds < {PLAN['min_seeds']}" if n_seeds < PLAN["min_seeds"] else ""


def verdict_c1(accuracy: pd.DataFrame) -> pd.DataFrame:
    """C1a and C1b from accuracy.csv (model 0 of each branch): level rows, the two headline rows and the
    sparsity at which tickets stop keeping accuracy (a context row)."""
    table = accuracy[accuracy["role"] == "target"] if "role" in accuracy.columns else accuracy
    rows = []
    for key, group in group_settings(table):
        wide = group.pivot_table(index="seed", columns=["branch", "level"], values="test_acc", aggfunc="mean")
        if ("imp", 0) not in wide.columns:
            log.warning("C1: %s has no dense (imp, level 0) accuracy; skipped", setting_label(key))
            continue
        sparsity = group[group["branch"] == "imp"].groupby("level")["sparsity"].mean().sort_index()
        tickets = sparsity[sparsity.index >= 1]
        kept = [_kept_level(key, wide, level, tickets[level]) for level in tickets.index]
        pairs = [_control_pair(wide, level, control, tickets[level]) for level in tickets.index
                 for control in CONTROLS if tickets[level] >= C1B_MIN_SPARSITY and (control, level) in wide.columns]
        headline = _c1a_rows(key, kept) + _c1b_rows(key, [p for p in pairs if len(p["values"])])
        rows += [r["row"] for r in kept] + [_too_shallow(row, len(tickets)) for row in headline]
    return verdict_frame(rows)


def _too_shallow(row: dict, n_levels: int) -> dict:
    """The plan's min_levels: a study that stops before IMP reaches it cannot show where tickets break."""
    if n_levels >= PLAN["min_levels"] or row["verdict_role"] not in ("primary", "secondary"):
        return row
    return {**row, "verdict": INCONCLUSIVE,
            "detail": join_notes(f"only {n_levels} IMP levels (the plan asks for >= {PLAN['min_levels']}); "
                                 f"the numbers would read {row['verdict']}", row["detail"])}


def _interval(values) -> tuple[float, float, float]:
    return seed_interval(values, 1 - 2 * PLAN["alpha"])


def _kept_level(key, wide, level, sparsity) -> dict:
    values = (wide[("imp", level)] - wide[("imp", 0)]).dropna().to_numpy()
    margin, alpha = PLAN["margin_a"], PLAN["alpha"]
    p_keep, p_worse = t_p_value(values, -margin, "greater"), t_p_value(values, -margin, "less")
    verdict = SUPPORTED if p_keep < alpha else CONTRADICTED if p_worse < alpha else INCONCLUSIVE
    verdict = INCONCLUSIVE if few_seeds(len(values)) else verdict
    row = verdict_row("C1", setting_label(key, f"level {level} (sparsity {sparsity:.3f})"), RULE_C1A_LEVEL,
                      "imp_minus_dense_test_acc", *_interval(values), len(values), verdict, margin,
                      join_notes(f"p(worse than -{margin}) = {p_worse:.3g}", few_seeds(len(values))), "level", p_keep,
                      min_detectable_effect(values, alpha, PLAN["power"]), f"level {level}")
    return {"row": row, "level": level, "sparsity": sparsity, "values": values, "p_keep": p_keep,
            "p_worse": p_worse, "keeps": p_keep < alpha, "worse": p_worse < alpha}


def _c1a_rows(key, kept: list[dict]) -> list[dict]:
    """The C1a headline (the deciding level's difference) and the sparsity where tickets stop (context)."""
    judged = [k for k in kept if k["sparsity"] <= PLAN["high_sparsity"]]
    stop = next((k for k in kept if not k["keeps"]), None)
    kept_to = max([k["sparsity"] for k in kept if stop is None or k["level"] < stop["level"]], default=0.0)
    stop_text = (f"tickets keep accuracy at every level up to sparsity {kept_to:.3f}; first level not shown to keep "
                 f"it: {stop['level']} (sparsity {stop['sparsity']:.3f})" if stop else
                 f"every level keeps accuracy (up to sparsity {kept_to:.3f})")
    if not judged:
        return []
    worse = [k for k in judged if k["worse"]]
    if worse:
        verdict, deciding = CONTRADICTED, min(worse, key=lambda k: k["p_worse"])
    else:
        verdict = SUPPORTED if all(k["keeps"] for k in judged) else INCONCLUSIVE
        deciding = max(judged, key=lambda k: np.nan_to_num(k["p_keep"], nan=np.inf))
    n_seeds = min(len(k["values"]) for k in judged)
    verdict = INCONCLUSIVE if few_seeds(n_seeds) else verdict
    p_claim = max(np.nan_to_num(k["p_keep"], nan=1.0) for k in judged)  # intersection-union over the levels
    label = f"level {deciding['level']} (sparsity {deciding['sparsity']:.3f})"
    detail = join_notes(f"deciding: {label} ({'significantly worse than the margin' if worse else 'largest p'})",
                        f"{sum(k['keeps'] for k in judged)} of {len(judged)} levels with sparsity <= "
                        f"{PLAN['high_sparsity']} keep accuracy", stop_text, few_seeds(n_seeds))
    values = deciding["values"]
    mde = min_detectable_effect(values, PLAN["alpha"], PLAN["power"])
    headline = verdict_row("C1", setting_label(key), RULE_C1A, "C1a: imp_minus_dense_test_acc (deciding level)",
                           *_interval(values), n_seeds, verdict, PLAN["margin_a"], detail, "primary", p_claim, mde, label)
    context = verdict_row("C1", setting_label(key), RULE_C1A, "C1a: sparsity up to which every level keeps accuracy",
                          kept_to, np.nan, np.nan, n_seeds, REPORTED, PLAN["margin_a"], stop_text, "context",
                          deciding=f"level {stop['level']}" if stop else "every level")
    return [headline, context]


def _control_pair(wide, level, control, sparsity) -> dict:
    values = (wide[("imp", level)] - wide[(control, level)]).dropna().to_numpy()
    return {"level": level, "control": control, "sparsity": sparsity, "values": values,
            "p_better": t_p_value(values, 0.0, "greater"), "p_control": t_p_value(values, 0.0, "less")}


def _holm_nan(p_values) -> np.ndarray:
    p = np.nan_to_num(np.asarray(p_values, float), nan=1.0)
    return holm(p, PLAN["alpha"])[1] if len(p) else p


def _c1b_rows(key, pairs: list[dict]) -> list[dict]:
    if not pairs:
        return []
    alpha = PLAN["alpha"]
    for pair, better, control in zip(pairs, _holm_nan([p["p_better"] for p in pairs]),
                                     _holm_nan([p["p_control"] for p in pairs])):
        pair.update(adj_better=better, adj_control=control)
    rows = []
    for p in pairs:
        verdict = SUPPORTED if p["adj_better"] < alpha else CONTRADICTED if p["adj_control"] < alpha else INCONCLUSIVE
        verdict = INCONCLUSIVE if few_seeds(len(p["values"])) else verdict
        rows.append(verdict_row("C1", setting_label(key, f"level {p['level']} (sparsity {p['sparsity']:.3f})"),
                                RULE_C1B_LEVEL, f"imp_minus_{p['control']}_test_acc", *_interval(p["values"]),
                                len(p["values"]), verdict, np.nan,
                                join_notes(f"Holm-adjusted p(control better) = {p['adj_control']:.3g}",
                                           few_seeds(len(p["values"]))), "level", p["adj_better"],
                                min_detectable_effect(p["values"], alpha, PLAN["power"]), f"level {p['level']}"))
    return rows + [_c1b_headline(key, pairs)]


def _c1b_headline(key, pairs: list[dict]) -> dict:
    alpha = PLAN["alpha"]
    judged = [p for p in pairs if p["sparsity"] >= PLAN["high_sparsity"]]
    control_better = [p for p in pairs if p["adj_control"] < alpha]
    both = {p["control"] for p in judged} == set(CONTROLS)
    if control_better:
        verdict, deciding, why = CONTRADICTED, min(control_better, key=lambda p: p["adj_control"]), "control better"
    elif judged:
        verdict = SUPPORTED if both and all(p["adj_better"] < alpha for p in judged) else INCONCLUSIVE
        deciding, why = max(judged, key=lambda p: p["adj_better"]), "largest Holm-adjusted p"
    else:
        verdict, deciding, why = INCONCLUSIVE, max(pairs, key=lambda p: p["adj_better"]), "no level reaches high sparsity"
    n_seeds = min(len(p["values"]) for p in (judged or pairs))
    verdict = INCONCLUSIVE if few_seeds(n_seeds) else verdict
    label = f"{deciding['control']} at level {deciding['level']} (sparsity {deciding['sparsity']:.3f})"
    beaten = {c: sum(p["adj_better"] < alpha for p in judged if p["control"] == c) for c in CONTROLS}
    detail = join_notes(f"deciding: {label} ({why})", f"pairs at sparsity >= {PLAN['high_sparsity']} significantly "
                        "better after Holm: " + ", ".join(f"{c} {n} of {sum(p['control'] == c for p in judged)}"
                                                          for c, n in beaten.items()),
                        "" if both or not judged else "a control is missing at high sparsity",
                        f"Holm family: {len(pairs)} (level, control) pairs", few_seeds(n_seeds))
    p_claim = max((p["adj_better"] for p in judged), default=np.nan)
    return verdict_row("C1", setting_label(key), RULE_C1B, f"C1b: imp_minus_{deciding['control']}_test_acc "
                       "(deciding pair)", *_interval(deciding["values"]), n_seeds, verdict, np.nan, detail, "secondary",
                       p_claim, min_detectable_effect(deciding["values"], alpha, PLAN["power"]), label)


def _judge(tables: dict):
    return verdict_c1(tables["accuracy"]) if "accuracy" in tables else None


CLAIM = Claim("C1", "tickets keep the dense test accuracy to high sparsity, and beat random masks and random re-init",
              "Lottery tickets (IMP, rewinding) keep the dense model's test accuracy down to high sparsity, "
              "and beat random masks and random re-initialisation.",
              _judge, level_statistics=("imp_minus_dense_test_acc", "imp_minus_random_mask_test_acc",
                                        "imp_minus_random_reinit_test_acc"))
