"""The SFT throughput benchmark's FLOP count and GPU-hour prediction (benchmarks/sft_throughput.py)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def bench(benchmark_module):
    return benchmark_module("sft_throughput")


def test_qwen25_3b_parameter_count_and_flops_per_token(bench):
    import torch
    from transformers import AutoModelForCausalLM

    config = bench.qwen25_3b_config(16384)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    n = sum(p.numel() for p in model.parameters())
    # Qwen2.5-3B: 36 x (attention 2048*(2048+256+256) + biases 2560 + o 2048^2 + MLP 3*2048*11008 + 2 norms)
    # + embedding 151936*2048 (tied) + final norm.
    per_layer = 2048 * 2560 + 2560 + 2048 * 2048 + 3 * 2048 * 11008 + 2 * 2048
    assert n == 36 * per_layer + 151936 * 2048 + 2048 == 3_085_938_688
    assert bench.flops_per_token(n, config, 16384) == 6 * n + 6 * 16384 * 2048 * 36 == 25_763_389_440
    # The full-attention convention counts the masked half of QK^T and AV too.
    assert bench.flops_per_token(n, config, 16384, causal=False) == 6 * n + 12 * 16384 * 2048 * 36 == 33_011_146_752


def test_predicted_gpu_hours_recovers_a_known_step_model(bench, repo_root):
    o, a, b = 0.2, 4e-5, 1e-9
    results = [{"block": s, "step_s_median": o + s * (a + b * s)} for s in (8192, 16384, 32768)]
    low, high = bench.predicted_gpu_hours(results, mean_tokens=6000, cv=0.0, examples=1000, epochs=5,
                                          global_batch=16)
    tokens = 5 * 1000 * (a * 6000 + b * 6000 ** 2)
    assert low == pytest.approx((tokens + 5 * 63 * o) / 3600, rel=1e-9)
    assert high == pytest.approx((tokens + 5000 * o) / 3600, rel=1e-9)
    with pytest.raises(ValueError, match="three or more"):
        bench.predicted_gpu_hours(results[:2], 6000)
    # The committed H100 measurements give the table in benchmarks/RESULTS.md.
    rows = json.loads((repo_root / "benchmarks" / "sft_throughput_results.json").read_text())
    h100 = [r for r in rows if r["tag"] == "h100auto"]
    assert {r["device"] for r in h100} == {"NVIDIA H100 80GB HBM3"} and len(h100) == 3
    low, high = bench.predicted_gpu_hours(h100, 6000)
    assert (round(low, 2), round(high, 2)) == (0.43, 0.63)
