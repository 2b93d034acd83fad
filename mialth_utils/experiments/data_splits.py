"""01_data_and_splits: the data set, the pool / never-trained population split and the keep-matrix."""
from __future__ import annotations

import pandas as pd

from ..config import StudySpec
from ..reporting import plots
from ..reporting.results import RunRecorder
from .base import Experiment, Table, model_set

COLUMNS = {
    "model_index": "row of the keep-matrix: 0 = target, 1..R = reference models, integer",
    "role": "target | reference",
    "n_members": "number of pool examples the model trains on, integer",
    "n_non_members": "number of pool examples the model does not train on, integer",
}


def data_and_splits(spec: StudySpec) -> dict:
    """01_data_and_splits: the data set, the pool / population split and the keep-matrix."""
    rec = RunRecorder(spec, EXPERIMENT.name)
    models = model_set(spec, build=False)
    keep = models.membership.keep
    splits = pd.DataFrame({"model_index": range(len(keep)), "role": ["target"] + ["reference"] * (len(keep) - 1),
                           "n_members": keep.sum(1), "n_non_members": (~keep).sum(1)})
    rec.table("splits", splits)
    fig_keep = plots.keep_matrix(keep)
    plots.save_figure(fig_keep, f"{spec.run_id}_keep_matrix", spec.results_dir)
    fig_img = plots.example_images(models.data, models.pool_idx[:16], keep[0, :16], models.labels[:16])
    rec.finish(n_pool=len(models.pool_idx), n_population=len(models.population_idx), keep_hash=models.membership.hash)
    data = models.data
    info = {"data set": data.name, "classes": data.n_classes, "input shape": data.input_shape,
            "train / test examples": (len(data.train_y), len(data.test_y)), "pool": len(models.pool_idx),
            "population (never trained on)": len(models.population_idx), "keep-matrix hash": models.membership.hash,
            "membership design": models.membership.mode}
    return {"info": info, "splits": splits, "figure_keep": fig_keep, "figure_images": fig_img}


# Lays the model set out (split and keep-matrix) without training it: no model set to plan.
EXPERIMENT = Experiment("data_and_splits", "01_data_and_splits", model_sets=lambda spec: [],
                        tables=(Table("splits", COLUMNS, of_models=True),))
