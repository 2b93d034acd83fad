"""Benchmark: SAMIA's attention model fitted as before (``nn.TransformerEncoder``, 20 epochs of 512-row
batches) and as now (the written-out encoder, 1024-row batches), and Shokri's per-class MLPs beside gradient-boosted
trees, on the same attack data: seconds per fit and the AUC each reaches.

The attack data come from one level of a model set of the quick profile's size (9 LeNet-300-100, 2000
members each, 30 epochs), built into ``cache_dir`` (reused when it is there) or a temporary folder.
"""
from __future__ import annotations

import logging
import tempfile
import time

log = logging.getLogger(__name__)


def _variants():
    from ..attacks.classifier import Shokri, ShokriMLP
    from ..attacks.samia import SAMIA

    return {"samia": (lambda: SAMIA(batch_size=512, lr=2e-3, encoder="module"), SAMIA),
            "shokri (MLP before, boosted trees after)": (ShokriMLP, Shokri)}


def benchmark(device: str = "cpu", n_models: int = 9, epochs: int = 30, targets: tuple[int, ...] = (0, 1, 2),
              cache_dir: str | None = None, dataset: str = "fashion-mnist") -> list[dict]:
    """One row per attack pair: before / after seconds per fit and mean AUC over ``targets``."""
    from ..evaluation.metrics import evaluate
    from ..modelsets import ModelSet, ModelSetSpec
    from ..signals import attack_data
    from ..training.loop import TrainSpec

    spec = ModelSetSpec(dataset=dataset, model="lenet-300-100", n_models=n_models, n_pool=4000, n_population=1000,
                        n_levels=0, train=TrainSpec(epochs=epochs, batch_size=128, lr=0.05))
    with tempfile.TemporaryDirectory() as tmp:
        models = ModelSet(spec, device=device, cache_dir=cache_dir or tmp).build()
        games = [(attack_data(models.at(0), target=t), models.membership.member_mask(t)) for t in targets]
        rows = []
        for name, pair in _variants().items():
            row = {"part": f"attack {name}", "device": device, "fits": len(games)}
            for side, make in zip(("before", "after"), pair):
                seconds, aucs = 0.0, []
                for data, member in games:
                    start = time.perf_counter()
                    scores = make().fit(data).score(data)
                    seconds += time.perf_counter() - start
                    aucs.append(evaluate(scores, member, n_boot=0)["auc"])
                row.update({f"{side}_seconds_per_fit": seconds / len(games), f"{side}_auc": sum(aucs) / len(aucs),
                            f"{side}": make().__class__.__name__})
            row["ratio"] = row["before_seconds_per_fit"] / row["after_seconds_per_fit"]
            log.info("%s: before %.2f s per fit (AUC %.4f), after %.2f s (AUC %.4f), %.1fx", name,
                     row["before_seconds_per_fit"], row["before_auc"], row["after_seconds_per_fit"], row["after_auc"],
                     row["ratio"])
            rows.append(row)
    return rows
