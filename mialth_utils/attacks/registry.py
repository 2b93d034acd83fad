"""Every attack of the kit by name, and its family (for colours, reports and the named baselines)."""
from __future__ import annotations

from .base import Attack
from .classifier import MLLeaks, Shokri, ShokriMLP
from .cmmia import CMMIA
from .label_only import LabelOnlyAttack
from .lira import LiRA
from .rmia import RMIA
from .samia import SAMIA
from .threshold import CorrectnessAttack, LossAttack, SignalAttack

FAMILIES = {"loss": "threshold", "correctness": "threshold", "confidence": "threshold", "entropy": "threshold",
            "modified_entropy": "threshold", "shokri": "classifier", "ml_leaks": "classifier",
            "lira_online": "lira", "lira_offline": "lira", "lira_offline_fixvar": "lira", "rmia": "rmia",
            "label_only": "label_only", "samia": "samia", "cm_mia": "cm_mia", "cm_mia_all": "cm_mia",
            "cm_mia_gauss": "cm_mia", "cm_mia_empirical": "cm_mia", "shokri_mlp": "classifier"}


def default_attacks(fast: bool = False, seed: int = 0) -> list[Attack]:
    """Every attack of the kit with its default settings; ``seed`` seeds the learned attacks
    (``fast``: fewer SAMIA epochs, for smoke runs)."""
    return [LossAttack(), CorrectnessAttack(), SignalAttack("confidence"), SignalAttack("entropy"),
            SignalAttack("modified_entropy"), Shokri(seed=seed), MLLeaks(seed=seed), LiRA(online=True),
            LiRA(online=False), LiRA(online=False, fixed_variance=True), RMIA(), LabelOnlyAttack(),
            SAMIA(epochs=5 if fast else 20, seed=seed)]


def cmmia_attacks() -> list[Attack]:
    """CM-MIA as the paper decides (abnormal examples only; the test that can pass alpha with these
    shadows), testing every example, and with the empirical test whatever the shadow count."""
    return [CMMIA(), CMMIA(test_all=True), CMMIA(test="empirical")]


def get_attack(name: str, seed: int = 0) -> Attack:
    """One attack of ``default_attacks`` by its name (e.g. ``lira_offline``)."""
    for attack in default_attacks(seed=seed) + cmmia_attacks() + [ShokriMLP(seed=seed)]:  # the MLP: on request
        if attack.name == name:
            return attack
    raise ValueError(f"unknown attack {name!r}: choose one of {', '.join(FAMILIES)}")
