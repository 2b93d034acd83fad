"""Verdicts on the papers' claims, decided by rules in code and printed beside them.

Each claim is declared once, in its module of ``mialth_utils.claims`` (rule, margins, the paper's
words), and listed by the experiment that produces its inputs; ``all_verdicts`` asks every claim of
``experiments.REGISTRY`` for its rows, and ``verdict_lines`` writes them for the report. Every verdict
is one of ``VERDICTS`` and comes with the rule, the statistic, its estimate and interval, the number of
seeds, its role (primary / secondary / level / context), the deciding level, pair or baseline, the
smallest detectable effect and the margin, as the analysis plan (``analysis_plan.toml``) states them;
the report prints the plan's hash once, with whether the plan changed after the runs.
"""
from __future__ import annotations

import pandas as pd

from ..claims.c1 import RULE_C1A, RULE_C1B, verdict_c1  # noqa: F401 (the rule functions by name)
from ..claims.c2 import RULE_C2, verdict_c2  # noqa: F401
from ..claims.c3 import verdict_c3  # noqa: F401
from ..claims.c4 import RULE_C4, verdict_c4  # noqa: F401
from ..claims.c5 import RULE_C5, verdict_c5  # noqa: F401
from ..claims.common import COLUMNS, Claim, format_interval, verdict_frame  # noqa: F401
from ..claims.e6 import E6_BASELINES, E6_CMMIA_VARIANTS, verdict_e6  # noqa: F401
from ..experiments import REGISTRY
from ..stats import VERDICTS, seed_interval  # noqa: F401


def claims() -> list[Claim]:
    """Every claim of the study's experiments, in id order (C1..C5, then E6)."""
    return sorted((claim for experiment in REGISTRY for claim in experiment.claims), key=lambda claim: claim.id)


def all_verdicts(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every claim whose inputs exist: ``tables`` keyed by table name (tidy CSVs across seeds)."""
    present = {name: table for name, table in tables.items() if table is not None and len(table)}
    frames = [claim.judge(present) for claim in claims()]
    frames = [frame for frame in frames if frame is not None and len(frame)]
    if not frames:
        return verdict_frame([])
    return pd.concat(frames, ignore_index=True)


def plan_lines(runs: pd.DataFrame | None = None) -> list[str]:
    """The plan's hash once, and from git whether the plan changed after the runs (``runs.csv``'s git_sha)."""
    from ..analysis_plan import plan_changed_after, plan_hash

    commits = runs["git_sha"].tolist() if runs is not None and "git_sha" in runs.columns else []
    return [f"Analysis plan `analysis_plan.toml`, hash {plan_hash()}: {plan_changed_after(commits)}.", ""]


def _number(value) -> str:
    return "n/a" if pd.isna(value) else f"{float(value):.4f}"


def _bullet(row) -> str:
    role = getattr(row, "verdict_role", "")
    detail = f" ({row.detail})" if isinstance(row.detail, str) and row.detail else ""
    deciding = getattr(row, "deciding", "")
    extra = ", ".join(part for part in (
        f"deciding: {deciding}" if isinstance(deciding, str) and deciding else "",
        f"p {_number(row.p_value)}" if pd.notna(getattr(row, "p_value", float("nan"))) else "",
        f"MDE {_number(getattr(row, 'mde', float('nan')))}") if part)
    prefix = f"**{role}** " if isinstance(role, str) and role else ""
    return (f"- {prefix}{row.setting}: {row.statistic} = {format_interval(row.estimate, row.ci_low, row.ci_high)}, "
            f"{row.n_seeds} seed{'s' * (row.n_seeds != 1)}, {extra}: **{row.verdict}**{detail}")


ROLE_ORDER = {"primary": 0, "secondary": 1, "context": 2}


def _is_level(rows: pd.DataFrame, claim: Claim) -> pd.Series:
    by_role = rows["verdict_role"].eq("level") if "verdict_role" in rows.columns else False
    return rows["statistic"].isin(claim.level_statistics) | by_role


def claim_lines(claim: Claim, verdicts: pd.DataFrame) -> list[str]:
    """Markdown for one claim: its claim-level rows, the primary first (with the deciding level / pair /
    baseline, the interval, the seeds and the smallest detectable effect), each rule once; per-level rows
    are counted here and listed in verdicts.csv."""
    rows = verdicts[verdicts["claim"] == claim.id] if len(verdicts) else verdicts
    if rows.empty:
        return []
    lines = [f"### {claim.id}: {claim.title}", ""]
    per_level = _is_level(rows, claim)
    shown = rows[~per_level]
    if "verdict_role" in shown.columns:
        shown = shown.assign(_order=shown["verdict_role"].map(ROLE_ORDER).fillna(3)).sort_values("_order", kind="stable")
    for rule, group in shown.groupby("rule", sort=False):
        lines += [f"Rule: {rule}", ""] + [_bullet(row) for row in group.itertuples()] + [""]
    if per_level.any():
        counts = rows.loc[per_level, "verdict"].value_counts()
        lines += ["Per-pair / per-level rows (verdicts.csv): "
                  + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if v in counts), ""]
    return lines


def verdict_lines(verdicts: pd.DataFrame, runs: pd.DataFrame | None = None) -> list[str]:
    """Markdown for report.md: the plan line once, then ``claim_lines`` of every claim with rows."""
    return plan_lines(runs) + [line for claim in claims() for line in claim_lines(claim, verdicts)]
