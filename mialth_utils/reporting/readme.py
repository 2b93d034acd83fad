"""The README's verdicts, word for word from ``results/tables/verdicts.csv``.

The README writes no verdict of its own: the block between its two markers is rendered here from the
committed table (one line per claim, setting and statistic that sums up a claim; the per-level rows
stay in the table and the report). ``make study`` refreshes the block; a test checks that it matches.
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


def summary_rows(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The rows that sum up a claim for one setting (per-level rows left out)."""
    return verdicts[~verdicts["statistic"].isin(PER_LEVEL)]


def verdicts_block(verdicts: pd.DataFrame) -> str:
    lines = [START, "", "| claim | setting | statistic | estimate | 95% interval | seeds | verdict |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in summary_rows(verdicts).itertuples(index=False):
        interval = "" if pd.isna(row.ci_low) else f"[{_number(row.ci_low)}, {_number(row.ci_high)}]"
        lines.append(f"| {row.claim} | {row.setting} | `{row.statistic}` | {_number(row.estimate)} | {interval} "
                     f"| {int(row.n_seeds)} | **{row.verdict}** |")
    return "\n".join(lines + ["", END])


def readme_block(readme: str) -> str:
    """The verdicts block as it stands in a README text ('' when it has none)."""
    match = re.search(re.escape(START) + ".*?" + re.escape(END), readme, flags=re.S)
    return match.group(0) if match else ""


def sync_readme(results_dir: str | Path, readme: str | Path = PROJECT_ROOT / "README.md") -> bool:
    """Rewrite the README's verdicts block from ``results_dir/tables/verdicts.csv``; True if it changed."""
    readme = Path(readme)
    text = readme.read_text()
    old = readme_block(text)
    if not old:
        raise ValueError(f"{readme} has no verdicts block: put the two markers\n{START}\n{END}\nwhere it belongs")
    new = verdicts_block(pd.read_csv(Path(results_dir) / "tables" / "verdicts.csv"))
    if new != old:
        readme.write_text(text.replace(old, new))
    return new != old
