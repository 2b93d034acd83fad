"""Time building one model set: in this process (``workers=1``) against a local pool of worker
processes, and per model against batched by level (both on the same workers).

The quick profile's model set (9 LeNet-300-100 on 2000 members each, 30 epochs a level, the target's
random-mask and random-reinit controls) with fewer IMP levels (4 by default), built from an empty
store each time. Sequential and parallel builds train bitwise the same models (tests/test_executor.py),
so only the time differs; batched and per-model builds train the same models to float tolerance in
fp32 and alike in distribution in bf16 (tests/test_batched.py).
"""
from __future__ import annotations

import logging
import tempfile
import time

log = logging.getLogger(__name__)


def _spec(epochs, n_levels, n_models, dataset, model):
    from ..modelsets import ModelSetSpec
    from ..training.loop import TrainSpec

    return ModelSetSpec(dataset=dataset, model=model, n_models=n_models, n_pool=4000, n_population=1000,
                        n_levels=n_levels, controls=("random_mask", "random_reinit"),
                        train=TrainSpec(epochs=epochs, batch_size=128, lr=0.05))


def _seconds(spec, workers: int, batched: bool, device: str) -> float:
    from ..modelsets import ModelSet

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ModelSet(spec, device=device, cache_dir=tmp).build(workers=workers, batched=batched)
        return time.perf_counter() - start


def _result(spec, workers: int, device: str, **seconds: float) -> dict:
    """The row of one comparison: the two timings (the plain way first), their ratio, and the model set's
    size (model-levels counted from its chains, not restated)."""
    plain, kit = seconds.values()
    return {**seconds, "workers": workers, "ratio": plain / kit,
            "model_levels": sum(len(spec.chain(m)) for m in range(spec.n_models)), "epochs": spec.train.epochs,
            "device": device}


def benchmark(workers: int = 2, epochs: int = 30, n_levels: int = 4, n_models: int = 9, dataset: str = "fashion-mnist",
              model: str = "lenet-300-100", device: str = "cpu") -> dict:
    """Seconds of a sequential and a ``workers``-process build of the same model set (per model), and their ratio."""
    spec = _spec(epochs, n_levels, n_models, dataset, model)
    sequential = _seconds(spec, 1, False, device)
    parallel = _seconds(spec, workers, False, device)
    result = _result(spec, workers, device, sequential_seconds=sequential, parallel_seconds=parallel)
    log.info("model set of %d model-levels x %d epochs: sequential %.1f s, %d workers %.1f s, %.2fx",
             result["model_levels"], epochs, sequential, workers, parallel, result["ratio"])
    return result


def batched_benchmark(workers: int = 2, epochs: int = 30, n_levels: int = 4, n_models: int = 9,
                      dataset: str = "fashion-mnist", model: str = "lenet-300-100", device: str = "cpu") -> dict:
    """Seconds of the same model set built per model and batched by level, both on ``workers`` processes
    (training, prediction and saving: everything ``ModelSet.build`` does)."""
    spec = _spec(epochs, n_levels, n_models, dataset, model)
    per_model = _seconds(spec, workers, False, device)
    batched = _seconds(spec, workers, True, device)
    result = _result(spec, workers, device, per_model_seconds=per_model, batched_seconds=batched)
    log.info("model set of %d model-levels x %d epochs on %d workers: per model %.1f s, batched %.1f s, %.2fx",
             result["model_levels"], epochs, workers, per_model, batched, result["ratio"])
    return result
