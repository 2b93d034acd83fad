"""Run notebooks x parameter grids through papermill: each run in a fresh kernel, executed notebooks
saved under ``<results>/runs/``, finished runs skipped, failures reported at the end.

    python -m mialth_utils.sweep study --profile quick
    python -m mialth_utils.sweep run notebooks/03_lth_attack.ipynb -p dataset=fashion-mnist,mnist -p seed=0,1
"""
from __future__ import annotations

import argparse
import ast
import itertools
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .paths import PROJECT_ROOT, results_root

NOTEBOOKS = PROJECT_ROOT / "notebooks"
STUDY = ("00_quickstart", "01_data_and_splits", "02_train_dense", "03_lth_attack", "04_class_count",
         "05_transfer", "06_compression_cmmia", "07_sample_trajectories", "90_collect_results")


@dataclass
class SweepReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [f"{len(self.done)} ran, {len(self.skipped)} skipped (already done), {len(self.failed)} failed"]
        lines += [f"  FAILED {name}: {err}" for name, err in self.failed.items()]
        return "\n".join(lines)


def _slug(params: dict) -> str:
    text = "_".join(f"{k}-{v}" for k, v in sorted(params.items()) if k != "results_dir")
    return re.sub(r"[^A-Za-z0-9.=_-]+", "", text)[:150] or "default"


def expand_grid(grid: dict[str, list]) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def run_grid(notebooks, grid: dict[str, list] | None = None, base: dict | None = None,
             results_dir: str | Path | None = None, skip_done: bool = True, progress: bool = True) -> SweepReport:
    """Execute every notebook with every combination of ``grid`` (plus ``base`` parameters)."""
    import papermill as pm

    root = results_root(str(results_dir) if results_dir else None)
    runs = root / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    jobs = [(Path(nb), {**(base or {}), **combo}) for nb in notebooks for combo in expand_grid(grid or {})]
    report = SweepReport()
    bar = tqdm(jobs, desc="sweep", disable=not progress)
    for nb, params in bar:
        nb = nb if nb.suffix == ".ipynb" else NOTEBOOKS / f"{nb}.ipynb"
        if not nb.exists():
            report.failed[str(nb)] = "notebook not found"
            continue
        params = {**params, "results_dir": str(root)}
        name = f"{nb.stem}__{_slug(params)}"
        out, marker = runs / f"{name}.ipynb", runs / f"{name}.done"
        if skip_done and marker.exists():
            report.skipped.append(name)
            continue
        bar.set_postfix_str(nb.stem)
        print(f"[sweep] {name} ...", flush=True)
        start = time.time()
        try:
            pm.execute_notebook(str(nb), str(out), parameters=params, progress_bar=False, cwd=str(nb.parent))
        except Exception as err:  # noqa: BLE001 (a failed run must not stop the sweep)
            report.failed[name] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
            print(f"[sweep] {name} FAILED after {time.time() - start:.0f}s (see {out})", flush=True)
            continue
        report.seconds[name] = time.time() - start
        marker.write_text(json.dumps({"seconds": report.seconds[name], "params": params}))
        report.done.append(name)
        print(f"[sweep] {name} done in {report.seconds[name]:.0f}s", flush=True)
    return report


def run_study(profile: str = "quick", results_dir: str | None = None, notebooks=STUDY, **params) -> SweepReport:
    """The whole study in order (finished runs skipped), then the collector notebook, always re-run,
    writes tables, figures and the report."""
    start = time.time()
    present = [n for n in notebooks if (NOTEBOOKS / f"{n}.ipynb").exists()]
    collectors = [n for n in present if n.startswith("90_")]
    report = run_grid([n for n in present if n not in collectors], base={"profile": profile, **params},
                      results_dir=results_dir)
    final = run_grid(collectors, base={"profile": profile, **params}, results_dir=results_dir, skip_done=False)
    report.done += final.done
    report.failed.update(final.failed)
    report.seconds.update(final.seconds)
    root = results_root(results_dir)
    log = {"profile": profile, "wall_seconds": time.time() - start, "notebooks": report.seconds,
           "skipped": report.skipped, "failed": report.failed}
    (root / "study_log.json").write_text(json.dumps(log, indent=2))
    return report


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    study = sub.add_parser("study", help="run every study notebook in order, then the report")
    study.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"])
    study.add_argument("--results-dir", default=None)
    run = sub.add_parser("run", help="run notebooks over a parameter grid")
    run.add_argument("notebooks", nargs="+")
    run.add_argument("-p", "--param", action="append", default=[], help="name=v1,v2,... (a grid axis)")
    run.add_argument("--results-dir", default=None)
    run.add_argument("--force", action="store_true", help="re-run runs already done")
    args = parser.parse_args(argv)
    if args.command == "study":
        report = run_study(args.profile, args.results_dir)
    else:
        grid = {}
        for item in args.param:
            if "=" not in item:
                parser.error(f"-p {item!r}: use name=value1,value2")
            key, values = item.split("=", 1)
            grid[key] = [_parse_value(v) for v in values.split(",")]
        report = run_grid(args.notebooks, grid, results_dir=args.results_dir, skip_done=not args.force)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
