"""Config validation and the evaluation grid."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from workflow_scripts.config import ConfigError, ShardSpec, evaluation_grid, load_config, validate_config


@pytest.fixture(scope="module")
def real_config(repo_root):
    return load_config(repo_root / "config.yaml")


@pytest.fixture(scope="module")
def smoke_config(repo_root):
    return load_config(repo_root / "profiles" / "smoke" / "experiment.yaml")


def test_shipped_configs_are_valid(real_config, smoke_config):
    assert real_config["model"]["base"] == "Qwen/Qwen2.5-3B-Instruct"
    assert real_config["pool"]["source"] == "stewy33/acc_rd_s1-full_59k_dataset"
    assert real_config["eval_sets"]["math500"]["limit"] == 100
    assert real_config["eval_sets"]["aime24"]["limit"] is None
    assert real_config["eval_sets"]["gpqa"]["limit"] == 100
    assert real_config["seed"] == 42
    assert real_config["generation"]["truncation"]["budgets"] == [500, 1000, 2000, 4000, 8000, "unbounded"]
    assert smoke_config["synthetic_world"] is not None


@pytest.mark.parametrize(
    "path, bad_key",
    [((), "run_nmae"), (("curation",), "target_sise"), (("generation", "engine"), "max_model_length")],
)
def test_misspelled_key_is_named(real_config, path, bad_key):
    config = copy.deepcopy(real_config)
    section = config
    for key in path:
        section = section[key]
    section[bad_key] = 1
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert repr(bad_key) in str(error.value)
    assert "/".join(path) in str(error.value)


def test_wrong_type_is_named(real_config):
    config = copy.deepcopy(real_config)
    config["training"]["epochs"] = "five"
    config["generation"]["truncation"]["budgets"] = [500, "lots"]
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    message = str(error.value)
    assert "training/epochs" in message
    assert "generation/truncation/budgets/1" in message


def test_missing_section_is_named(real_config):
    config = copy.deepcopy(real_config)
    del config["eval_sets"]["gpqa"]
    with pytest.raises(ConfigError, match="gpqa"):
        validate_config(config)


def test_grid_of_real_config(real_config):
    grid = evaluation_grid(real_config)
    sft = [s for s in grid if s.model == "sft"]
    truncation = [s for s in sft if s.method == "truncation"]
    forcing = [s for s in sft if s.method == "budget_forcing"]
    assert [s.setting for s in truncation] == ["B1000", "B2000", "B4000", "B500", "B8000", "Bunbounded"]
    # n = 1 at every budget, plus n = 2 and 4 at 8000 and unbounded
    assert sorted(s.setting for s in forcing) == sorted(
        ["B500-n1", "B1000-n1", "B2000-n1", "B4000-n1", "B8000-n1", "B8000-n2", "B8000-n4",
         "Bunbounded-n1", "Bunbounded-n2", "Bunbounded-n4"]
    )
    assert {s.setting for s in sft if s.method == "class_conditional"} == {"short", "long"}
    assert [s.label for s in grid if s.model == "base"] == ["base/truncation/Bunbounded"]
    assert len(grid) == len(set(grid))


@pytest.mark.parametrize(
    "spec",
    [
        ShardSpec("sft", "truncation", 500),
        ShardSpec("sft", "truncation", "unbounded"),
        ShardSpec("sft", "budget_forcing", 8000, 4),
        ShardSpec("base", "class_conditional", prompt="long"),
    ],
)
def test_setting_round_trips(spec):
    assert ShardSpec.from_wildcards(spec.model, spec.method, spec.setting) == spec


@pytest.mark.parametrize(
    "method, setting", [("truncation", "B500-n2"), ("budget_forcing", "B500"), ("truncation", "500"),
                        ("class_conditional", "medium"), ("sampling", "B500")],
)
def test_bad_settings_are_rejected(method, setting):
    with pytest.raises(ValueError, match="setting|method"):
        ShardSpec.from_wildcards("sft", method, setting)


def test_snakemake_stops_at_startup_naming_the_key(repo_root, tmp_path, smoke_config):
    config = copy.deepcopy(smoke_config)
    config["generation"]["truncation"]["budgest"] = [10]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(bad)],
        cwd=repo_root, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "'budgest'" in result.stdout + result.stderr
    assert "generation/truncation" in result.stdout + result.stderr
