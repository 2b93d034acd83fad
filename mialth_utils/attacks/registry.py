"""Every attack of the kit: one row of ``ATTACKS`` each (name, family, label, cost class, how to make it).

Plots (colour, marker, line style), reports, tests and ``default_attacks`` read this table and nothing
else; whether an attack's score is discrete is the attack class's own ``discrete`` attribute, read
through the row. To add an attack: write its module (a subclass of ``base.Attack``), add one row below
in its family's block (a new family also needs a line in ``FAMILY_STYLE``), and a test.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .base import Attack
from .bayes import BASE, BaVarIA
from .classifier import MLLeaks, Shokri, ShokriMLP
from .cmmia import CMMIA
from .label_only import LabelOnlyAttack
from .lira import LiRA
from .rmia import RMIA
from .samia import SAMIA
from .threshold import CorrectnessAttack, LossAttack, SignalAttack

# Okabe-Ito colours (readable by colour-blind readers) and one marker per attack family.
FAMILY_STYLE = {
    "threshold": ("#009E73", "o"),
    "classifier": ("#E69F00", "s"),
    "lira": ("#D55E00", "^"),
    "rmia": ("#0072B2", "D"),
    "label_only": ("#CC79A7", "v"),
    "samia": ("#56B4E9", "P"),
    "cm_mia": ("#8C564B", "X"),
    "few_ref": ("#000000", "*"),
}
# What running the attack costs beyond the target's logits, coarsest first.
COSTS = ("signal only", "reference models", "trained attack model", "reference features and tests")


@dataclass(frozen=True)
class AttackInfo:
    """One attack: its name (as in every table), family, label for figures, cost class and factory
    ``make(seed, fast) -> Attack``; ``default`` attacks run in every audit (CM-MIA only in E6)."""

    name: str
    family: str
    label: str
    cost: str
    make: Callable[[int, bool], Attack]
    default: bool = True

    @property
    def discrete(self) -> bool:
        """True when the score takes few values by nature (ties expected), as the attack class says."""
        return bool(self.make(0, True).discrete)


def cmmia_alpha() -> float:
    """CM-MIA's significance level: the analysis plan's ``alpha_cmmia`` (E6 judges its p < alpha decisions)."""
    from ..analysis_plan import section

    return float(section("E6")["alpha_cmmia"])


ATTACKS = (
    AttackInfo("loss", "threshold", "Loss threshold", "signal only", lambda seed, fast: LossAttack()),
    AttackInfo("correctness", "threshold", "Correctness", "signal only", lambda seed, fast: CorrectnessAttack()),
    AttackInfo("confidence", "threshold", "Confidence", "signal only", lambda seed, fast: SignalAttack("confidence")),
    AttackInfo("entropy", "threshold", "Entropy", "signal only", lambda seed, fast: SignalAttack("entropy")),
    AttackInfo("modified_entropy", "threshold", "Modified entropy", "signal only",
               lambda seed, fast: SignalAttack("modified_entropy")),
    AttackInfo("shokri", "classifier", "Shokri (boosted trees)", "trained attack model",
               lambda seed, fast: Shokri(seed=seed)),
    AttackInfo("shokri_mlp", "classifier", "Shokri (MLP attack model)", "trained attack model",
               lambda seed, fast: ShokriMLP(seed=seed), False),
    AttackInfo("ml_leaks", "classifier", "ML-Leaks", "trained attack model", lambda seed, fast: MLLeaks(seed=seed)),
    AttackInfo("lira_online", "lira", "LiRA online", "reference models", lambda seed, fast: LiRA(online=True)),
    AttackInfo("lira_offline", "lira", "LiRA offline", "reference models", lambda seed, fast: LiRA(online=False)),
    AttackInfo("lira_offline_fixvar", "lira", "LiRA offline, fixed var.", "reference models",
               lambda seed, fast: LiRA(online=False, fixed_variance=True)),
    AttackInfo("rmia", "rmia", "RMIA", "reference models", lambda seed, fast: RMIA()),
    AttackInfo("base_online", "few_ref", "BASE (all references)", "reference models",
               lambda seed, fast: BASE(online=True)),
    AttackInfo("base_offline", "few_ref", "BASE (OUT references)", "reference models",
               lambda seed, fast: BASE(online=False)),
    AttackInfo("bavaria_online", "few_ref", "BaVarIA online (Student-t)", "reference models",
               lambda seed, fast: BaVarIA(online=True)),
    AttackInfo("bavaria_offline", "few_ref", "BaVarIA offline (Student-t)", "reference models",
               lambda seed, fast: BaVarIA(online=False)),
    AttackInfo("label_only", "label_only", "Label-only", "signal only", lambda seed, fast: LabelOnlyAttack()),
    AttackInfo("samia", "samia", "SAMIA", "trained attack model",
               lambda seed, fast: SAMIA(epochs=5 if fast else 20, seed=seed)),
    AttackInfo("cm_mia", "cm_mia", "CM-MIA", "reference features and tests",
               lambda seed, fast: CMMIA(alpha=cmmia_alpha()), False),
    AttackInfo("cm_mia_all", "cm_mia", "CM-MIA (every example tested)", "reference features and tests",
               lambda seed, fast: CMMIA(test_all=True, alpha=cmmia_alpha()), False),
    AttackInfo("cm_mia_gauss", "cm_mia", "CM-MIA (Gaussian test)", "reference features and tests",
               lambda seed, fast: CMMIA(test="gaussian", alpha=cmmia_alpha()), False),
    AttackInfo("cm_mia_empirical", "cm_mia", "CM-MIA (empirical test)", "reference features and tests",
               lambda seed, fast: CMMIA(test="empirical", alpha=cmmia_alpha()), False),
)
BY_NAME = {info.name: info for info in ATTACKS}
CMMIA_VARIANTS = ("cm_mia", "cm_mia_all", "cm_mia_empirical")  # what E6 runs: as the paper decides, every example, empirical


def attack_info(name: str) -> AttackInfo | None:
    """The row of ``name`` (None for a name the kit does not know)."""
    return BY_NAME.get(name)


def default_attacks(fast: bool = False, seed: int = 0) -> list[Attack]:
    """Every default attack with its default settings; ``seed`` seeds the learned attacks
    (``fast``: fewer SAMIA epochs, for smoke runs)."""
    return [info.make(seed, fast) for info in ATTACKS if info.default]


def cmmia_attacks() -> list[Attack]:
    """CM-MIA as the paper decides (abnormal examples only; the test that can pass alpha with these
    shadows), testing every example, and with the empirical test whatever the shadow count."""
    return [BY_NAME[name].make(0, False) for name in CMMIA_VARIANTS]


def get_attack(name: str, seed: int = 0) -> Attack:
    """One attack by its name (e.g. ``lira_offline``), with its default settings."""
    if name not in BY_NAME:
        raise ValueError(f"unknown attack {name!r}: choose one of {', '.join(BY_NAME)}")
    return BY_NAME[name].make(seed, False)
