"""Each run writes params.json, metrics.json and tidy CSV tables; one collector gathers them.

Layout: ``<results>/experiments/<experiment>/<run_id>/{params.json, metrics.json, <table>.csv}``, where
``run_id`` is a readable prefix plus a hash of every setting (seed included), so a run with other
settings never overwrites another; figures in ``<results>/figures``, collected tables in
``<results>/tables``. Every table row carries ``run_id``, ``settings_hash`` (equal for replicates
that differ only in their seed) and ``seed``.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..runtime import environment_info, resolve_device
from ..store import atomic_write_bytes, read_json, write_json


class RunRecorder:
    """Where one notebook run writes. ``table(name, df)`` adds identifying columns to every row."""

    def __init__(self, spec, experiment: str):
        self.spec, self.experiment = spec, experiment
        self.folder = Path(spec.results_dir) / "experiments" / experiment / spec.run_id
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started = time.time()
        write_json(self.folder / "params.json", {"experiment": experiment, **spec.params()})

    def table(self, name: str, df: pd.DataFrame) -> Path:
        df = df.copy()
        for key, value in (("experiment", self.experiment), ("run_id", self.spec.run_id),
                           ("settings_hash", self.spec.settings_hash), ("dataset", self.spec.dataset),
                           ("model_arch", self.spec.model), ("profile", self.spec.profile), ("seed", self.spec.seed)):
            if key not in df.columns:
                df.insert(0, key, value)
        path = self.folder / f"{name}.csv"
        atomic_write_bytes(path, df.to_csv(index=False).encode())
        return path

    def finish(self, device=None, **metrics) -> dict:
        out = {"experiment": self.experiment, "run_id": self.spec.run_id, "settings_hash": self.spec.settings_hash,
               "seed": self.spec.seed, "wall_seconds": time.time() - self.started,
               **environment_info(device or resolve_device(self.spec.device)), "profile": self.spec.profile,
               "dataset": self.spec.dataset, "model_arch": self.spec.model, **metrics}
        write_json(self.folder / "metrics.json", out)
        return out


def collect(results_dir: str | Path) -> dict[str, pd.DataFrame]:
    """All runs' tables, concatenated by table name (e.g. ``attacks``, ``accuracy``), plus ``runs``."""
    root = Path(results_dir) / "experiments"
    frames: dict[str, list[pd.DataFrame]] = {}
    runs = []
    for metrics_path in sorted(root.glob("*/*/metrics.json")):
        folder = metrics_path.parent
        runs.append({"folder": str(folder.relative_to(root)), **read_json(metrics_path)})
        for csv in sorted(folder.glob("*.csv")):
            frames.setdefault(csv.stem, []).append(pd.read_csv(csv))
    out = {name: pd.concat(dfs, ignore_index=True) for name, dfs in frames.items()}
    out["runs"] = pd.DataFrame(runs)
    return out


def load_table(results_dir: str | Path, experiment: str, name: str) -> pd.DataFrame:
    paths = sorted((Path(results_dir) / "experiments" / experiment).glob(f"*/{name}.csv"))
    if not paths:
        raise FileNotFoundError(f"no {name}.csv for experiment {experiment!r} under {results_dir}: run its notebook first")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
