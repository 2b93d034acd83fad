"""report.html embeds its figures; the data dictionary documents every column or refuses."""
from __future__ import annotations

import base64
import logging
import re

import matplotlib.pyplot as plt
import pandas as pd

from mialth_utils.stats import VERDICTS
import pytest

from mialth_utils.reporting import dictionary, html, plots

MARKDOWN = """# mialth report

Intro with *emphasis*.

| attack | AUC |
| --- | --- |
| LiRA online | 0.66 |

![accuracy](figures/small.png)
"""


@pytest.fixture
def results_dir(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    plots.save_figure(fig, "small", tmp_path)
    return tmp_path


def test_write_html_embeds_figures_and_renders_tables(results_dir):
    path = html.write_html(MARKDOWN, results_dir)
    assert path == results_dir / "report.html"
    page = path.read_text()
    assert 'src="figures/' not in page
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(sources) == 1
    assert base64.b64decode(sources[0]) == (results_dir / "figures" / "small.png").read_bytes()
    assert "<table>" in page and "<th>attack</th>" in page and "<td>LiRA online</td>" in page
    assert "<title>mialth report</title>" in page and "<style>" in page
    assert "<em>emphasis</em>" in page


def test_write_html_marks_a_missing_figure(results_dir, caplog):
    with caplog.at_level(logging.WARNING):
        page = html.write_html("![gone](figures/gone.png)\n", results_dir).read_text()
    assert "missing figure: figures/gone.png" in page and "<img" not in page
    assert "gone.png" in caplog.text


def tables():
    ids = {"experiment": ["lth_attack"], "run_id": ["r0"], "settings_hash": ["h"], "seed": [0],
           "dataset": ["fake"], "model_arch": ["mlp"], "profile": ["smoke"]}
    accuracy = pd.DataFrame({**ids, "branch": ["imp"], "level": [0], "sparsity": [0.0], "train_acc": [1.0],
                             "test_acc": [0.9], "gap": [0.1]})
    attacks = pd.DataFrame({**ids, "attack": ["loss"], "auc": [0.6], "auc_ci_low": [0.55], "auc_ci_high": [0.65],
                            "tpr@0.1%fpr": [0.002], "tpr@0.1%fpr_resolvable": [True], "n_in": [500],
                            "score_kind": ["continuous"], "error": [None]})
    return {"accuracy": accuracy, "attacks": attacks}


def test_every_schema_column_has_one_meaning():
    from mialth_utils.experiments import REGISTRY

    declared = {id(table.columns): table.columns for e in REGISTRY for table in e.tables}  # one dict per experiment
    parts = [dictionary.IDENTIFYING, dictionary.MODEL, dictionary.ATTACK, dictionary._tpr_columns(), dictionary._ppv_columns(),
             *declared.values(), dictionary.VERDICTS, dictionary.RUNS]
    assert sum(len(part) for part in parts) == len(dictionary.COLUMNS)  # no name defined twice
    schema = ("branch level sparsity train_acc test_acc gap attack n_in n_out n_refs n_queries auc auc_ci_low "
              "auc_ci_high balanced_acc advantage precision recall top_tie_block score_kind error n_classes subset "
              "classes n_pool fit_level target_level fit_arch target_arch target_model balanced_acc_transferred balanced_acc_native asr compression method dense_test_acc "
              "nonzero_params macs bits shadows balanced_acc_fixed auc_abnormal n_tested tested_frac "
              "precision_at_alpha recall_at_alpha n_predicted_members cost_seconds target_test_acc from_level "
              "to_level spearman newly_exposed newly_protected exposed_both claim setting rule statistic estimate "
              "ci_low ci_high n_seeds verdict margin detail tpr@0%fpr_resolvable tpr@10%fpr_ci_high ppv@1%fpr_prior1%").split()
    assert not [c for c in schema if c not in dictionary.COLUMNS]
    assert all(text and "\n" not in text for text in dictionary.COLUMNS.values())


def test_write_dictionary_lists_every_column(tmp_path):
    path = dictionary.write_dictionary(tables(), tmp_path / "tables")
    assert path == tmp_path / "tables" / "README.md"
    text = path.read_text()
    for name, df in tables().items():
        assert f"## {name}.csv" in text
        section = text.split(f"## {name}.csv")[1].split("\n## ")[0]
        for column in df.columns:
            assert f"| `{column}` |" in section
    assert dictionary.COLUMNS["tpr@0.1%fpr"] in text


def test_write_dictionary_refuses_an_unknown_column(tmp_path):
    bad = tables()
    bad["attacks"] = bad["attacks"].assign(heldout_acc=0.8)
    with pytest.raises(ValueError, match="attacks: heldout_acc"):
        dictionary.write_dictionary(bad, tmp_path / "README.md")
    assert not (tmp_path / "README.md").exists()


def test_write_dictionary_refuses_an_attack_metric_name_in_a_model_table(tmp_path):
    bad = tables()
    bad["accuracy"] = bad["accuracy"].assign(precision="bf16")  # the old meaning: a training setting
    with pytest.raises(ValueError, match="accuracy: precision"):
        dictionary.write_dictionary(bad, tmp_path)


def test_integers_stored_as_floats_are_reported():
    found = dictionary.floats_that_should_be_integers({"attacks": pd.DataFrame({"n_in": [500.0], "auc": [0.6]})})
    assert found == {"attacks": ["n_in"]}
    assert dictionary.floats_that_should_be_integers(tables()) == {}


def test_readme_verdicts_are_the_committed_table_word_for_word():
    from mialth_utils.paths import PROJECT_ROOT
    from mialth_utils.reporting.readme import read_tables, readme_block, verdicts_block

    table, runs = read_tables(PROJECT_ROOT / "results")
    block = readme_block((PROJECT_ROOT / "README.md").read_text())
    assert block, "README.md has no verdicts block"
    assert block == verdicts_block(table, runs), "README's verdicts differ from results/tables/verdicts.csv: run make study"
    assert set(table["verdict"]) <= set(VERDICTS)
    assert (table["n_seeds"][table["verdict_role"] == "primary"] >= 5).all()  # the plan's min_seeds, every claim


def test_readme_block_is_rewritten_from_a_table(tmp_path):
    from mialth_utils.reporting.readme import END, START, readme_block, sync_readme

    (tmp_path / "tables").mkdir()
    rows = pd.DataFrame({"claim": ["C1", "C2"], "setting": ["a", "a, loss, level 1"],
                         "statistic": ["max sparsity kept", "ticket_minus_dense_auc"], "estimate": [0.5, 0.01],
                         "ci_low": [float("nan"), -0.01], "ci_high": [float("nan"), 0.02], "n_seeds": [3, 3],
                         "verdict": ["supported", "inconclusive"]})
    rows.to_csv(tmp_path / "tables" / "verdicts.csv", index=False)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold\n{END}\noutro\n")
    assert sync_readme(tmp_path, readme) and not sync_readme(tmp_path, readme)
    block = readme_block(readme.read_text())
    assert "| C1 |  | a | `max sparsity kept` | 0.5000 |  | 3 |  |  | **supported** |" in block
    assert "level 1" not in block  # per-level rows stay in the table
    assert readme.read_text().startswith("intro\n") and readme.read_text().endswith("outro\n")
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        sync_readme(tmp_path, readme)
