"""Every parameter reaches the spec or is refused; ``settings`` sets any model-set, training or study field."""
import json

import papermill as pm
import pytest

from mialth_utils.config import check_parameters, parse_settings, setting_names, study_spec
from mialth_utils.sweep import NOTEBOOKS


@pytest.mark.parametrize("name,value", [("prune_frac", 1.5), ("n_classes", 50)])
def test_an_unknown_notebook_parameter_stops_the_run_listing_the_accepted_names(tmp_path, name, value):
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(NOTEBOOKS / "03_lth_attack.ipynb"), str(tmp_path / "o.ipynb"), progress_bar=False,
                            parameters={"profile": "smoke", name: value, "results_dir": str(tmp_path / "r")})
    message = str(err.value)
    assert f"unknown parameter(s) {name}" in message and "accepts dataset, model, seed" in message
    assert "settings" in message
    assert not (tmp_path / "r" / "cache").exists()  # stopped before anything was trained


def test_settings_prune_frac_changes_the_counted_sparsity(tmp_path):
    results = tmp_path / "r"
    pm.execute_notebook(str(NOTEBOOKS / "00_quickstart.ipynb"), str(tmp_path / "o.ipynb"), progress_bar=False,
                        parameters={"profile": "smoke", "n_levels": 1, "results_dir": str(results),
                                    "settings": '{"prune_frac": 0.5}'})  # as papermill's -p passes it: text
    levels = [json.loads(p.read_text()) for p in (results / "cache" / "population").glob("*/metrics.json")]
    sparsity = {round(m["sparsity"], 2) for m in levels if m["level"] == 1}
    assert sparsity == {0.5}, sparsity  # 0.2 with the default prune_frac


def test_unset_settings_keep_every_hash_and_set_ones_enter_it():
    base = study_spec("smoke")
    assert study_spec("smoke", settings={}).settings_hash == base.settings_hash
    assert study_spec("smoke", settings="").run_id == base.run_id
    changed = study_spec("smoke", settings={"prune_frac": 0.5, "rewind": "step", "lr": 0.1, "scope": "layer"})
    assert changed.models.prune_frac == 0.5 and changed.models.train.lr == 0.1 and changed.models.rewind == "step"
    assert changed.settings_hash != base.settings_hash and changed.run_id != base.run_id
    assert study_spec("smoke", settings='{"batch_size": 32}').models.train.batch_size == 32


def test_settings_refuse_unknown_names_and_names_given_twice():
    with pytest.raises(ValueError, match="unknown setting.*prune_rate.*settings takes .*prune_frac"):
        study_spec("smoke", settings={"prune_rate": 0.5})
    with pytest.raises(ValueError, match="n_levels given both"):
        study_spec("smoke", n_levels=2, settings={"n_levels": 3})
    with pytest.raises(ValueError, match="JSON object"):
        parse_settings("prune_frac=0.5")
    assert {"prune_frac", "rewind", "rewind_step", "scope", "batch_size", "lr", "epochs", "target_epsilon",
            "ppb_lambda", "label_smoothing", "early_stop_patience", "augment"} <= set(setting_names())


def test_check_parameters_reads_the_injected_cell_and_routes_settings():
    cell = 'n_levels = None  # help: x\nsettings = {}  # help: y\n'
    namespace = {"In": ["", cell, '# Parameters\nsettings = {"n_levels": 3, "lr": 0.1}\n'], "n_levels": None,
                 "settings": {"n_levels": 3, "lr": 0.1}}
    check_parameters(namespace)
    assert namespace["n_levels"] == 3 and namespace["settings"] == {"lr": 0.1}  # a parameter of the cell fills it
    namespace = {"In": ["", cell, "# Parameters\nn_levels = 2\nsettings = {\"n_levels\": 3}\n"], "n_levels": 2,
                 "settings": {"n_levels": 3}}
    with pytest.raises(ValueError, match="given both"):
        check_parameters(namespace)
    check_parameters({"In": ["", cell], "n_levels": None, "settings": {}})  # nothing injected: nothing to refuse
