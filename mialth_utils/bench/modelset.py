"""Time building one model set in this process (``workers=1``) against a local pool of worker processes.

The quick profile's model set (9 LeNet-300-100 on 2000 members each, 30 epochs a level) with fewer
IMP levels (4 by default, 45 model-levels), built from an empty store each time; both ways train bitwise the same
models (tests/test_executor.py), so only the time differs.
"""
from __future__ import annotations

import logging
import tempfile
import time

log = logging.getLogger(__name__)


def benchmark(workers: int = 2, epochs: int = 30, n_levels: int = 4, n_models: int = 9, dataset: str = "fashion-mnist",
              model: str = "lenet-300-100") -> dict:
    """Seconds of a sequential and a ``workers``-process build of the same model set, and their ratio."""
    from ..modelsets import ModelSet, ModelSetSpec
    from ..training.loop import TrainSpec

    spec = ModelSetSpec(dataset=dataset, model=model, n_models=n_models, n_pool=4000, n_population=1000,
                        n_levels=n_levels, train=TrainSpec(epochs=epochs, batch_size=128, lr=0.05))
    seconds = {}
    for label, n in (("sequential", 1), (f"workers={workers}", workers)):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            ModelSet(spec, cache_dir=tmp).build(workers=n)
            seconds[label] = time.perf_counter() - start
    result = {"sequential_seconds": seconds["sequential"], "parallel_seconds": seconds[f"workers={workers}"],
              "workers": workers, "ratio": seconds["sequential"] / seconds[f"workers={workers}"],
              "model_levels": n_models * (n_levels + 1), "epochs": epochs}
    log.info("model set of %d model-levels x %d epochs: sequential %.1f s, %d workers %.1f s, %.2fx",
             result["model_levels"], epochs, result["sequential_seconds"], workers, result["parallel_seconds"],
             result["ratio"])
    return result
