"""Chunked cross-entropy, batch arithmetic, settings and the multi-GPU launch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from workflow_scripts.config import ConfigError, load_config
from workflow_scripts.training.batching import plan_batches
from workflow_scripts.training.cli import launch_command
from workflow_scripts.training.loss import causal_lm_loss, chunked_loss_sum, resolve_loss_kind, shifted_targets
from workflow_scripts.training.settings import TrainingSettings, parse_settings


def _inputs(seed=0, batch=2, seq=9, hidden=8, vocab=50):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(batch, seq, hidden, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(vocab, hidden, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, vocab, (batch, seq), generator=g)
    labels[0, :4] = -100
    labels[-1, 7:] = -100
    return h, w, labels


def _reference(h, w, labels):
    logits = (h @ w.T)[:, :-1].reshape(-1, w.shape[0])
    return F.cross_entropy(logits, labels[:, 1:].reshape(-1), ignore_index=-100, reduction="sum")


@pytest.mark.parametrize("chunk", [1, 3, 4, 100])
def test_chunked_loss_and_grads_equal_full_cross_entropy(chunk):
    h, w, labels = _inputs()
    ref = _reference(h, w, labels)
    ref_grads = torch.autograd.grad(ref, (h, w))
    hs, targets = shifted_targets(h, labels)
    # Labelled next-token positions: row 0 predicts tokens 4..8 (5), row 1 tokens 1..6 (6).
    assert targets.numel() == 11
    total = chunked_loss_sum(hs, w, targets, chunk_tokens=chunk)
    grads = torch.autograd.grad(total, (h, w))
    assert torch.allclose(total, ref, rtol=1e-12)
    for got, want in zip(grads, ref_grads):
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_chunked_loss_never_saves_full_logits():
    g = torch.Generator().manual_seed(1)
    h = torch.randn(1, 201, 8, generator=g, requires_grad=True)
    w = torch.randn(64, 8, generator=g, requires_grad=True)
    labels = torch.randint(0, 64, (1, 201), generator=g)
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        hs, targets = shifted_targets(h, labels)
        total = chunked_loss_sum(hs, w, targets, chunk_tokens=4)
    total.backward()
    full_logits = targets.numel() * w.shape[0]
    assert full_logits == 200 * 64
    # Only inputs (hidden states, weight) and per-chunk scalars are kept: no logits at all.
    assert max(sizes) <= h.numel() < full_logits / 4


def test_loss_is_normalised_by_num_items_in_batch():
    h, w, labels = _inputs()
    ref = _reference(h, w, labels)
    assert torch.allclose(causal_lm_loss(h, w, labels, "chunked"), ref / 11, rtol=1e-12)
    assert torch.allclose(causal_lm_loss(h, w, labels, "none", num_items_in_batch=torch.tensor(22)),
                          ref / 22, rtol=1e-12)


def test_loss_kind_resolution():
    assert resolve_loss_kind("auto", on_cuda=False) == "chunked"
    assert resolve_loss_kind("chunked", on_cuda=True) == "chunked"
    with pytest.raises(ValueError, match="liger needs a CUDA GPU"):
        resolve_loss_kind("liger", on_cuda=False)


@pytest.mark.parametrize("gpus, expected", [
    (1, (1, 1, 16)),   # one GPU: micro 1 x 16 accumulation steps
    (2, (2, 1, 8)),
    (8, (8, 1, 2)),
    (0, (1, 1, 16)),   # CPU: one process
])
def test_batch_plan_for_1_2_8_gpus(gpus, expected):
    plan = plan_batches(global_batch_size=16, micro_batch_size=1, gpus=gpus)
    assert (plan.processes, plan.micro_batch_size, plan.gradient_accumulation_steps) == expected
    assert plan.global_batch_size == 16


def test_batch_plan_micro_batch_is_capped_and_divides():
    assert plan_batches(16, 4, 8).to_dict() == {"processes": 8, "micro_batch_size": 2,
                                                "gradient_accumulation_steps": 1, "global_batch_size": 16}
    assert (plan_batches(16, 3, 1).micro_batch_size, plan_batches(16, 3, 1).gradient_accumulation_steps) == (2, 8)
    for gpus in (1, 2, 4, 8, 16):
        for micro in range(1, 20):
            assert plan_batches(16, micro, gpus).global_batch_size == 16
    with pytest.raises(ValueError, match="not divisible by 3 GPUs"):
        plan_batches(16, 1, 3)


def test_settings_defaults_are_s1s_and_configs_parse(repo_root):
    s = parse_settings({})  # every value from the schema's defaults
    assert (s.learning_rate, s.epochs, s.global_batch_size, s.warmup_ratio, s.lr_scheduler, s.weight_decay,
            s.adam_beta1, s.adam_beta2, s.block_size, s.gradient_checkpointing, s.bf16) == \
        (1e-5, 5, 16, 0.05, "cosine", 1e-4, 0.9, 0.95, 32768, True, True)
    real = load_config()["training"]
    assert parse_settings(json.dumps(real)) == TrainingSettings(**real) == s
    smoke = load_config(repo_root / "profiles/smoke/experiment.yaml")["training"]
    assert parse_settings(smoke).gpus == 0


@pytest.mark.parametrize("raw, message", [
    ('{"learning_rate": 0}', "training.learning_rate: 0 is less than or equal to the minimum of 0"),
    ('{"overlong": "cut"}', "training.overlong: 'cut' is not one of"),
    ('{"fused_cross_entropy": "fast"}', "training.fused_cross_entropy: 'fast' is not one of"),
    ('{"block_siz": 8}', "training: unknown key(s) 'block_siz'"),
    ('{"gpus": -1}', "training.gpus: -1 is less than the minimum of 0"),
    ('{"global_batch_size": 16, "gpus": 3}', "training.global_batch_size 16 is not divisible by training.gpus 3"),
    ('{"checkpoint_layers": "half"}', "training.checkpoint_layers: 'half' is not auto, all, or a number of layers"),
    ('{"checkpoint_layers": -1}', "training.checkpoint_layers: -1 is not auto, all, or a number of layers"),
    ('{"gradient_checkpointing": false, "checkpoint_layers": "all"}', "contradicts training.gradient_checkpointing"),
    ('{"master_weights": "fp16"}', "training.master_weights: 'fp16' is not one of"),
    ('{"master_weights": "bf16", "bf16": false}', "training.master_weights bf16 needs training.bf16: true"),
    ('{"compile_layers": "yes"}', "training.compile_layers: 'yes' is not of type 'boolean'"),
    ("[1]", "must be a JSON object"),
    ("{", "not valid JSON"),
])
def test_bad_settings_are_named(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_settings(raw)


def test_multi_gpu_launch_command_and_refusal_without_gpus(repo_root, tmp_path):
    argv = ["--curated", "c.parquet", "--base", "m", "--settings", '{"gpus": 2}', "--seed", "42", "--out-dir", "o"]
    assert launch_command(argv, 2) == [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                       "--nproc_per_node=2", "-m", "workflow_scripts.training", *argv]
    done = subprocess.run([sys.executable, "-m", "workflow_scripts.training", *argv], cwd=repo_root,
                          capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 2
    assert "gpus: 2 but 0 CUDA device(s) are visible" in done.stderr


def test_gpus_without_cuda_is_a_clear_error(repo_root, tmp_path):
    argv = ["--curated", str(tmp_path / "c.parquet"), "--base", "m", "--settings", '{"gpus": 1, "bf16": false}',
            "--seed", "42", "--out-dir", str(tmp_path / "out")]
    done = subprocess.run([sys.executable, "-m", "workflow_scripts.training", *argv], cwd=repo_root,
                          capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: training setting gpus: 1 but no CUDA device")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
