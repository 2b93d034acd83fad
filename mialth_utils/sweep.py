"""Run notebooks x parameter grids through papermill: each run in a fresh kernel, executed notebooks
saved under ``<results>/runs/``, finished runs skipped, failures reported at the end. Runs are
dispatched to the kit's executor: ``--workers N`` runs N notebooks at once (each kernel gets
1/N of the cores), ``--scheduler ADDRESS`` (or ``MIALTH_DASK_SCHEDULER``) sends them to a Dask cluster.

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
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .executor import SLOW_ENVIRON, default_workers, run_units
from .kernels import QuietKernelManager, kernel_config, kernel_name
from .log import progress, setup as setup_logging
from .paths import PROJECT_ROOT, results_root
from .experiments import REGISTRY
from .plan import plan
from .reporting.readme import sync_readme
from .store import spec_hash

log = logging.getLogger("mialth_utils.sweep")  # also when run as __main__
NOTEBOOKS = PROJECT_ROOT / "notebooks"
STUDY_SEEDS = {"smoke": (0, 1), "quick": (0, 1, 2, 3, 4), "paper": (0, 1, 2, 3, 4)}  # >= 5: the plan's min_seeds
# The study's notebooks and their order, from the experiments' own declarations (experiments.REGISTRY).
COLLECTOR = "90_collect_results"
REPLICATED = tuple(e.notebook for e in REGISTRY if e.replicated)  # behind claims C1-C5: run over every seed
HEAVY = tuple(e.notebook for e in REGISTRY if e.heavy)  # train models of their own: start them early
REUSES = tuple(e.notebook for e in REGISTRY if e.reuses)  # attack another's models: listed after it
STUDY = tuple(e.notebook for e in REGISTRY) + (COLLECTOR,)


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


def run_name(notebook: Path, params: dict) -> str:
    """A readable slug of the parameters plus a hash of all of them: distinct runs never share a name."""
    shown = {k: v for k, v in sorted(params.items()) if k != "results_dir"}
    text = re.sub(r"[^A-Za-z0-9.=_-]+", "", "_".join(f"{k}-{v}" for k, v in shown.items()))[:100] or "default"
    return f"{notebook.stem}__{text}_{spec_hash(shown)[:8]}"


def expand_grid(grid: dict[str, list]) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def run_grid(notebooks, grid: dict[str, list] | None = None, base: dict | None = None,
             results_dir: str | Path | None = None, skip_done: bool = True, workers: int | None = 1,
             scheduler: str | None = None) -> SweepReport:
    """Execute every notebook with every combination of ``grid`` (plus ``base`` parameters); with
    ``workers > 1`` (or a Dask ``scheduler``) the runs go to the executor, in the order given."""
    runs = [(nb, {**(base or {}), **combo}) for nb in notebooks for combo in expand_grid(grid or {})]
    return run_many(runs, results_dir, skip_done, workers, scheduler)


def run_many(runs: list[tuple], results_dir: str | Path | None = None, skip_done: bool = True,
             workers: int | None = 1, scheduler: str | None = None) -> SweepReport:
    """Execute ``(notebook, parameters)`` runs, in this order when sequential."""
    root = results_root(str(results_dir) if results_dir else None)
    (root / "runs").mkdir(parents=True, exist_ok=True)
    report, units = SweepReport(), []
    for nb, combo in runs:
        nb = Path(nb)
        nb = nb if nb.suffix == ".ipynb" else NOTEBOOKS / f"{nb}.ipynb"
        if not nb.exists():
            report.failed[str(nb)] = "notebook not found"
            continue
        params = {**combo, "results_dir": str(root)}
        name = run_name(nb, params)
        if skip_done and (root / "runs" / f"{name}.done").exists():
            report.skipped.append(name)
            continue
        units.append((str(nb), str(root / "runs"), name, params, _kernel_env(workers, scheduler)))
    parallel = bool(scheduler) or (workers or 1) > 1
    results = run_units(execute_run, units, workers=workers, scheduler=scheduler, desc="sweep") if parallel \
        else [execute_run(*unit) for unit in progress(units, desc="sweep")]
    for name, seconds, error in results:
        if error is None:
            report.done.append(name)
            report.seconds[name] = seconds
        else:
            report.failed[name] = error
    return report


def _kernel_env(workers: int | None, scheduler: str | None) -> dict:
    """Kernels compute single-threaded, so a sweep's tables are bitwise the same however many runs go
    side by side; runs side by side each build their model sets in-process (no pool inside a pool)."""
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return {**env, "MIALTH_WORKERS": "1"} if scheduler or (workers or 1) > 1 else env


def execute_run(notebook: str, runs_dir: str, name: str, params: dict, env: dict) -> tuple[str, float, str | None]:
    """One notebook run (a unit of work any process can do): execute, write ``<name>.done`` on success."""
    import papermill as pm

    os.environ.update(env)
    for variable in SLOW_ENVIRON:  # a Dask worker's malloc setting must not reach the kernel (executor.worker_environ)
        os.environ.pop(variable, None)
    setup_logging()  # also in a Dask worker process, so its runs are announced
    out, marker = Path(runs_dir) / f"{name}.ipynb", Path(runs_dir) / f"{name}.done"
    log.info("[sweep] %s ...", name)
    start = time.time()
    try:
        pm.execute_notebook(notebook, str(out), parameters=params, progress_bar=False, cwd=str(Path(notebook).parent),
                            kernel_name=kernel_name(), kernel_manager_class=QuietKernelManager,
                            config=kernel_config())
    except Exception as err:  # noqa: BLE001 (a failed run must not stop the sweep)
        message = str(err).strip().splitlines()[-1] if str(err).strip() else ""
        log.info("[sweep] %s FAILED after %.0fs (see %s)", name, time.time() - start, out)
        return name, time.time() - start, f"{type(err).__name__}: {message}"
    seconds = time.time() - start
    marker.write_text(json.dumps({"seconds": seconds, "params": params}))
    log.info("[sweep] %s done in %.0fs", name, seconds)
    return name, seconds, None


def study_runs(profile: str, seeds: tuple[int, ...], notebooks=STUDY, **params) -> list[tuple[str, dict]]:
    """The study's runs in an order that trains each model set once: the replicated lottery-ticket
    notebooks first, seed by seed, then the rest of seed 0, which reuse what those trained."""
    present = [n for n in notebooks if (NOTEBOOKS / f"{n}.ipynb").exists() and n != COLLECTOR]
    replicated = [n for n in REPLICATED if n in present]
    first = ([(n, s) for s in seeds for n in replicated if n not in REUSES]  # then the ones reusing their models
             + [(n, s) for s in seeds for n in replicated if n in REUSES])
    rest = [(n, seeds[0]) for n in sorted(present, key=lambda n: (n not in REPLICATED, n not in HEAVY, n))
            if n not in REPLICATED]
    return [(n, {"profile": profile, "seed": s, **params}) for n, s in first + rest]


def run_study(profile: str = "quick", results_dir: str | None = None, notebooks=STUDY, seeds=None,
              workers: int | None = None, scheduler: str | None = None, **params) -> SweepReport:
    """The whole study (finished runs skipped; the notebooks behind C1-C4 over ``seeds``), then the
    collector notebook, always re-run, writes tables, verdicts, figures and the report."""
    start = time.time()
    seeds = tuple(seeds or STUDY_SEEDS[profile])
    workers = workers or default_workers()
    root = results_root(results_dir)
    runs = study_runs(profile, seeds, notebooks, **params)
    plan(runs, workers, results_dir=results_dir)
    report = run_many(runs, results_dir, workers=workers, scheduler=scheduler)
    study_log = {"profile": profile, "seeds": list(seeds), "workers": workers,
                 "command": f"python -m mialth_utils.sweep study --profile {profile}",
                 "wall_seconds": time.time() - start, "notebooks": report.seconds, "skipped": report.skipped,
                 "failed": report.failed}
    (root / "study_log.json").write_text(json.dumps(study_log, indent=2))  # before the collector reads it
    collectors = [n for n in notebooks if n == COLLECTOR]
    final = run_many([(n, {"profile": profile, **params}) for n in collectors], results_dir, skip_done=False)
    report.done += final.done
    report.failed.update(final.failed)
    report.seconds.update(final.seconds)
    study_log.update(total_wall_seconds=time.time() - start, failed=report.failed)
    (root / "study_log.json").write_text(json.dumps(study_log, indent=2))
    if root == (PROJECT_ROOT / "results").resolve() and (root / "tables" / "verdicts.csv").exists():
        if sync_readme(root):  # the README's verdicts follow the committed table, word for word
            log.info("README.md: verdicts block rewritten from results/tables/verdicts.csv")
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
    study.add_argument("--seeds", default=None, help="comma-separated seeds for the replicated notebooks")
    study.add_argument("--plan", action="store_true", help="only print what the study would train, and its cost")
    run = sub.add_parser("run", help="run notebooks over a parameter grid")
    run.add_argument("notebooks", nargs="+")
    run.add_argument("-p", "--param", action="append", default=[], help="name=v1,v2,... (a grid axis)")
    run.add_argument("--results-dir", default=None)
    run.add_argument("--force", action="store_true", help="re-run runs already done")
    for p in (study, run):
        p.add_argument("--workers", type=int, default=None, help="notebook runs at once (default: the cores)")
        p.add_argument("--scheduler", default=None, help="address of a Dask scheduler to send runs to")
    args = parser.parse_args(argv)
    setup_logging()
    if args.command == "study":
        seeds = tuple(int(x) for x in args.seeds.split(",")) if args.seeds else None
        if args.plan:
            plan(study_runs(args.profile, seeds or STUDY_SEEDS[args.profile]), args.workers or default_workers(),
                 results_dir=args.results_dir)
            return 0
        report = run_study(args.profile, args.results_dir, seeds=seeds, workers=args.workers,
                           scheduler=args.scheduler)
    else:
        grid = {}
        for item in args.param:
            if "=" not in item:
                parser.error(f"-p {item!r}: use name=value1,value2")
            key, values = item.split("=", 1)
            grid[key] = [_parse_value(v) for v in values.split(",")]
        report = run_grid(args.notebooks, grid, results_dir=args.results_dir, skip_done=not args.force,
                          workers=args.workers or default_workers(), scheduler=args.scheduler)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
