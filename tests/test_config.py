"""Settings: schema defaults applied once, cross-key checks, config overlays, and the evaluation grid."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from workflow_scripts.config import (
    ConfigError, ShardSpec, complete_config, complete_section, evaluation_grid, load_config, merge_configs,
    trajectory_plan, validate_config,
)


@pytest.fixture(scope="module")
def real_config(repo_root):
    return load_config()  # config.yaml, completed


@pytest.fixture()
def workflow_config(repo_root):
    """config.yaml as written (what Snakemake merges --configfile overlays over)."""
    return yaml.safe_load((repo_root / "config.yaml").read_text())


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
    assert ".".join(path) in str(error.value)


def test_wrong_type_is_named(real_config):
    config = copy.deepcopy(real_config)
    config["training"]["epochs"] = "five"
    config["generation"]["truncation"]["budgets"] = [500, "lots"]
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    message = str(error.value)
    assert "training.epochs: 'five' is not of type 'number'" in message
    assert "generation.truncation.budgets.1: 'lots' is not a thinking-token budget" in message


def test_missing_section_is_named(real_config):
    config = copy.deepcopy(real_config)
    del config["eval_sets"]["gpqa"]["source"]
    with pytest.raises(ConfigError, match="eval_sets.gpqa"):
        validate_config(config)


def test_eval_sets_are_optional_but_one_is_needed(real_config):
    """Any subset of the eval sets; null leaves one out (an overlay cannot delete a key of config.yaml)."""
    config = copy.deepcopy(real_config)
    config["eval_sets"].update(aime24=None, gpqa=None)
    complete = validate_config(config)
    assert {s.model for s in evaluation_grid(complete)} == {"sft", "base"}
    from workflow_scripts.config import eval_set_names
    assert eval_set_names(complete) == ["math500"]
    config["eval_sets"]["math500"] = None
    with pytest.raises(ConfigError, match="eval_sets: every eval set is null; at least one must be evaluated"):
        validate_config(config)


def test_models_are_named_entries_with_sources(real_config):
    from workflow_scripts.config import eval_limits, model_entries, trains_here

    config = copy.deepcopy(real_config)
    config["generation"]["models"] = [
        "base", {"name": "s1.1-3b", "source": "/models/s1.1-3B"},
        {"name": "sft", "source": "simplescaling/s1.1-3B", "limit": 30},
        {"name": "base-think", "source": "Qwen/Qwen2.5-3B-Instruct", "format": "think"}]
    complete = validate_config(config)
    entries = {e.name: e for e in model_entries(complete)}
    assert (entries["base"].source, entries["base"].format) == (None, "direct")
    assert (entries["s1.1-3b"].format, entries["sft"].trains) == ("think", False)  # sft with a source: no training
    assert not trains_here(complete)
    assert eval_limits(complete, entries["sft"]) == {"math500": 30, "aime24": 30, "gpqa": 30}
    assert eval_limits(complete, entries["base"]) == {"math500": 100, "aime24": None, "gpqa": 100}
    grid = evaluation_grid(complete)
    # Thinking models run every method; the base model only the baseline's.
    thinking = {s.method for s in grid if s.model == "base-think"}
    assert thinking == {s.method for s in grid if s.model == "s1.1-3b"}
    assert {"truncation", "budget_forcing", "class_conditional"} <= thinking
    base = [s for s in grid if s.model == "base"]
    assert {s.method for s in base} == set(complete["generation"]["baseline"]["methods"])  # the baseline's only
    assert [s.setting for s in base if s.method == "truncation"] == ["Bunbounded"]
    assert trains_here(validate_config(real_config))
    config["generation"]["models"] = ["base", {"name": "mine"}, {"name": "base", "source": "x"}]
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert "entry 2 ('mine') needs a source" in str(error.value) and "entry 3 repeats the name 'base'" in str(error.value)


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
    assert [s.label for s in grid if s.model == "base"] == ["base/parallel/k16", "base/truncation/Bunbounded"]
    for method, prefix in (("token_conditional", "T"), ("token_conditional_forcing", "T"),
                           ("step_conditional", "S"), ("step_conditional_forcing", "S")):
        counts = real_config["generation"][method]["budgets"]
        assert [s.setting for s in sft if s.method == method] == [f"{prefix}{c}" for c in counts]
    assert [s.setting for s in sft if s.method == "rejection_sampling"] == ["B1000", "B2000", "B4000", "B500"]
    assert [s.setting for s in sft if s.method == "parallel"] == ["k16"]
    assert len(grid) == len(set(grid))


@pytest.mark.parametrize(
    "spec",
    [
        ShardSpec.of("sft", "truncation", {"budget": 500}),
        ShardSpec.of("sft", "truncation", {"budget": "unbounded"}),
        ShardSpec.of("sft", "budget_forcing", {"budget": 8000, "n": 4}),
        ShardSpec.of("base", "class_conditional", {"prompt": "long"}),
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


def snakemake_dry_run(workdir, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", *args],
                          cwd=workdir, capture_output=True, text=True, timeout=timeout)


def test_snakemake_stops_at_startup_naming_the_key(repo_root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"generation": {"truncation": {"budgest": [10]}}}))
    result = snakemake_dry_run(repo_root, "--configfile", str(bad))
    assert result.returncode != 0
    assert "generation.truncation: unknown key(s) 'budgest'" in result.stdout + result.stderr


# --- cross-key checks ---------------------------------------------------------------------------------

def test_forcing_table_keyed_by_a_missing_budget_fails_naming_the_key(repo_root, tmp_path):
    """The issue's case: moving 8000 to 6000 in the budgets leaves n's "8000" entry orphaned."""
    overlay = {"generation": {"budget_forcing": {"budgets": [500, 1000, 2000, 4000, 6000, "unbounded"]}}}
    with pytest.raises(ConfigError) as error:
        complete_config(merge_configs(yaml.safe_load((repo_root / "config.yaml").read_text()), overlay))
    assert str(error.value).count("generation.budget_forcing.n: key") == 1
    message = str(error.value)
    assert "generation.budget_forcing.n: key '8000' is not one of generation.budget_forcing.budgets" in message
    bad = tmp_path / "budgets.yaml"
    bad.write_text(yaml.safe_dump(overlay))
    result = snakemake_dry_run(repo_root, "--configfile", str(bad))
    assert result.returncode != 0
    assert "generation.budget_forcing.n: key '8000'" in result.stdout + result.stderr
    assert "Job stats" not in result.stdout  # stopped at start-up, before any DAG


@pytest.mark.parametrize("generation, message", [
    ({"budget_forcing": {"budgets": [500, 500]}}, "generation.budget_forcing.budgets: [500, 500] has non-unique elements"),
    ({"truncation": {"budgets": [0]}}, "generation.truncation.budgets.0: 0 is not a thinking-token budget"),
    ({"truncation": {"budgets": ["8000"]}}, "generation.truncation.budgets.0: '8000' is not a thinking-token budget"),
    ({"models": ["sft", "chat"]}, "generation.models.1: 'chat' is not a model entry: sft, base, or a mapping {name, source, format, limit}"),
    ({"baseline": {"methods": ["budget_forcing"]}}, "generation.baseline.methods.0: 'budget_forcing' is not one of"),
    ({"budget_forcing": {"n": {"default": [1, 1]}}}, "generation.budget_forcing.n.default: [1, 1] has non-unique"),
    ({"budget_forcing": {"n": {"8000": [2]}}}, "generation.budget_forcing.n: 'default' is a required property"),
    ({"engine": {"tensor_parallel_size": 2}}, "generation.engine.tensor_parallel_size 2 needs as many GPUs, but "
                                             "generation.gpus_per_job is 1"),
    ({"answer_reserve_tokens": 40000}, "generation.answer_reserve_tokens 40000 leaves no room to think within "
                                       "generation.engine.max_model_len 32768"),
])
def test_bad_generation_settings_are_named(workflow_config, generation, message):
    with pytest.raises(ConfigError) as error:
        complete_config(merge_configs(workflow_config, {"generation": generation}))
    assert message in str(error.value)


def test_unquoted_yaml_budget_keys_count_as_budgets(workflow_config):
    config = merge_configs(workflow_config, {"generation": {"budget_forcing": {"n": yaml.safe_load(
        "{default: [1], 8000: [1, 2], unbounded: [1, 2, 4]}")}}})
    assert 8000 in config["generation"]["budget_forcing"]["n"]  # YAML's integer key
    grid = evaluation_grid(complete_config(config))
    assert {s.setting for s in grid if s.method == "budget_forcing" and s.budget == 8000} == {"B8000-n1", "B8000-n2"}


def test_training_batch_must_split_over_the_gpus(workflow_config):
    with pytest.raises(ConfigError, match=re.escape("training.global_batch_size 16 is not divisible by training.gpus 3")):
        complete_config(merge_configs(workflow_config, {"training": {"gpus": 3}}))


# --- defaults: one definition, applied once -------------------------------------------------------------

def test_every_default_is_filled_in_and_not_shared(repo_root):
    schema = yaml.safe_load((repo_root / "workflow_scripts" / "schemas" / "config.schema.yaml").read_text())
    config = load_config()

    def walk(section_schema, values, path):
        for key, sub in section_schema.get("properties", {}).items():
            if "default" in sub:
                assert key in values, ".".join(path + [key])
            if key in values and isinstance(values[key], dict) and "properties" in sub:
                walk(sub, values[key], path + [key])

    walk(schema, config, [])
    assert config["generation"]["budget_forcing"]["n"] == {"default": [1], "8000": [1, 2, 4], "unbounded": [1, 2, 4]}
    assert config["training"]["learning_rate"] == 1e-5 and config["curation"]["target_size"] == 1000
    # each completion gets its own copy of a default: filling one config never changes another
    first, second = complete_section("curation", {}), complete_section("curation", {})
    first["keep_all_sources"].append("omni")
    assert second["keep_all_sources"] == ["aime", "gpqa"] == complete_section("curation", {})["keep_all_sources"]


def test_given_values_win_over_defaults_and_partial_sections_complete():
    training = complete_section("training", {"epochs": 2, "gpus": 0})
    assert training["epochs"] == 2 and training["gpus"] == 0 and training["learning_rate"] == 1e-5
    world = complete_section("synthetic_world", {"model": {"pretrain_steps": 3}})
    assert world["pool_size"] == 1200 and world["model"]["pretrain_steps"] == 3 and world["model"]["hidden_size"] == 128
    assert complete_section("generation.engine", {})["max_model_len"] == 32768


def copy_workflow(repo_root, dest):
    """The workflow's own files (no tests, results, environment) in a fresh folder."""
    skip = {".git", ".venv", "results", ".snakemake", ".pytest_cache", "tests", "benchmarks"}
    shutil.copytree(repo_root, dest, ignore=lambda folder, names: {
        n for n in names if n == "__pycache__" or (folder == str(repo_root) and n in skip)})
    return dest


def shell_commands(result) -> list[str]:
    """The commands a `snakemake -n --printshellcmds` run would execute."""
    return re.findall(r"^Shell command: (.*)$", result.stdout + result.stderr, re.M)


def test_a_schema_default_changed_in_one_place_reaches_every_stage(repo_root, tmp_path):
    """Edit two defaults in a copy of the schema: every rule's command and every stage CLI completing
    partial settings gets the new values, with nothing else edited."""
    workflow = copy_workflow(repo_root, tmp_path / "workflow")
    schema_path = workflow / "workflow_scripts" / "schemas" / "config.schema.yaml"
    text = schema_path.read_text()
    edited = text.replace("seed: {type: integer, default: 42,", "seed: {type: integer, default: 7,")
    edited = edited.replace("dedup_min_overlap: {type: number, exclusiveMinimum: 0, maximum: 1, default: 0.5,",
                            "dedup_min_overlap: {type: number, exclusiveMinimum: 0, maximum: 1, default: 0.7,")
    edited = edited.replace("learning_rate: {type: number, exclusiveMinimum: 0, default: 1.0e-5}",
                            "learning_rate: {type: number, exclusiveMinimum: 0, default: 2.0e-5}")
    assert edited.count("default: 7,") == 1 and "default: 0.7" in edited and "default: 2.0e-5" in edited
    schema_path.write_text(edited)

    dry = snakemake_dry_run(workflow, "--printshellcmds", "--configfile", "profiles/smoke/experiment.yaml")
    assert dry.returncode == 0, dry.stderr[-3000:]
    commands = shell_commands(dry)
    seeded = {re.search(r"python -m workflow_scripts\.(\w+)", c.split(" -- ")[-1]).group(1): c
              for c in commands if "--seed" in c}
    assert set(seeded) >= {"world", "data", "curation", "training", "generation", "analysis"}, sorted(seeded)
    for stage, command in seeded.items():
        assert re.search(r"--seed 7\b", command), (stage, command)
    curate = next(c for c in commands if "workflow_scripts.curation" in c)
    assert '"dedup_min_overlap": 0.7' in curate
    # the smoke overlay sets its own learning rate; the real experiment takes the edited default
    real = snakemake_dry_run(workflow, "--printshellcmds", "results/s1-qwen2.5-3b/sft/summary.json")
    assert real.returncode == 0, real.stderr[-3000:]
    sft = next(c for c in shell_commands(real) if "workflow_scripts.training" in c)
    assert '"learning_rate": 2e-05' in sft and re.search(r"--seed 7\b", sft)

    # the stage CLIs complete partial settings from the same (edited) schema
    probe = ("import json; from workflow_scripts.config import complete_section as c; "
             "from workflow_scripts.training.settings import parse_settings; "
             "print(json.dumps([c('curation', {})['dedup_min_overlap'], parse_settings({}).learning_rate]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=workflow, capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "PYTHONPATH": str(workflow)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [0.7, 2e-05]


# --- overlays ---------------------------------------------------------------------------------------

def readme_override(repo_root) -> str:
    """The example override file of the README's config reference."""
    readme = (repo_root / "README.md").read_text()
    return re.search(r"```yaml\n# my.yaml\n(.*?)```", readme, re.S).group(1)


def test_overlays_merge_over_config_yaml_like_snakemake(repo_root, tmp_path):
    override = tmp_path / "my.yaml"
    override.write_text(readme_override(repo_root))
    config = load_config(override)
    generation = config["generation"]
    assert generation["truncation"]["budgets"] == [500, 1000]  # lists are replaced
    assert generation["budget_forcing"]["n"] == {"default": [1]}  # given, so the default table is not used
    assert generation["budget_forcing"]["string"] == "Wait" and generation["class_conditional"]["prompts"] == ["short", "long"]
    assert config["training"]["epochs"] == 3 and config["training"]["learning_rate"] == 1e-5  # mappings merge
    assert config["model"]["base"] == "Qwen/Qwen2.5-3B-Instruct"  # the rest is config.yaml's
    smoke = load_config(repo_root / "profiles" / "smoke" / "experiment.yaml")
    assert smoke["synthetic_world"]["pool_size"] == 1200 and smoke["eval_sets"]["gpqa"]["subset"] == "gpqa_diamond"
    assert smoke["pool"]["columns"]["trace_tokens"] == "thinking_length" and smoke["pool"]["columns"]["question"] == "question"


def test_the_readme_override_runs_over_the_real_experiment(repo_root, tmp_path):
    """snakemake --configfile my.yaml (a dry run of the real experiment): the jobs of the override's grid."""
    override = tmp_path / "my.yaml"
    override.write_text(readme_override(repo_root))
    config = load_config(override)
    grid = evaluation_grid(config)
    dry = snakemake_dry_run(repo_root, "--printshellcmds", "--configfile", str(override))
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "is extended by additional config" in dry.stdout + dry.stderr  # Snakemake's own merge message
    commands = shell_commands(dry)
    generate = [c for c in commands if "workflow_scripts.generation samples" in c]
    shards = [c for c in commands if "workflow_scripts.generation shards" in c]
    assert len(generate) == 2  # one engine per model
    assert len(shards) == len(grid) + len(trajectory_plan(config))  # the SFT model's shared trajectory
    old_methods = ("sft/truncation/", "sft/budget_forcing/", "sft/class_conditional/")
    assert sorted(re.search(r"--run (\S+)", c).group(1).rsplit("/", 1)[1] for c in shards
                  if any(m in c for m in old_methods)) == sorted(["B500", "B1000", "B500-n1", "B1000-n1", "short", "long"])
    # the other methods of s1's Table 3 and parallel scaling run with their schema defaults
    assert len(grid) == 2 + 2 + 2 + 1 + 5 + 5 + 5 + 5 + 4 + 1 + 1
    sft = next(c for c in commands if "workflow_scripts.training" in c)
    assert '"epochs": 3' in sft and '"learning_rate": 1e-05' in sft


# --- the generated config reference (docs/config.md) ------------------------------------------------

def test_docs_config_md_is_what_the_schema_generates(repo_root):
    """docs/config.md is generated (`make docs`); this fails when the schema changed and it was not regenerated."""
    from workflow_scripts.config.reference import REFERENCE_PATH, main, render_reference

    assert REFERENCE_PATH == repo_root / "docs" / "config.md"
    assert REFERENCE_PATH.read_text(encoding="utf-8") == render_reference(), \
        "docs/config.md is stale: run `python -m workflow_scripts.config.reference` (make docs)"
    assert main(["--check"]) == 0


def test_config_reference_rows_carry_the_schema_defaults(tmp_path):
    from workflow_scripts.config.reference import main, render_reference

    text = render_reference()
    rows = {line.split(" | ")[0].strip("| `"): line for line in text.splitlines() if line.startswith("| `")}
    assert rows["seed"] == "| `seed` | integer | `42` | seeds selection, GPQA choice shuffles, training and generation |"
    assert rows["run_name"].startswith("| `run_name` | string | required |")
    assert rows["eval_sets.gpqa.limit"].startswith("| `eval_sets.gpqa.limit` | integer \\| null (>= 1) | `null` |")
    # a method's section comes from its module: its keys and defaults, its docstring as the meaning
    assert rows["generation.parallel.k"] == "| `generation.parallel.k` | integer (>= 0) | `16` | samples per question (0 runs none) |"
    assert rows["generation.truncation"].startswith("| `generation.truncation` | mapping | `{}` | Truncation(B): think")
    # every key a complete config has is documented (the defaults filled in for a minimal config)
    complete = load_config()

    def leaves(node, prefix=""):
        for key, value in node.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and value and not name.startswith(("pool.columns", "generation.budget_forcing.n")):
                yield from leaves(value, name)
            else:
                yield name
    assert [key for key in leaves(complete) if key not in rows and not key.startswith("generation.budget_forcing.n")] == []
    stale = tmp_path / "config.md"
    stale.write_text(text + "edited by hand\n")
    assert main(["--check", "--output", str(stale)]) == 1
