import numpy as np
import pandas as pd
import pytest

from mialth_utils.reporting.leaderboard import attack_summary, leaderboard_lines


def _attacks():
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(5):
        for level, sparsity in ((0, 0.0), (1, 0.5), (2, 0.75)):
            for attack, tpr in (("weak", 0.02), ("strong", 0.08 + 0.01 * level)):
                for target in range(3 if attack == "weak" else 1):
                    rows.append({"dataset": "d", "model_arch": "m", "settings_hash": "abcdef0123", "seed": seed,
                                 "branch": "imp", "level": level, "sparsity": sparsity, "attack": attack,
                                 "target_model": target, "n_refs": 8, "auc": 0.6,
                                 "tpr@1%fpr": tpr + rng.normal(0, 0.002), "ppv@1%fpr_prior50%": 0.7})
    rows.append({**rows[0], "branch": "random_mask", "attack": "weak", "tpr@1%fpr": 0.9})  # a control: not shown
    return pd.DataFrame(rows)


def test_summary_orders_attacks_and_takes_seed_level_intervals():
    s = attack_summary(_attacks())
    assert sorted(s["level"].unique()) == [0, 2]  # dense and the deepest level only
    dense = s[s["level"] == 0]
    assert list(dense["attack"]) == ["strong", "weak"]
    weak = dense[dense["attack"] == "weak"].iloc[0]
    assert weak["n_seeds"] == 5 and weak["targets_per_seed"] == 3
    assert weak["tpr@1%fpr"] == pytest.approx(0.02, abs=0.002) and weak["ci_low"] < 0.02 < weak["ci_high"]
    assert s[(s["level"] == 2) & (s["attack"] == "strong")]["tpr@1%fpr"].iloc[0] == pytest.approx(0.10, abs=0.003)


def test_report_lines_name_the_strongest_attack():
    text = "\n".join(leaderboard_lines(_attacks()))
    assert "strongest at TPR@1%FPR: strong" in text and "PPV prior 50%" in text and "IMP level 2" in text
    assert leaderboard_lines(None) == [] and leaderboard_lines(pd.DataFrame()) == []
