"""Profiles (smoke / quick / paper) and the frozen spec a notebook builds from its parameters cell.

``smoke``: fake data, seconds, for tests. ``quick``: the default study on 2 CPU cores
(Fashion-MNIST, LeNet-300-100). ``paper``: CIFAR-10 with ResNet-18 on a GPU, the papers' scale.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from .paths import results_root
from .population import PopulationSpec
from .train import TrainSpec

PROFILES: dict[str, dict] = {
    "smoke": dict(dataset="fake", model="mlp", n_models=5, n_pool=400, n_population=100, n_levels=2,
                  train=TrainSpec(epochs=6, batch_size=64, lr=0.05), n_boot=20, class_counts=(2, 5),
                  transfer_model="lenet-300-100", fast_attacks=True,
                  compressions=(("prune", 0.5), ("structured", 0.5), ("quant", 4), ("distill", "mlp-small"),
                                ("imp", 2))),
    "quick": dict(dataset="fashion-mnist", model="lenet-300-100", n_models=9, n_pool=4000, n_population=1000,
                  n_levels=10, train=TrainSpec(epochs=30, batch_size=128, lr=0.05), n_boot=200,
                  class_counts=(2, 5, 10), transfer_model="mlp", fast_attacks=False,
                  compressions=(("prune", 0.5), ("prune", 0.7), ("prune", 0.9), ("structured", 0.5), ("quant", 8),
                                ("quant", 4), ("distill", "mlp-small"), ("imp", 5))),
    "paper": dict(dataset="cifar10", model="resnet-18", n_models=17, n_pool=50000, n_population=0, n_levels=10,
                  train=TrainSpec(epochs=100, batch_size=256, lr=0.1, augment=True), n_boot=200,
                  class_counts=(10, 20, 50, 100), transfer_model="vgg-16", fast_attacks=False, rewind="step",
                  rewind_step=2000, compressions=(("prune", 0.5), ("prune", 0.7), ("prune", 0.9), ("structured", 0.5),
                                                  ("quant", 8), ("quant", 4), ("distill", "resnet-20"), ("imp", 5))),
}


@dataclass(frozen=True)
class StudySpec:
    """What a notebook run is: the profile's defaults overridden by the notebook's parameters."""

    profile: str
    dataset: str
    model: str
    seed: int
    device: str
    results_dir: Path
    population: PopulationSpec
    n_boot: int
    class_counts: tuple[int, ...]
    transfer_model: str
    fast_attacks: bool
    compressions: tuple = ()
    extra: dict = field(default_factory=dict)

    @property
    def run_name(self) -> str:
        return f"{self.dataset}_{self.model}_{self.profile}_seed{self.seed}"

    def params(self) -> dict:
        out = dataclasses.asdict(self)
        out["results_dir"] = str(self.results_dir)
        return out


def _check_type(name: str, value, kind) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"parameter {name} must be {getattr(kind, '__name__', kind)}, got {type(value).__name__} "
                        f"{value!r}")


def study_spec(profile: str = "quick", dataset: str = "auto", model: str = "auto", seed: int = 0,
               device: str = "auto", results_dir: str = "", **overrides) -> StudySpec:
    """Build the frozen spec of a run. ``"auto"`` means the profile's default; ``overrides`` replace
    any population or training field (``n_models``, ``n_levels``, ``epochs``, ``prune_frac``, ...);
    ``None`` values are ignored (the profile's default stays)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    for name, value, kind in (("dataset", dataset, str), ("model", model, str), ("seed", seed, int),
                              ("device", device, str), ("results_dir", results_dir, str)):
        _check_type(name, value, kind)
    base = dict(PROFILES[profile])
    dataset = base["dataset"] if dataset == "auto" else dataset
    model = base["model"] if model == "auto" else model
    train_fields = {f.name for f in dataclasses.fields(TrainSpec)}
    pop_fields = {f.name for f in dataclasses.fields(PopulationSpec)}
    train_over = {k: overrides.pop(k) for k in list(overrides) if k in train_fields}
    pop_over = {k: overrides.pop(k) for k in list(overrides) if k in pop_fields}
    train = dataclasses.replace(base.pop("train"), **train_over)
    pop_kwargs = {k: v for k, v in base.items() if k in pop_fields}
    pop_kwargs.update(pop_over)
    pop_kwargs.update(dataset=dataset, model=model, seed=seed, train=train)
    population = PopulationSpec(**pop_kwargs)
    study_over = {k: overrides.pop(k) for k in list(overrides) if k in ("n_boot", "class_counts", "transfer_model",
                                                                         "fast_attacks", "compressions")}
    values = {k: base[k] for k in ("n_boot", "class_counts", "transfer_model", "fast_attacks", "compressions")}
    values.update(study_over)
    values["class_counts"] = tuple(values["class_counts"])
    values["compressions"] = tuple(tuple(c) for c in values["compressions"])
    return StudySpec(profile=profile, dataset=dataset, model=model, seed=seed, device=device,
                     results_dir=results_root(results_dir or None), population=population, extra=overrides, **values)
