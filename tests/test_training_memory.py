"""The checkpointing memory model (workflow_scripts/training/memory.py) on real tiny Qwen2 layers.

The stash that autograd keeps for one eager fp32 Qwen2 decoder layer, counted by hand per token
(d hidden, I MLP width, H query heads, kv = key/value heads x head_dim, 4 bytes each):
  two RMSNorms: input, 1/rms, normalised, weighted (3d + 1 each, the input counted as the layer's)
  attention:    rotated q (d), rotated k (kv), v (kv), output (d), log-sum-exp (H)
  MLP:          gate, up, SiLU(gate), product (4 I)
= 8d + 2 + 2 kv + H + 4 I floats; cos/sin are shared by all layers and not counted.
"""

from __future__ import annotations

import pytest
import torch

from workflow_scripts.training.memory import (
    GIB, LayerStash, fewest_checkpointed, layer_forward_saved_bytes, measure_layer_stash, plan_checkpointing,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is fastest, and spinning OpenMP threads crawl on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_model(hidden=64, intermediate=128, heads=2, kv_heads=1, layers=3):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=512, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=4096,
                         tie_word_embeddings=True)
    torch.manual_seed(42)
    return Qwen2ForCausalLM(config)


@pytest.mark.parametrize("hidden, intermediate, heads, kv_heads", [(64, 128, 2, 1), (128, 320, 4, 2)])
def test_stash_model_matches_the_hand_count_and_measurements_at_other_lengths(hidden, intermediate, heads, kv_heads):
    model = tiny_model(hidden, intermediate, heads, kv_heads)
    kv = kv_heads * hidden // heads
    floats_per_token = 8 * hidden + 2 + 2 * kv + heads + 4 * intermediate
    stash = measure_layer_stash(model, autocast_dtype=None)
    assert stash == LayerStash(fixed_bytes=0.0, per_token_bytes=4.0 * floats_per_token,
                               input_bytes_per_token=4.0 * hidden)
    for tokens in (100, 1000, 3000):  # fitted on 256 and 512 tokens; linear in the length
        saved, input_bytes = layer_forward_saved_bytes(model, tokens, autocast_dtype=None)
        assert saved == stash.at(tokens) and input_bytes == stash.input_at(tokens)


def test_fewest_checkpointed_layers_that_fit_by_hand():
    # 1 Gi params x 16 bytes = 16 GiB; 10 layers; at 1024 tokens a stash of 1 GiB with a 1/16 GiB input,
    # loss working memory 16 * 1024 * 1024 bytes = 1/64 GiB: peak(k kept) = 17.640625 + 0.9375 k GiB.
    stash = LayerStash(fixed_bytes=0.0, per_token_bytes=2**20, input_bytes_per_token=2**16)
    args = dict(n_params=2**30, bytes_per_param=16, layers=10, stash=stash, tokens=1024, hidden_size=1024)
    # 30 GiB card: margin max(4 GiB, 5 %) = 4 GiB, limit 26 GiB -> 8 layers kept, 2 checkpointed.
    checkpointed, peak = fewest_checkpointed(budget=30 * GIB, **args)
    assert (checkpointed, peak / GIB) == (2, pytest.approx(17.640625 + 0.9375 * 8))
    # 100 GiB: margin 5 GiB, every layer fits uncheckpointed; 10 GiB: nothing fits, all checkpointed.
    assert fewest_checkpointed(budget=100 * GIB, **args)[0] == 0
    assert fewest_checkpointed(budget=10 * GIB, **args)[0] == 10


def test_plan_auto_all_and_n_on_a_real_model():
    model = tiny_model(layers=3)
    n = sum(p.numel() for p in model.parameters())
    stash = measure_layer_stash(model, None)
    per_layer = stash.at(2048) - stash.input_at(2048)
    fixed = 16 * n + 3 * stash.input_at(2048) + stash.at(2048) + 16 * 2048 * 64
    # A budget with room for exactly two kept layers (plus the margin's 4 GiB floor).
    budget = 4 * GIB + fixed + 2.5 * per_layer
    plan = plan_checkpointing(model, "auto", 2048, "fp32", on_cuda=False, autocast_dtype=None, budget=budget)
    assert (plan.checkpointed_layers, plan.layers) == (1, 3)
    assert plan.predicted_peak_gib == pytest.approx((fixed + 2 * per_layer) / GIB)
    assert plan_checkpointing(model, "auto", 2048, "fp32", on_cuda=False, autocast_dtype=None).checkpointed_layers == 3
    assert plan_checkpointing(model, "all", 2048, "fp32", False, None).checkpointed_layers == 3
    assert plan_checkpointing(model, 2, 2048, "fp32", False, None).checkpointed_layers == 2
    assert plan_checkpointing(model, "auto", 2048, "fp32", True, None, processes=2).checkpointed_layers == 3
    with pytest.raises(ValueError, match="checkpoint_layers: 4 but the model has 3"):
        plan_checkpointing(model, 4, 2048, "fp32", False, None)


def test_loss_curves_agree_over_20_steps_whatever_layers_are_checkpointed():
    """Same seed and data: every layer, one layer and no layer checkpointed give the same 20 losses
    to 1e-6 (fp32 on the CPU, where recomputation is exact)."""
    from workflow_scripts.training.settings import parse_settings
    from workflow_scripts.training.trainer import configure_model

    generator = torch.Generator().manual_seed(42)
    batches = [torch.randint(0, 500, (1, 96), generator=generator) for _ in range(4)]
    curves = {}
    for layers in ("all", 1, 0):
        model = tiny_model(layers=3)
        setup = configure_model(model, parse_settings({"bf16": False, "gpus": 0, "block_size": 96,
                                                               "checkpoint_layers": layers}),
                                "chunked", on_cuda=False, processes=1)
        checkpointed = setup["checkpointing"]["checkpointed_layers"]
        assert [layer.gradient_checkpointing for layer in model.get_decoder().layers] == \
            [i < checkpointed for i in range(3)]
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        curves[layers] = []
        for step in range(20):
            ids = batches[step % len(batches)]
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            curves[layers].append(loss.item())
    assert curves["all"][-1] < curves["all"][0] - 0.5
    for layers in (1, 0):
        assert curves[layers] == pytest.approx(curves["all"], rel=1e-6, abs=0)


def test_the_trainer_keeps_the_plan(tmp_path):
    """The Trainer's own gradient_checkpointing switch would re-enable every layer at train start:
    training_arguments leaves it off, so the planned layers stay as configured through training."""
    from workflow_scripts.training.batching import plan_batches
    from workflow_scripts.training.settings import parse_settings
    from workflow_scripts.training.trainer import build_trainer, configure_model, training_arguments

    settings = parse_settings({"global_batch_size": 1, "micro_batch_size": 1, "block_size": 32, "bf16": False,
                               "gpus": 0, "max_steps": 1, "checkpoint_layers": 1})
    model = tiny_model(layers=3)
    configure_model(model, settings, "chunked", on_cuda=False, processes=1)
    args = training_arguments(settings, plan_batches(1, 1, 0), tmp_path, 42, False, False)
    assert args.gradient_checkpointing is False
    ids = list(range(1, 33))
    build_trainer(model, args, [{"input_ids": ids, "labels": ids}], 0).train()
    assert [layer.gradient_checkpointing for layer in model.get_decoder().layers] == [True, False, False]
