"""The README's verdicts, word for word from ``results/tables/verdicts.csv``.

The README writes no verdict of its own: the block between its two markers is rendered here from the
committed table: the plan's hash once (the hash the rows were judged by) with, from git, whether the plan
changed after the runs of ``runs.csv``; then one line per claim-level row (the primary row of each claim
and setting first, then the secondary ones) with its interval, seeds, smallest detectable effect and the
deciding level, pair or baseline. Per-level and context rows stay in the table and the report.
``make study`` refreshes the block; a test checks that it matches.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..paths import PROJECT_ROOT
from .verdicts import claims

START, END = "<!-- verdicts:start (written by mialth_utils.reporting.readme from results/tables/verdicts.csv) -->", \
    "<!-- verdicts:end -->"
PER_LEVEL = tuple(statistic for claim in claims() for statistic in claim.level_statistics)  # counted, not listed


def _number(value) -> str:
    return "" if pd.isna(value) else f"{float(value):.4f}"


def _column(verdicts: pd.DataFrame, name: str, default="") -> pd.Series:
    return verdicts[name].fillna(default) if name in verdicts.columns else pd.Series(default, index=verdicts.index)


def summary_rows(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The rows that sum up a claim for one setting (per-level and context rows left out), primary first."""
    role = _column(verdicts, "verdict_role")
    rows = verdicts[~verdicts["statistic"].isin(PER_LEVEL) & ~role.isin(["level", "context"])]
    order = _column(rows, "verdict_role").map({"primary": 0, "secondary": 1}).fillna(2)
    return rows.assign(_order=order).sort_values(["claim", "_order"], kind="stable").drop(columns="_order")


def plan_line(verdicts: pd.DataFrame, runs: pd.DataFrame | None = None) -> str:
    """The plan hash the rows carry, and whether the plan changed after the runs (``runs.csv`` git_sha)."""
    from ..analysis_plan import plan_changed_after

    hashes = sorted(set(_column(verdicts, "plan_hash").astype(str)) - {""})
    changed = plan_changed_after(runs["git_sha"].tolist()) if runs is not None and "git_sha" in runs else ""
    text = f"Analysis plan hash: {', '.join(hashes) or 'not recorded'}" + (f"; {changed}." if changed else ".")
    return text


def verdicts_block(verdicts: pd.DataFrame, runs: pd.DataFrame | None = None) -> str:
    lines = [START, "", plan_line(verdicts, runs), "",
             "| claim | role | setting | statistic | estimate | interval | seeds | MDE | deciding | verdict |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows = summary_rows(verdicts)
    for row, role, mde, deciding in zip(rows.itertuples(index=False), _column(rows, "verdict_role"),
                                        _column(rows, "mde", float("nan")), _column(rows, "deciding")):
        interval = "" if pd.isna(row.ci_low) else f"[{_number(row.ci_low)}, {_number(row.ci_high)}]"
        lines.append(f"| {row.claim} | {role} | {row.setting} | `{row.statistic}` | {_number(row.estimate)} | "
                     f"{interval} | {int(row.n_seeds)} | {_number(mde)} | {deciding} | **{row.verdict}** |")
    return "\n".join(lines + ["", END])


def readme_block(readme: str) -> str:
    """The verdicts block as it stands in a README text ('' when it has none)."""
    match = re.search(re.escape(START) + ".*?" + re.escape(END), readme, flags=re.S)
    return match.group(0) if match else ""


def read_tables(results_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``tables/verdicts.csv`` and, where it exists, ``tables/runs.csv`` of ``results_dir``."""
    tables = Path(results_dir) / "tables"
    runs = pd.read_csv(tables / "runs.csv") if (tables / "runs.csv").exists() else None
    return pd.read_csv(tables / "verdicts.csv"), runs


def sync_readme(results_dir: str | Path, readme: str | Path = PROJECT_ROOT / "README.md") -> bool:
    """Rewrite the README's verdicts block from ``results_dir/tables/verdicts.csv``; True if it changed."""
    readme = Path(readme)
    text = readme.read_text()
    old = readme_block(text)
    if not old:
        raise ValueError(f"{readme} has no verdicts block: put the two markers\n{START}\n{END}\nwhere it belongs")
    new = verdicts_block(*read_tables(results_dir))
    if new != old:
        readme.write_text(text.replace(old, new))
    return new != old
