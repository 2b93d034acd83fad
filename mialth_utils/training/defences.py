"""Defences as training options: DP-SGD (Opacus), PPB, early stopping; applied to target and references alike.

Label smoothing and weight decay are plain ``TrainSpec`` fields. DP-SGD goes through Opacus
(``PrivacyEngine`` with Poisson sampling over the training indices, the noise multiplier found for
``target_epsilon`` at ``delta``, per-example clipping at ``max_grad_norm``; models made compatible by
``ModuleValidator.fix``: BatchNorm becomes GroupNorm). PPB (Yuan & Zhang, USENIX Security 2022) adds
lambda * KL between the sorted posteriors of the two halves of a batch, so members' and non-members'
posterior shapes are pushed together. Early stopping keeps the weights of the epoch with the best
held-out accuracy and stops after ``early_stop_patience`` epochs without improvement.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import torch
from torch import nn

log = logging.getLogger(__name__)


def dp_compatible(model: nn.Module, dp: bool) -> nn.Module:
    """The model Opacus can train (BatchNorm -> GroupNorm, ...); unchanged when ``dp`` is off."""
    if not dp:
        return model
    from opacus.validators import ModuleValidator

    fixed = ModuleValidator.fix(model)
    ModuleValidator.validate(fixed, strict=True)
    return fixed


def ppb_term(outputs: torch.Tensor) -> torch.Tensor:
    """KL(sorted p of the first half || sorted p of the second half) of a batch, per example (batchmean)."""
    half = outputs.shape[0] // 2
    if half == 0:
        return outputs.sum() * 0.0
    sorted_logp = torch.log_softmax(outputs.float(), 1).sort(dim=1, descending=True).values
    a, b = sorted_logp[:half], sorted_logp[half:2 * half]
    return nn.functional.kl_div(b, a, log_target=True, reduction="batchmean")


def ppb_loss(base, weight: float):
    """A loss hook: ``base`` (e.g. cross-entropy) + ``weight`` * ``ppb_term``."""
    return lambda outputs, batch_idx, targets: base(outputs, batch_idx, targets) + weight * ppb_term(outputs)


@dataclass
class PrivateTraining:
    """What ``make_private`` sets up: the wrapped model, DP optimiser, Poisson batches and the engine."""

    module: nn.Module
    optimizer: torch.optim.Optimizer
    loader: torch.utils.data.DataLoader
    engine: object
    delta: float
    criterion: object = None  # ghost clipping's loss (its backward clips per example); None with hooks

    def report(self) -> dict:
        """Achieved epsilon of this run (RDP accountant), with what it composes from."""
        history = [list(map(float, h)) for h in self.engine.accountant.history]
        return {"dp_epsilon_run": float(self.engine.get_epsilon(self.delta)), "dp_delta": self.delta,
                "dp_noise_multiplier": float(self.optimizer.noise_multiplier), "dp_history": history}

    def close(self) -> None:
        self.module._close()  # removes Opacus hooks and per-example gradients from the trained model


def make_private(model: nn.Module, optimizer, train_idx: torch.Tensor, spec, seed: int) -> PrivateTraining:
    """Opacus DP-SGD over ``train_idx`` (batches of indices, Poisson-sampled at batch_size / n)."""
    from opacus import PrivacyEngine

    n = len(train_idx)
    delta = spec.delta or 1.0 / n
    gen = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train_idx.cpu()),
                                         batch_size=spec.batch_size, generator=gen)
    with warnings.catch_warnings():  # "secure RNG turned off": seeded noise, for reproducible research runs
        warnings.filterwarnings("ignore", message="Secure RNG turned off", category=UserWarning)
        engine = PrivacyEngine(accountant="rdp")
    ghost = ghost_clipping_fits(model)
    extra = dict(grad_sample_mode="ghost", criterion=nn.CrossEntropyLoss(label_smoothing=spec.label_smoothing)) \
        if ghost else {}
    out = engine.make_private_with_epsilon(
        module=model, optimizer=optimizer, data_loader=loader, target_epsilon=spec.target_epsilon,
        target_delta=delta, epochs=max(spec.epochs, 1), max_grad_norm=spec.max_grad_norm,
        noise_generator=torch.Generator(device=next(model.parameters()).device).manual_seed(seed + 1), **extra)
    module, dp_opt, criterion, dp_loader = out if ghost else (out[0], out[1], None, out[2])
    log.debug("DP-SGD: epsilon %.2f, delta %.2e, noise multiplier %.3f, sample rate %.4f", spec.target_epsilon,
              delta, dp_opt.noise_multiplier, spec.batch_size / n)
    return PrivateTraining(module, dp_opt, dp_loader, engine, delta, criterion)


def ghost_clipping_fits(model: nn.Module) -> bool:
    """Ghost clipping (per-example norms without per-example gradients, ~4x faster on CPU) covers models
    whose parametrised layers are all Linear; others use Opacus' per-example gradient hooks."""
    layers = [m for m in model.modules() if not list(m.children()) and list(m.parameters(recurse=False))]
    return bool(layers) and all(isinstance(m, nn.Linear) for m in layers)


def composed_epsilon(histories: list[list], delta: float) -> float:
    """Epsilon of several DP trainings of the same data composed (RDP), e.g. every IMP level that led
    to a ticket: its mask depends on all of them."""
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [tuple(h) for hist in histories for h in hist]
    return float(accountant.get_epsilon(delta))


class EarlyStopping:
    """Keep the weights of the best held-out accuracy; ``stop`` after ``patience`` epochs without gain."""

    def __init__(self, patience: int, heldout: tuple[torch.Tensor, torch.Tensor], normalise):
        self.patience, self.heldout, self.normalise = patience, heldout, normalise
        self.best, self.best_epoch, self.state = -1.0, 0, None

    @torch.no_grad()
    def update(self, epoch: int, model: nn.Module) -> bool:
        """Record this epoch; True when training should stop."""
        model.eval()
        x, y = self.heldout
        acc = sum((model(self.normalise(x[i:i + 1024])).argmax(1) == y[i:i + 1024]).sum().item()
                  for i in range(0, len(y), 1024)) / len(y)
        model.train()
        if acc > self.best:
            self.best, self.best_epoch = acc, epoch
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return epoch - self.best_epoch >= self.patience

    def restore(self, model: nn.Module) -> dict:
        if self.state is not None:
            model.load_state_dict(self.state)
        return {"early_stop_epoch": self.best_epoch, "early_stop_heldout_acc": self.best}
