"""Verdicts on the papers' claims, decided by rules in code and printed beside them.

Each claim is declared once, in its module of ``mialth_utils.claims`` (rule, margins, the paper's
words), and listed by the experiment that produces its inputs; ``all_verdicts`` asks every claim of
``experiments.REGISTRY`` for its rows, and ``verdict_lines`` writes them for the report. Every verdict
is one of ``VERDICTS`` and comes with the rule, the statistic, its estimate and 95% interval, the
number of seeds and, where the claim is "equal", the equivalence margin, all stated in advance.
"""
from __future__ import annotations

import pandas as pd

from ..claims.c1 import RULE_C1A, RULE_C1B, verdict_c1  # noqa: F401 (the rule functions by name)
from ..claims.c2 import RULE_C2, verdict_c2  # noqa: F401
from ..claims.c3 import verdict_c3  # noqa: F401
from ..claims.c4 import RULE_C4, verdict_c4  # noqa: F401
from ..claims.c5 import RULE_C5, verdict_c5  # noqa: F401
from ..claims.common import C2_METRICS, CLAIM_ATTACKS, COLUMNS, Claim, format_interval, verdict_frame  # noqa: F401
from ..claims.e6 import E6_BASELINES, E6_CMMIA_VARIANTS, verdict_e6  # noqa: F401
from ..experiments import REGISTRY
from ..stats import (  # noqa: F401
    VERDICTS,
    equivalence_verdict,
    hierarchical_samples,
    noninferiority_verdict,
    seed_interval,
    sign_verdict,
    slopes,
)


def claims() -> list[Claim]:
    """Every claim of the study's experiments, in id order (C1..C5, then E6)."""
    return sorted((claim for experiment in REGISTRY for claim in experiment.claims), key=lambda claim: claim.id)


def all_verdicts(tables: dict[str, pd.DataFrame], score_runs: list[dict] | None = None, attacks=CLAIM_ATTACKS,
                 n_boot: int = 1000) -> pd.DataFrame:
    """Every claim whose inputs exist: ``tables`` keyed by table name (tidy CSVs across seeds), ``score_runs``
    the per-example scores of the lth_attack runs (``report.score_runs``)."""
    present = {name: table for name, table in tables.items() if table is not None and len(table)}
    frames = [claim.judge(present, score_runs, attacks, n_boot) for claim in claims()]
    frames = [frame for frame in frames if frame is not None and len(frame)]
    if not frames:
        return verdict_frame([])
    return pd.concat(frames, ignore_index=True)


def _bullet(row) -> str:
    detail = f" ({row.detail})" if row.detail else ""
    return (f"- {row.setting}: {row.statistic} = {format_interval(row.estimate, row.ci_low, row.ci_high)}, "
            f"{row.n_seeds} seed{'s' * (row.n_seeds != 1)}: **{row.verdict}**{detail}")


def claim_lines(claim: Claim, verdicts: pd.DataFrame) -> list[str]:
    """Markdown for one claim: each rule once, then its rows with the interval and the verdict in bold;
    per-level rows are counted here and listed in verdicts.csv."""
    rows = verdicts[verdicts["claim"] == claim.id] if len(verdicts) else verdicts
    if rows.empty:
        return []
    lines = [f"### {claim.id}: {claim.title}", ""]
    per_level = rows["statistic"].isin(claim.level_statistics)
    for rule, group in rows[~per_level].groupby("rule", sort=False):
        lines += [f"Rule: {rule}", ""] + [_bullet(row) for row in group.itertuples()] + [""]
    if per_level.any():
        counts = rows.loc[per_level, "verdict"].value_counts()
        lines += ["Per-level rows (verdicts.csv): " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if v in counts), ""]
    return lines


def verdict_lines(verdicts: pd.DataFrame) -> list[str]:
    """Markdown for report.md: ``claim_lines`` of every claim with rows."""
    return [line for claim in claims() for line in claim_lines(claim, verdicts)]
