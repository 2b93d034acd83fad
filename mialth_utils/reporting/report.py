"""The collector: every run's tables into ``tables/``, verdicts by rule, aggregated figures, the report.

Runs are grouped by their settings (``settings_hash``) and aggregated over seeds; each run is listed
with its git commit and whether the tree was dirty. Verdicts come from ``verdicts.all_verdicts``
(rules in code); the report prints them beside the rule, and nothing here writes a verdict itself.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from ..experiments import REGISTRY
from ..experiments.base import settings
from . import defences as defence_report
from . import plots
from .estimates import distill_lines, zero_reference_lines
from .leaderboard import leaderboard_lines
from .dictionary import store_integers, write_dictionary
from .html import write_html
from .results import collect
from .verdicts import all_verdicts, claim_lines, claims, plan_lines

log = logging.getLogger(__name__)


def _figures(tables: dict, results_dir: Path) -> dict[str, list[str]]:
    """The aggregated figures every experiment declares, by report section; a figure that cannot be drawn
    is named with the reason instead."""
    out: dict[str, list[str]] = {}
    for figure_set in (figure_set for experiment in REGISTRY for figure_set in experiment.figures):
        for key, rows in settings(tables.get(figure_set.table)):
            for prefix, draw in figure_set.jobs:
                name = f"{prefix}_{key}"
                try:
                    plots.save_figure(draw(rows, tables), name, results_dir)
                    out.setdefault(figure_set.section, []).append(f"![{name}](figures/{name}.png)")
                except ValueError as err:
                    out.setdefault(figure_set.section, []).append(f"- (figure {name} not drawn: {err})")
    return out


def write_tables(results_dir: str | Path, tables_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Collect every run under ``results_dir/experiments``, decide the verdicts, and write each table as
    ``<tables_dir>/<name>.csv`` (default ``results_dir/tables``) with its data dictionary ``README.md``."""
    results_dir = Path(results_dir)
    tables = collect(results_dir)
    tdir = Path(tables_dir) if tables_dir is not None else results_dir / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    tables["verdicts"] = all_verdicts(tables)
    tables = store_integers(tables)
    for name, df in tables.items():
        df.to_csv(tdir / f"{name}.csv", index=False)
    write_dictionary(tables, tdir / "README.md")
    return tables


def write_report(results_dir: str | Path) -> Path:
    """Write ``tables/*.csv`` (with ``verdicts.csv`` and a data dictionary), the aggregated figures,
    ``report.md`` and the self-contained ``report.html`` under ``results_dir``."""
    results_dir = Path(results_dir)
    tables = write_tables(results_dir)
    verdicts = tables["verdicts"]
    figures = _figures(tables, results_dir)
    text = _render(results_dir, tables, verdicts, figures)
    path = results_dir / "report.md"
    path.write_text(text)
    write_html(text, results_dir)
    log.info("report: %s (%d verdict rows)", path, len(verdicts))
    return path


def _header(results_dir: Path, runs: pd.DataFrame) -> list[str]:
    lines = ["# mialth report", ""]
    log_path = results_dir / "study_log.json"
    if log_path.exists():
        study = json.loads(log_path.read_text())
        lines += [f"Study: `{study.get('command', '')}`, profile `{study['profile']}`; the notebooks before this "
                  f"report took {study['wall_seconds'] / 60:.1f} min wall ({len(study.get('notebooks', {}))} run, "
                  f"{len(study.get('skipped', []))} skipped as already done, {len(study.get('failed', {}))} failed).", ""]
    if len(runs):
        r = runs.iloc[0]
        lines += [f"Machine: torch {r.get('torch')}, device {r.get('device')}, {r.get('cpu_count')} CPU cores "
                  f"({r.get('machine')}).", "", "Runs (one row per notebook run; replicates share a settings hash):", "",
                  "| experiment | run | seed | git | dirty tree |", "| --- | --- | --- | --- | --- |"]
        for _, run in runs.sort_values(["experiment", "run_id"]).iterrows():
            lines.append(f"| {run.get('experiment')} | `{run.get('run_id')}` | {run.get('seed')} | "
                         f"{str(run.get('git_sha'))[:10]} | {run.get('git_dirty')} |")
        lines.append("")
    lines += ["Verdicts come from the rules printed beside them (one module per claim in `mialth_utils/claims/`, "
              "implementing the analysis plan `analysis_plan.toml`) and are listed in `tables/verdicts.csv`; each "
              "claim shows its primary row first (the plan's primary attack and metric, the deciding level, pair or "
              "baseline, the interval, the seeds and the smallest detectable effect, MDE); every column of every "
              "table is explained in `tables/README.md`.", ""]
    return lines + plan_lines(runs)


def _render(results_dir: Path, tables: dict, verdicts: pd.DataFrame, figures: dict) -> str:
    lines = _header(results_dir, tables.get("runs", pd.DataFrame()))
    for claim in claims():
        lines += [f"## {claim.id}", "", "The paper says: " + claim.text, ""]
        lines += figures.get(claim.id, []) + [""]
        lines += claim_lines(claim, verdicts)[2:] or ["- (not run in this study)", ""]
        lines += claim.notes(tables)
    lines += leaderboard_lines(tables.get("attacks"))
    lines += zero_reference_lines(tables.get("zero_reference"), figures.get("zero_reference"))
    lines += distill_lines(tables.get("distill_split"))
    lines += ["## The privacy-utility frontier", ""] + figures.get("frontier", ["- (needs the lth_attack runs)"]) + [""]
    lines += ["## Defences (DP-SGD, PPB, label smoothing, weight decay, early stopping)", "",
              "Each defence trains the target and every reference model; heuristic defences are judged by the "
              "strongest attack against them, DP-SGD by the epsilon it spent.", ""]
    lines += figures.get("defences", []) + [""] + defence_report.report_lines(tables.get("defence_effects"))
    lines += _audit_lines(tables.get("audit"))
    lines += _tie_notes(tables.get("attacks"))
    return "\n".join(lines) + "\n"


def _audit_lines(audit: pd.DataFrame | None) -> list[str]:
    """One line per audited external target: its strongest attack at 1% FPR (by the run's own table)."""
    if audit is None or audit.empty:
        return []
    lines = ["## Audits of external targets", ""]
    for run_id, rows in audit.dropna(subset=["auc"]).groupby("run_id"):
        best = defence_report.strongest(rows, "tpr@1%fpr")
        lines.append(f"- `{run_id}` ({best['target_source']}, level {int(best['level'])}, test accuracy "
                     f"{100 * best['test_acc']:.1f}%, gap {best['gap']:.3f}): strongest attack {best['attack']} "
                     f"with TPR@1%FPR {100 * best['tpr@1%fpr']:.2f}% [{100 * best['tpr@1%fpr_ci_low']:.2f}, "
                     f"{100 * best['tpr@1%fpr_ci_high']:.2f}], AUC {best['auc']:.3f}, {int(best['n_refs'])} references.")
    return lines + [""]


def _tie_notes(attacks: pd.DataFrame | None) -> list[str]:
    if attacks is None or "top_tie_block" not in attacks:
        return []
    worst = attacks.dropna(subset=["auc"]).groupby(["attack", "score_kind"])["top_tie_block"].max().reset_index()
    lines = ["## Score resolution", "", "Largest block of tied scores among the top 1% of each attack's scores "
             "(a block containing non-members erases TPR at low FPR):", ""]
    for _, row in worst.iterrows():
        note = " (discrete by nature: ties expected)" if row["score_kind"] == "discrete" else ""
        lines.append(f"- {row['attack']}: {int(row['top_tie_block'])}{note}")
    return lines + [""]


if __name__ == "__main__":
    import argparse

    from ..log import setup
    from ..paths import results_root

    setup()
    parser = argparse.ArgumentParser(description="collect results and write report.md / report.html")
    parser.add_argument("--results-dir", default=None)
    write_report(results_root(parser.parse_args().results_dir))
