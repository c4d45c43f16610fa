"""The real grid's GPU-hours from measured decode rates (benchmarks/grid_gpu_hours.py), by hand."""

from __future__ import annotations

import pytest

from workflow_scripts.config import generation_runs, load_config


@pytest.fixture(scope="module")
def hours(benchmark_module):
    return benchmark_module("grid_gpu_hours")


def test_a_wave_sums_its_steps(hours):
    model = hours.StepModel(a=0.01, b=0.001, c=1e-6)
    # 2 sequences, 10 prompt tokens, 3 steps reading 2 x 10, 2 x 11, 2 x 12 context tokens:
    # 3 x (0.01 + 0.002) + 1e-6 x (20 + 22 + 24) = 0.036 + 0.000066
    assert model.wave(2, 10, 3) == pytest.approx(0.036066)
    assert model.wave(2, 10, 3) == pytest.approx(sum(model.step(2, 2 * (10 + i)) for i in range(3)))


def test_the_step_model_is_fitted_exactly_from_consistent_probes(hours):
    truth = hours.StepModel(a=0.008, b=2e-5, c=1.5e-8)
    probes = [{"context": c, "sequences": n, "prefill_tok_s": 1.0,
               "step_ms": 1000 * truth.step(n, n * (c + hours.PROBE_HALF_DECODE))}
              for c, n in ((1024, 256), (1024, 64), (8192, 64), (31744, 16), (31744, 48))]
    fitted = hours.fit_step_model(probes)
    assert (fitted.a, fitted.b, fitted.c) == pytest.approx((truth.a, truth.b, truth.c), rel=1e-6)


def test_rounds_run_in_waves_the_kv_cache_and_max_num_seqs_allow(hours):
    model = hours.StepModel(a=1.0, b=0.0, c=0.0)  # one second a step, whatever the batch
    probes = [{"context": 100, "prefill_tok_s": 1000.0}]
    # 5 sequences, at most 2 at once (max_num_seqs): 3 waves of 10 steps, plus 5 x 100 prompt tokens at 1000/s
    assert hours.round_seconds(model, probes, hours.Round(5, 100, 10), 2, 10 ** 6) == pytest.approx(30.5)
    # the KV cache holds 3 sequences of 110 tokens: 2 waves
    assert hours.round_seconds(model, probes, hours.Round(5, 100, 10), 256, 330) == pytest.approx(20.5)


def test_the_real_grid_has_the_workflows_engines_and_the_desk_models_tokens(hours, benchmark_module, repo_root):
    """Cross-check against generation_cost.py: the same tokens, split into the engines the workflow plans
    (one per model)."""
    cost = benchmark_module("generation_cost")
    config = load_config(repo_root / "config.yaml")
    questions = {name: s.get("limit") or 30 for name, s in config["eval_sets"].items() if s}
    for lengths in (hours.UPPER, hours.S1_LENGTHS):
        rounds = hours.grid_rounds(config, lengths, 1, cost.ANSWER_TOKENS)
        assert set(rounds) == set(generation_runs(config)) == {"sft", "base"}
        tokens = sum(r.sequences * r.decode for rs in rounds.values() for r in rs)
        assert tokens == cost.predict(config, lengths, 1, questions)["tokens_reuse"]
