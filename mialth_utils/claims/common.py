"""What every claim's verdict shares: the verdict table's columns, the rows' setting labels, the seed
notes, and ``Claim``, the one declaration of a claim (its id, title, the paper's words, its rule and
the notes printed beside it). Each claim lives in one module of this package: its margins and rule
texts (constants, stated in advance), its rule function, and its ``CLAIM``; the experiment that
produces its inputs lists it (``experiments.<experiment>.EXPERIMENT.claims``).

Verdict rows are pure functions of the tidy tables (the columns documented in
``results/tables/README.md``) and of the saved per-example scores; nothing here trains or attacks.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


COLUMNS = ("claim", "setting", "rule", "statistic", "estimate", "ci_low", "ci_high", "n_seeds", "verdict",
           "margin", "detail", "verdict_role", "p_value", "mde", "deciding", "plan_hash")


# What a verdict row is for (column ``verdict_role``; ``splits.csv`` has a ``role`` of its own): the claim's headline verdict (``primary``: the plan's primary
# attack and metric), a claim-level verdict of a secondary attack or metric (``secondary``, Holm-adjusted
# where the plan says so), one level / pair / control of a claim (``level``), or a number shown for context
# that decides nothing (``context``, verdict "reported").
ROLES = ("primary", "secondary", "level", "context")


SETTING_COLUMNS = ("settings_hash", "dataset", "model_arch")


# One parameter per column of the verdict table (COLUMNS), in its order: the row reads as the table does;
# ``plan_hash`` is filled by ``verdict_frame`` from the analysis plan.
def verdict_row(claim, setting, rule, statistic, estimate, low, high, n_seeds, verdict, margin=np.nan, detail="",
                role="level", p_value=np.nan, mde=np.nan, deciding="") -> dict:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    return dict(zip(COLUMNS, (claim, setting, rule, statistic, float(estimate), float(low), float(high),
                              int(n_seeds), verdict, float(margin), detail, role, float(p_value), float(mde),
                              deciding, "")))


def verdict_frame(rows: list[dict]) -> pd.DataFrame:
    from ..analysis_plan import plan_hash

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["plan_hash"] = plan_hash()
    return frame


def setting_label(key: dict, *extra) -> str:
    label = "/".join(str(key[c]) for c in ("dataset", "model_arch") if c in key) or "all"
    if "settings_hash" in key:
        label += f" [{key['settings_hash']}]"
    return ", ".join([label, *map(str, extra)])


def group_settings(table: pd.DataFrame, extra=()):
    """Yield (setting key dict, rows) per setting (the identifying columns present) and ``extra`` columns."""
    columns = [c for c in SETTING_COLUMNS if c in table.columns] + list(extra)
    if not columns:
        yield {}, table
        return
    for values, group in table.groupby(columns, dropna=False, sort=True):
        yield dict(zip(columns, values if isinstance(values, tuple) else (values,))), group


def rows_of_setting(table: pd.DataFrame, key: dict) -> pd.DataFrame:
    """The rows of another table (e.g. ``attacks``) of the setting ``key`` (from ``group_settings``)."""
    for column in SETTING_COLUMNS:
        if column in key and column in table:
            table = table[table[column] == key[column]]
    return table


def join_notes(*parts) -> str:
    return "; ".join(p for p in parts if p)


def format_interval(estimate, low, high) -> str:
    if np.isnan(low) or np.isnan(high):
        return f"{estimate:.4f} (no interval)"
    return f"{estimate:.4f} [{low:.4f}, {high:.4f}]"


Judge = Callable[[dict], "pd.DataFrame | None"]


@dataclass(frozen=True)
class Claim:
    """One claim: ``judge(tables)`` returns its verdict rows (the attacks and metrics it judges are the
    analysis plan's), or None when
    its inputs are absent (``tables`` holds only non-empty tables); ``text`` is what the paper says
    (printed once, in the report); ``notes(tables)`` the lines a reader needs beside the verdict;
    ``level_statistics`` the per-level statistics the report counts instead of listing."""

    id: str
    title: str
    text: str
    judge: Judge
    notes: Callable[[dict], list[str]] = field(default=lambda tables: [])
    level_statistics: tuple[str, ...] = ()


# ----------------------------------------------------------------- the plan's shared rules (C3, C5, E6)
def min_seeds_gate(verdict: str, n_seeds: int, plan: dict) -> tuple[str, str]:
    """(verdict, note): below the plan's ``min_seeds`` the verdict reads inconclusive, the numbers stay."""
    if n_seeds < int(plan["min_seeds"]):
        return "inconclusive", f"n seeds < {int(plan['min_seeds'])}"
    return verdict, ""


def holm_adjusted(p_values, alpha: float) -> np.ndarray:
    """Holm-adjusted p-values over the finite ones (``stats.holm``); NaN stays NaN and leaves the family."""
    from ..stats import holm

    p = np.asarray(p_values, float)
    adjusted = np.full(len(p), np.nan)
    finite = np.isfinite(p)
    if finite.any():
        adjusted[finite] = holm(p[finite], alpha)[1]
    return adjusted
