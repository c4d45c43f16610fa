"""The desk estimate of the real grid's generated tokens (benchmarks/generation_cost.py), on a tiny grid by hand."""

from __future__ import annotations


import pytest
import yaml

from workflow_scripts.config import load_config


@pytest.fixture(scope="module")
def bench(benchmark_module):
    return benchmark_module("generation_cost")


def test_predicted_tokens_of_a_tiny_grid_by_hand(bench, repo_root, tmp_path):
    overlay = tmp_path / "tiny.yaml"
    overlay.write_text(yaml.safe_dump({"generation": {
        "models": ["sft"], "truncation": {"budgets": [500, "unbounded"]},
        "budget_forcing": {"budgets": [500], "n": {"default": [1]}}, "class_conditional": {"prompts": []},
        "parallel": {"k": 0}, "rejection_sampling": {"budgets": []},
        **{m: {"budgets": []} for m in ("token_conditional", "token_conditional_forcing", "step_conditional",
                                         "step_conditional_forcing")}}}))
    config = load_config(repo_root / "config.yaml", overlay)
    # Two MATH500 questions thinking F = 1000 tokens, W = 100 more after a "Wait"; answers of 300.
    # From scratch: B500 thinks 500, Bunbounded 1000, B500-n1 min(1000 + 101, 500) = 500:
    #   (800 + 1300 + 800) x 2 = 5800. With reuse: one trajectory of the largest budget (unbounded)
    #   with n = 1: 1101 tokens, plus three answers: (1101 + 900) x 2 = 4002; prefill: prompt 93 + cut
    #   thinking (500 + 1000 + 500) per question: (279 + 2000) x 2 = 4558.
    row = bench.predict(config, {"math500": (1000, 100)}, 1, {"math500": 2})
    assert (row["tokens_from_scratch"], row["tokens_reuse"], row["prefill_reuse"]) == (5800, 4002, 4558)
    assert (row["derivable_tokens_from_scratch"], row["derivable_tokens_reuse"]) == (5800, 4002)
    # k = 2 samples: every run and the trajectory twice.
    row = bench.predict(config, {"math500": (1000, 100)}, 2, {"math500": 2})
    assert (row["tokens_from_scratch"], row["tokens_reuse"]) == (11600, 8004)
    # GPU-hours: tokens / rate (+ prefill at 10x the short-context rate), in hours.
    assert bench.gpu_hours(13_322 * 3600, 13_322.0) == pytest.approx(1.0)
    assert bench.gpu_hours(0, 1.0, prefill=133_220 * 3600) == pytest.approx(1.0)


def test_the_committed_prediction_is_what_the_script_computes(bench, repo_root):
    """benchmarks/generation_cost_results.json (the report's declared input for the full run's
    predicted cost) is what `python benchmarks/generation_cost.py` writes for config.yaml now."""
    import json

    config = load_config(repo_root / "config.yaml")
    questions = bench.eval_questions(config)
    assert questions == {"math500": 100, "aime24": 30, "gpqa": 100}
    committed = json.loads((repo_root / "benchmarks" / "generation_cost_results.json").read_text())
    assert committed == json.loads(json.dumps(bench.results_document(config, bench.DEFAULT_SAMPLES, questions)))
    assert bench.RESULTS_PATH == repo_root / "benchmarks" / "generation_cost_results.json"
    # one row per (scenario, k); hours = tokens / the cited rate
    row = committed["rows"][0]
    assert (row["scenario"], row["samples"]) == ("shorter", 1)
    assert row["gpu_hours_from_scratch (short context)"] == pytest.approx(row["tokens_from_scratch"] / 13_322 / 3600)
