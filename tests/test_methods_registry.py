"""The method registry: the move onto it changed no shard, and one module + one line adds a method.

The expected grids and resume keys below were produced by the pre-registry code (main at
ee8c2cf, before issue 13); the resume key hashes a job's model, method spec, engine, seed and
answer limits, so equal keys mean shards written before the move are resumed, not regenerated.
"""

from __future__ import annotations

import copy
import re

import pytest

from workflow_scripts.config import ConfigError, ShardSpec, evaluation_grid, validate_config
from workflow_scripts.decoding.pipeline import think_then_answer
from workflow_scripts.generation.samples import run_resume_key
from workflow_scripts.generation.methods import MethodError, MethodSpec
from workflow_scripts.methods import METHODS, get_method, method_constraint, setting_constraint
from workflow_scripts.methods.base import COUNT, BudgetMethod

OLD_METHODS = ("truncation", "budget_forcing", "class_conditional")
GRID_BEFORE = {
    "config.yaml": [
        ("base", "truncation", "Bunbounded"),
        *[("sft", "budget_forcing", s) for s in ("B1000-n1", "B2000-n1", "B4000-n1", "B500-n1", "B8000-n1",
                                                  "B8000-n2", "B8000-n4", "Bunbounded-n1", "Bunbounded-n2",
                                                  "Bunbounded-n4")],
        ("sft", "class_conditional", "long"), ("sft", "class_conditional", "short"),
        *[("sft", "truncation", s) for s in ("B1000", "B2000", "B4000", "B500", "B8000", "Bunbounded")],
    ],
    "profiles/smoke/experiment.yaml": [
        ("base", "truncation", "Bunbounded"),
        *[("sft", "budget_forcing", s) for s in ("B128-n1", "B128-n2", "B32-n1", "Bunbounded-n1", "Bunbounded-n2")],
        ("sft", "class_conditional", "long"), ("sft", "class_conditional", "short"),
        *[("sft", "truncation", s) for s in ("B128", "B16", "B32", "B64", "Bunbounded")],
    ],
}
SETTINGS = {"engine": {"dtype": "float32", "max_model_len": 256}, "answer_reserve_tokens": 16,
            "answer_max_tokens": 16, "budget_forcing": {"string": "Wait"}}
RESUME_KEYS_BEFORE = {
    ("sft", "truncation", "B500"): "43cc0bf6ab729dcd",
    ("sft", "truncation", "Bunbounded"): "36abe42d00c25941",
    ("sft", "budget_forcing", "B8000-n2"): "608875a6b2f332da",
    ("sft", "class_conditional", "short"): "7daa9116961c8bde",
    ("base", "truncation", "Bunbounded"): "3eddc5b871fc61f6",
    ("base", "class_conditional", "long"): "92cf8bafe5dcaa1c",
}


@pytest.mark.parametrize("path", sorted(GRID_BEFORE))
def test_existing_methods_keep_their_runs_and_order(repo_root, path):
    from workflow_scripts.config import load_config

    grid = [(s.model, s.method, s.setting) for s in evaluation_grid(load_config(repo_root / path))]
    assert [run for run in grid if run[1] in OLD_METHODS] == GRID_BEFORE[path]


@pytest.mark.parametrize("run", sorted(RESUME_KEYS_BEFORE))
def test_existing_specs_keep_their_resume_keys(run):
    spec = MethodSpec.from_cli(*run, SETTINGS)
    assert spec.options == ()
    assert run_resume_key("model-dir", spec, SETTINGS["engine"], 42, SETTINGS) == RESUME_KEYS_BEFORE[run]


def test_every_setting_round_trips_and_matches_the_wildcard_constraint(repo_root):
    from workflow_scripts.config import load_config

    pattern = re.compile(f"(?:{setting_constraint()})")
    for path in GRID_BEFORE:
        for spec in evaluation_grid(load_config(repo_root / path)):
            assert pattern.fullmatch(spec.setting), spec
            assert re.fullmatch(method_constraint(), spec.method)
            assert ShardSpec.of(spec.model, spec.method, spec.params) == spec
    assert not pattern.fullmatch("B500-n2-x") and not pattern.fullmatch("medium")


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="unknown method 'sampling'; registered methods: truncation"):
        get_method("sampling")


class HalfBudget(BudgetMethod):
    """A toy method: truncation at half of each budget (setting ``H64`` thinks <= 32 tokens)."""

    name = "half_budget"
    label = "half budget"
    colour = "#949494"
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"budgets": {"$ref": "#/definitions/budget_list", "default": [64]}}}
    setting_format = "H{budget}"  # H64: the wildcard's regex, the setting string and its parser follow
    setting_fields = {"budget": COUNT}  # a whole number: no Hunbounded (the default {budget} allows it)

    def spec_fields(self, params, settings):
        return {**super().spec_fields(params, settings), "budget": params["budget"] // 2,
                "options": (("full_budget", params["budget"]),)}

    def think(self, ctx, records, spec):
        return think_then_answer(ctx, records, spec)


@pytest.fixture
def smoke_config(repo_root):
    from workflow_scripts.config import load_config

    return load_config(repo_root / "profiles" / "smoke" / "experiment.yaml")


@pytest.fixture
def toy_method(monkeypatch):
    """The one registry line, made for the duration of a test."""
    monkeypatch.setitem(METHODS, HalfBudget.name, HalfBudget())
    return METHODS[HalfBudget.name]


def test_a_registered_toy_method_joins_schema_grid_constraints_and_cli(toy_method, smoke_config):
    config = copy.deepcopy(smoke_config)
    config["generation"]["half_budget"] = {"budgets": [64, 32]}
    validate_config(config)
    grid = evaluation_grid(config)
    assert [s.setting for s in grid if s.method == "half_budget"] == ["H32", "H64"]
    assert [s for s in grid if s.method != "half_budget"] == evaluation_grid(smoke_config)
    assert "half_budget" in method_constraint().split("|")
    assert re.fullmatch(f"(?:{setting_constraint()})", "H64")
    spec = MethodSpec.from_cli("sft", "half_budget", "H64", SETTINGS)
    assert (spec.budget, spec.option("full_budget"), spec.as_dict()["full_budget"]) == (32, 64, 64)
    with pytest.raises(ConfigError, match="budgest"):
        bad = copy.deepcopy(config)
        bad["generation"]["half_budget"] = {"budgest": [1]}
        validate_config(bad)


def test_without_the_registry_line_the_section_is_an_unknown_key(smoke_config):
    config = copy.deepcopy(smoke_config)
    config["generation"]["half_budget"] = {"budgets": [64]}
    with pytest.raises(ConfigError, match="half_budget"):
        validate_config(config)


def test_a_method_without_the_thinking_format_refuses_the_base_model():
    with pytest.raises(MethodError, match="base model has none"):
        MethodSpec.from_cli("base", "budget_forcing", "B32-n1", SETTINGS)


SETTING_STRINGS = {  # every built-in method: its parameters and setting string (byte for byte as before)
    "truncation": [({"budget": 500}, "B500"), ({"budget": "unbounded"}, "Bunbounded")],
    "rejection_sampling": [({"budget": 500}, "B500")],
    "budget_forcing": [({"budget": 8000, "n": 2}, "B8000-n2"), ({"budget": "unbounded", "n": 1}, "Bunbounded-n1")],
    "class_conditional": [({"prompt": "short"}, "short"), ({"prompt": "long"}, "long")],
    "token_conditional": [({"count": 64}, "T64")],
    "token_conditional_forcing": [({"count": 500}, "T500")],
    "step_conditional": [({"count": 4}, "S4")],
    "step_conditional_forcing": [({"count": 16}, "S16")],
    "parallel": [({"k": 16}, "k16")],
}


@pytest.mark.parametrize("name", sorted(SETTING_STRINGS))
def test_one_setting_format_gives_string_parser_and_wildcard(name):
    method = METHODS[name]
    for params, setting in SETTING_STRINGS[name]:
        assert method.setting(params) == setting
        assert method.parse(setting) == params
        assert re.fullmatch(f"(?:{method.setting_regex})", setting)
        assert re.compile(method.setting_regex).groupindex == {}  # no named groups: a wildcard constraint
    assert sorted(SETTING_STRINGS) == sorted(METHODS)


@pytest.mark.parametrize("name, setting, message", [
    ("truncation", "B32-n1", "truncation setting takes no -n1: 'B32-n1' (expected B{budget} with budget a positive "
                             "integer or unbounded)"),
    ("budget_forcing", "B32", "budget_forcing setting needs -n{n}: 'B32'"),
    ("truncation", "B0", "cannot parse shard setting 'B0' for method 'truncation': expected B{budget}"),
    ("truncation", "B07", "cannot parse shard setting 'B07'"),
    ("class_conditional", "medium", "cannot parse shard setting 'medium' for method 'class_conditional': "
                                    "expected short or long"),
    ("token_conditional", "T0", "expected T{count} with count a positive integer"),
    ("step_conditional", "T4", "cannot parse shard setting 'T4' for method 'step_conditional': expected S{count}"),
    ("parallel", "k0", "cannot parse shard setting 'k0' for method 'parallel': expected k{k} with k a positive integer"),
])
def test_a_bad_setting_says_what_was_expected(name, setting, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        METHODS[name].parse(setting)


def test_a_setting_format_must_declare_its_fields():
    class Broken(HalfBudget):
        name = "broken"
        setting_format = "H{budget}-x{width}"

    with pytest.raises(TypeError, match="width"):
        Broken().parse("H4-x2")
