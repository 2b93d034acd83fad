"""Iterative magnitude pruning: where each level starts (masks, rewinding) and its controls.

Level 0 trains the dense model and keeps its rewind point. Level l >= 1 prunes ``prune_frac`` of
the weights that survived level l-1 (by magnitude of the level-(l-1) weights) and then:
``imp`` rewinds the kept weights to the rewind point (``rewind="init"``: initialisation; ``"step"``:
after ``rewind_step`` optimiser steps) or keeps training them (``"finetune"``); ``random_mask``
keeps the same number of weights per layer at random places (rewound like IMP); ``random_reinit``
keeps IMP's mask but draws fresh initial weights. The two controls separate the mask's
structure from its initial values (Frankle & Carbin 2019).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .masks import Masks, full_masks, magnitude_masks, random_masks_like

BRANCHES = ("imp", "random_mask", "random_reinit")
REWINDS = ("init", "step", "finetune")


@dataclass(frozen=True)
class LevelStart:
    """What training at one level starts from."""

    net: nn.Module
    masks: Masks
    snapshot_step: int | None  # level 0: the step whose weights become the rewind point


# 12 parameters, keyword-only: the pruning settings of ModelSetSpec, passed one by one so that this module
# stays free of the model-set layer (imported by it); a settings object would only rename them.
def level_start(level: int, branch: str, *, make_net, prev_state: dict | None, prev_masks: Masks | None,
                rewind_state: dict | None, prune_frac: float, scope: str, output_rate: float, rewind: str,
                rewind_step: int, control_seed: int) -> LevelStart:
    """The starting network and masks of ``branch`` at ``level``; ``make_net(seed=None)`` builds the
    architecture with the model's own initialisation (or, with a seed, a fresh one)."""
    net = make_net()
    if level == 0:
        return LevelStart(net, full_masks(net), rewind_step if rewind == "step" else 0)
    net.load_state_dict(prev_state)
    masks = magnitude_masks(net, prev_masks, prune_frac, scope, output_rate)
    if branch == "random_mask":
        masks = random_masks_like(masks, control_seed)
    if branch == "random_reinit":
        net = make_net(seed=control_seed + 1)
    elif rewind != "finetune":
        net.load_state_dict(rewind_state)
    return LevelStart(net, masks, None)
