"""Profiles (smoke / quick / paper) and the one frozen study spec a notebook builds from its parameters.

``smoke``: generated data, seconds, for tests. ``quick``: the default study on 2 CPU cores
(Fashion-MNIST, LeNet-300-100). ``paper``: CIFAR-10 with ResNet-18 on a GPU, the papers' scale.
A ``StudySpec`` nests the ``ModelSetSpec`` (data set, model, seed and training live there only)
and the study's own settings; an unknown parameter is an error, never silently dropped.
"""
from __future__ import annotations

import ast
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from .modelsets import ModelSetSpec
from .paths import results_root
from .store import spec_hash
from .training.loop import TrainSpec

# One-shot magnitude pruning at the sparsities of IMP levels 5, 10 and 16 (1 - 0.8**level, 3 decimals): C4's
# comparison of iterative and one-shot pruning at equal sparsity (issue 20).
ONE_SHOT_AT_IMP = tuple(("prune", round(1 - 0.8 ** level, 3)) for level in (5, 10, 16))
# n_levels 16: IMP to sparsity 1 - 0.8**16 = 0.972, deep enough for tickets to stop keeping accuracy (C1).
PROFILES: dict[str, dict] = {
    "smoke": dict(dataset="fake", model="mlp", n_models=5, n_pool=400, n_population=100, n_levels=2,
                  train=TrainSpec(epochs=6, batch_size=64, lr=0.05), n_boot=20, class_counts=(2, 5), n_subsets=2,
                  transfer_model="lenet-300-100", fast_attacks=True,
                  compressions=(("prune", 0.5), ("structured", 0.5), ("quant", 4), ("quant", 2),
                                ("distill", "mlp-small"), ("imp", 2))),
    "quick": dict(dataset="fashion-mnist", model="lenet-300-100", n_models=9, n_pool=4000, n_population=1000,
                  n_levels=16, train=TrainSpec(epochs=30, batch_size=128, lr=0.05), n_boot=200,
                  class_counts=(2, 5, 10), n_subsets=3, transfer_model="mlp", fast_attacks=False,
                  compressions=(("prune", 0.5), ("prune", 0.7), ("prune", 0.9), ("structured", 0.5), ("quant", 8),
                                ("quant", 4), ("quant", 2), ("distill", "mlp-small"), ("imp", 5), ("imp", 10),
                                ("imp", 16)) + ONE_SHOT_AT_IMP),
    "paper": dict(dataset="cifar10", model="resnet-18", n_models=17, n_pool=40000, n_population=10000, n_levels=10,
                  train=TrainSpec(epochs=100, batch_size=256, lr=0.1, augment=True), n_boot=200,
                  class_counts=(2, 5, 10), n_subsets=3, transfer_model="vgg-16", fast_attacks=False, rewind="step",
                  rewind_step=2000, compressions=(("prune", 0.5), ("prune", 0.7), ("prune", 0.9), ("structured", 0.5),
                                                  ("quant", 8), ("quant", 4), ("distill", "resnet-20"), ("imp", 5))),
}
CLASS_COUNTS = {"cifar100": (10, 20, 50, 100)}  # class counts that fit a data set, where the profile's do not
STUDY_FIELDS = ("n_boot", "class_counts", "n_subsets", "transfer_model", "fast_attacks", "compressions")
RUNTIME_FIELDS = ("device", "results_dir", "workers", "scheduler")  # where and how, never what: not hashed


@dataclass(frozen=True)
class StudySpec:
    """What a notebook run is: the profile's defaults overridden by the notebook's parameters."""

    profile: str
    models: ModelSetSpec
    n_boot: int
    class_counts: tuple[int, ...]
    n_subsets: int
    transfer_model: str
    fast_attacks: bool
    compressions: tuple
    device: str = "auto"
    results_dir: Path = Path("results")
    workers: int | None = None
    scheduler: str | None = None

    @property
    def dataset(self) -> str:
        return self.models.dataset

    @property
    def model(self) -> str:
        return self.models.model

    @property
    def seed(self) -> int:
        return self.models.seed

    @property
    def cache_dir(self) -> Path:
        from .paths import cache_root

        return cache_root(self.results_dir)

    @property
    def settings_hash(self) -> str:
        """Hash of every setting except the seed and where / how it runs: equal for replicates."""
        settings = {k: v for k, v in self.params().items() if k not in RUNTIME_FIELDS}
        settings["models"] = {k: v for k, v in settings["models"].items() if k != "seed"}
        return spec_hash(settings)

    @property
    def run_id(self) -> str:
        """A readable prefix and a hash of all settings (seed included): one folder per distinct run."""
        return f"{self.dataset}_{self.model.replace(':', '.')}_{self.profile}_seed{self.seed}_{self.settings_hash[:8]}"

    def params(self) -> dict:
        out = dataclasses.asdict(self)
        out["results_dir"] = str(self.results_dir)
        out["models"] = self.models.to_dict()
        return out


def _check_type(name: str, value, kind) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"parameter {name} must be {getattr(kind, '__name__', kind)}, got {type(value).__name__} "
                        f"{value!r}")


def setting_names() -> tuple[str, ...]:
    """Every name ``settings`` (and ``study_spec``'s overrides) accept: the fields of TrainSpec and
    ModelSetSpec a run may vary, the study's own, and where / how it runs."""
    train = [f.name for f in dataclasses.fields(TrainSpec)]
    sets = [f.name for f in dataclasses.fields(ModelSetSpec) if f.name not in ("train", "dataset", "model", "seed")]
    return tuple(sets + train + list(STUDY_FIELDS) + ["workers", "scheduler"])


def parse_settings(settings) -> dict:
    """A ``settings`` parameter as a dict: a dict, JSON text (papermill's ``-p`` passes text), or None / ""."""
    if settings in (None, ""):
        return {}
    if isinstance(settings, str):
        try:
            settings = json.loads(settings)
        except json.JSONDecodeError as err:
            raise ValueError(f"settings must be a JSON object such as '{{\"prune_frac\": 0.5}}', got {settings!r} "
                             f"({err}); or pass it as YAML: papermill ... -y 'settings: {{prune_frac: 0.5}}'") from None
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict of setting names to values, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(setting_names()))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}: settings takes {', '.join(setting_names())}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}


def study_spec(profile: str = "quick", dataset: str = "auto", model: str = "auto", seed: int = 0,
               device: str = "auto", results_dir: str = "", settings=None, **overrides) -> StudySpec:
    """Build the frozen spec of a run. ``"auto"`` means the profile's default; ``overrides`` and
    ``settings`` (a dict, or JSON text) replace any model-set, training or study field (``n_models``,
    ``n_levels``, ``epochs``, ``prune_frac``, ``rewind``, ``lr``, ``workers``...); ``None`` keeps the
    profile's default; an unknown name raises, and so does a name given both ways."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    settings = parse_settings(settings)
    twice = sorted(k for k in set(settings) & set(overrides) if settings[k] != overrides[k])
    if twice:
        raise ValueError(f"{', '.join(twice)} given both as a parameter and in settings: give each once")
    overrides.update(settings)
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    for name, value, kind in (("dataset", dataset, str), ("model", model, str), ("seed", seed, int),
                              ("device", device, str), ("results_dir", results_dir, str)):
        _check_type(name, value, kind)
    base = dict(PROFILES[profile])
    dataset = base["dataset"] if dataset == "auto" else dataset
    model = base["model"] if model == "auto" else model
    train_fields = {f.name for f in dataclasses.fields(TrainSpec)}
    set_fields = {f.name for f in dataclasses.fields(ModelSetSpec)} - {"train", "dataset", "model", "seed"}
    unknown = set(overrides) - train_fields - set_fields - set(STUDY_FIELDS) - {"workers", "scheduler"}
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))}: use a field of TrainSpec, ModelSetSpec "
                         f"or one of {', '.join(STUDY_FIELDS + ('workers', 'scheduler'))}")
    train = dataclasses.replace(base["train"], **{k: v for k, v in overrides.items() if k in train_fields})
    set_kwargs = {k: v for k, v in {**base, **overrides}.items() if k in set_fields}
    models = ModelSetSpec(dataset=dataset, model=model, seed=seed, train=train, **set_kwargs)
    study = {k: overrides.get(k, base[k]) for k in STUDY_FIELDS}
    if "class_counts" not in overrides and dataset in CLASS_COUNTS:
        study["class_counts"] = CLASS_COUNTS[dataset]
    study["class_counts"] = tuple(study["class_counts"])
    study["compressions"] = tuple(tuple(c) for c in study["compressions"])
    return StudySpec(profile=profile, models=models, device=device, results_dir=results_root(results_dir or None),
                     workers=overrides.get("workers"), scheduler=overrides.get("scheduler"), **study)


COMMON_PARAMETERS = ("dataset", "model", "seed", "device", "profile", "results_dir")


def _assigned(source: str) -> list[str]:
    """Names a parameters cell assigns, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]


def check_parameters(namespace: dict) -> None:
    """The first thing a notebook's spec cell does (``check_parameters(globals())``).

    Refuses a parameter papermill injected that the notebook's parameters cell does not have (papermill
    itself only warns, and the run would go on with the defaults), listing the accepted names. Then
    reads ``settings`` (a dict, or JSON text from ``-p``): a setting that is also a parameter of the cell
    fills that parameter (given both ways: an error), the others stay in ``settings`` for the spec."""
    history = namespace.get("In") or []
    injected = [i for i, src in enumerate(history) if i > 0 and str(src).startswith("# Parameters")]
    given = _assigned(history[injected[-1]]) if injected else []
    if injected:
        accepted = _assigned(history[injected[-1] - 1])
        unknown = [n for n in given if n not in accepted]
        if unknown:
            movable = [u for u in unknown if u in setting_names()]
            hint = (f" {', '.join(movable)}: put it in settings, e.g. -y 'settings: {{{movable[0]}: ...}}'."
                    if movable and "settings" in accepted else "")
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}: this notebook accepts "
                             f"{', '.join(accepted)}.{hint} settings takes: {', '.join(setting_names())}")
    if "settings" not in namespace:
        return
    settings = parse_settings(namespace["settings"])
    for name in [n for n in settings if n in namespace]:
        if name in given and namespace[name] is not None and namespace[name] != settings[name]:
            raise ValueError(f"{name} given both as a parameter ({namespace[name]!r}) and in settings "
                             f"({settings[name]!r}): give it once")
        namespace[name] = settings.pop(name)
    namespace["settings"] = settings
