"""SFT throughput of the project's training path on Qwen2.5-3B's architecture (random weights).

Runs ``workflow_scripts.training`` (TrainingArguments, model preparation with gradient
checkpointing and the memory-efficient loss, the Trainer with its collator) on random-token
sequences of exactly the block size, micro-batch 1 and one sequence per GPU per optimizer step,
and reports per block size: seconds per step (median after warm-up), tokens/s per GPU, MFU and
peak GPU memory.

MFU = useful training FLOPs / time / 989e12 (H100/H200 dense bf16), with useful FLOPs per token
= 6 N (N = all parameters, the tied embedding counted once: it is the LM-head matmul) plus the
causal attention term 6 s d_attn L (QK^T and AV, fwd + bwd, half the square); the recomputation
of gradient checkpointing is not counted as useful.

One GPU:   python benchmarks/sft_throughput.py --blocks 8192 16384 32768 --steps 20
Two GPUs:  python -m torch.distributed.run --standalone --nproc_per_node=2 benchmarks/sft_throughput.py --gpus 2 ...
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflow_scripts.training.batching import plan_batches  # noqa: E402
from workflow_scripts.training.loss import resolve_loss_kind  # noqa: E402
from workflow_scripts.training.settings import TrainingSettings  # noqa: E402
from workflow_scripts.training.trainer import (  # noqa: E402
    build_trainer, make_step_logger, prepare_model, training_arguments,
)

PEAK_BF16_FLOPS = 989e12
# Qwen/Qwen2.5-3B-Instruct config.json
QWEN25_3B = dict(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                 num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=32768,
                 rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, hidden_act="silu")


def qwen25_3b_config(block: int):
    from transformers import Qwen2Config

    return Qwen2Config(**{**QWEN25_3B, "max_position_embeddings": max(block, 32768)})


def flops_per_token(n_params: int, config, seq_len: int) -> float:
    d_attn = config.num_attention_heads * (config.hidden_size // config.num_attention_heads)
    return 6 * n_params + 6 * seq_len * d_attn * config.num_hidden_layers


def step_timer(times: list[float]):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            torch.cuda.synchronize()
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            torch.cuda.synchronize()
            times.append(time.perf_counter() - self.t0)

    return StepTimer()


def keep_layer_activations(k: int):
    """Benchmark-only: turn checkpointing off for the last ``k`` decoder layers once training starts
    (their activations stay in memory, so they are not recomputed in the backward pass)."""
    from transformers import TrainerCallback

    class KeepLayers(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            layers = model.model.layers
            for layer in list(layers)[len(layers) - k:]:
                layer.gradient_checkpointing = False

    return KeepLayers()


def sdpa_backends(prefer_cudnn: bool):
    """Benchmark option: cuDNN attention before FlashAttention-2 in SDPA (measured: no gain, not in the trainer)."""
    import contextlib

    if not prefer_cudnn or not torch.cuda.is_available():
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    order = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
             SDPBackend.MATH]
    return sdpa_kernel(order, set_priority=True)


def random_dataset(n: int, block: int, vocab: int, seed: int, prompt_tokens: int = 64) -> list[dict]:
    """Random token ids below Qwen's special ids; the first ``prompt_tokens`` unlabelled, like a prompt.

    A plain list is a map-style dataset for the Trainer (the device image has no ``datasets``).
    """
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        ids = torch.randint(0, vocab - 300, (block,), generator=g).tolist()
        rows.append({"input_ids": ids, "labels": [-100] * prompt_tokens + ids[prompt_tokens:]})
    return rows


def run_block(block: int, steps: int, warmup: int, gpus: int, loss: str, liger_kernels: bool | None, out: Path,
              prefer_cudnn: bool = False, keep_layers: int = 0) -> dict:
    from transformers import AutoModelForCausalLM

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    settings = TrainingSettings(global_batch_size=world, micro_batch_size=1, block_size=block,
                                max_steps=steps + warmup, gpus=gpus, fused_cross_entropy=loss,
                                logging_steps=1)
    plan = plan_batches(settings.global_batch_size, settings.micro_batch_size, settings.gpus)
    loss_kind = resolve_loss_kind(loss, on_cuda=True)
    args = training_arguments(settings, plan, f"/tmp/sft_bench_trainer_{block}", seed=42, on_cuda=True,
                              deepspeed=gpus > 1)
    config = qwen25_3b_config(block)
    torch.manual_seed(42)
    if gpus > 1:
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="sdpa")
    else:
        with torch.device("cuda"):
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="sdpa")
    n_params = sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters())
    kernels = prepare_model(model, loss_kind, settings.gradient_checkpointing, liger_kernels=liger_kernels)
    dataset = random_dataset(world * (steps + warmup), block, config.vocab_size, seed=42)
    times: list[float] = []
    rows: list[dict] = []
    callbacks = [step_timer(times), make_step_logger(rows)] + ([keep_layer_activations(keep_layers)] if keep_layers else [])
    trainer = build_trainer(model, args, dataset, pad_token_id=0, callbacks=callbacks)
    torch.cuda.reset_peak_memory_stats()
    with sdpa_backends(prefer_cudnn):
        trainer.train()
    peak_alloc = torch.cuda.max_memory_allocated() / 2**30
    peak_reserved = torch.cuda.max_memory_reserved() / 2**30
    timed = times[warmup:]
    step_s = statistics.median(timed)
    tokens_per_s_gpu = block * plan.micro_batch_size / step_s
    fpt = flops_per_token(n_params, config, block)
    result = {
        "block": block, "gpus": world, "device": torch.cuda.get_device_name(0),
        "engine": "DeepSpeed ZeRO-3" if gpus > 1 else "single GPU, no DeepSpeed",
        "loss": loss_kind, "liger_kernels": ",".join(kernels) or "none",
        "attention": "sdpa, cuDNN first" if prefer_cudnn else "sdpa (FlashAttention-2)",
        "layers_not_checkpointed": keep_layers, "params": n_params,
        "steps_timed": len(timed), "warmup_steps": warmup, "step_s_median": step_s,
        "step_s_min": min(timed), "step_s_max": max(timed),
        "tokens_per_s_per_gpu": tokens_per_s_gpu,
        "flops_per_token": fpt, "mfu": tokens_per_s_gpu * fpt / PEAK_BF16_FLOPS,
        "peak_allocated_gib": peak_alloc, "peak_reserved_gib": peak_reserved,
        "losses": [r["loss"] for r in rows],
        "rank": rank,
    }
    del trainer, model
    gc.collect()
    torch.cuda.empty_cache()
    return result


def cli_check(gpus: int, out: Path) -> None:
    """End-to-end check of the CLI on GPU(s): a tiny Qwen2 model, bf16, save, summary (device only)."""
    import subprocess

    import pandas as pd
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from workflow_scripts.world.tokenizer import build_world_tokenizer

    root = Path(f"/tmp/sft_cli_check_{gpus}")
    tokenizer = build_world_tokenizer()
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(vocab_size=512, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         tie_word_embeddings=True, eos_token_id=end)
    Qwen2ForCausalLM(config).save_pretrained(root / "base")
    tokenizer.save_pretrained(root / "base")
    rows = [{"question": f"What is {a} plus {b}?", "thinking": f"{a} + {b} = {a + b}", "attempt": str(a + b)}
            for a in range(8) for b in range(4)]
    rows.append({"question": "Long?", "thinking": " + ".join(["1"] * 400), "attempt": "400"})
    pd.DataFrame(rows).to_parquet(root / "curated.parquet")
    settings = {"learning_rate": 1e-3, "epochs": 2, "global_batch_size": 16, "micro_batch_size": 4,
                "block_size": 256, "overlong": "truncate", "bf16": True, "gradient_checkpointing": True,
                "fused_cross_entropy": "auto", "gpus": gpus}
    command = [sys.executable, "-m", "workflow_scripts.training", "--curated", str(root / "curated.parquet"),
               "--base", str(root / "base"), "--settings", json.dumps(settings), "--seed", "42",
               "--out-dir", str(root / "sft")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    (out / f"cli_check_{gpus}gpu.log").write_text(done.stdout[-20000:] + done.stderr[-40000:])
    print(f"CLI gpus={gpus} exit {done.returncode}")
    if done.returncode == 0:
        from safetensors import safe_open

        summary = json.loads((root / "sft" / "summary.json").read_text())
        with safe_open(str(root / "sft" / "model" / "model.safetensors"), "pt") as handle:
            dtypes = sorted({str(handle.get_tensor(k).dtype) for k in handle.keys()})
        print("CLICHECK " + json.dumps({k: summary[k] for k in ("steps", "final_loss", "gpus", "gpu_hours", "batch",
                                                                 "cross_entropy", "liger_kernels", "overlong", "device")}
                                       | {"saved_dtypes": dtypes}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, nargs="+", default=[8192, 16384, 32768])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    parser.add_argument("--gpus", type=int, default=1)
    parser.add_argument("--loss", default="auto", choices=["auto", "liger", "chunked"])
    parser.add_argument("--liger-kernels", choices=["auto", "on", "off"], default="auto",
                        help="Liger RoPE/RMSNorm/SwiGLU (auto: with the Liger loss, as the trainer does)")
    parser.add_argument("--keep-layers", type=int, default=0, help="benchmark only: last K layers not checkpointed")
    parser.add_argument("--cudnn-attention", action="store_true", help="give cuDNN attention priority in SDPA")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench_out")))
    parser.add_argument("--tag", default="")
    parser.add_argument("--predict", type=Path, metavar="JSON", help="instead: GPU-hours of the full SFT from results")
    parser.add_argument("--cli-check", type=int, metavar="GPUS", help="instead: run the SFT CLI on a tiny model")
    args = parser.parse_args()
    if args.cli_check:
        args.out.mkdir(parents=True, exist_ok=True)
        cli_check(args.cli_check, args.out)
        return
    if args.predict:
        results = [r for r in json.loads(args.predict.read_text())
                   if r.get("gpus", 1) == 1 and (not args.tag or r.get("tag") == args.tag)]
        for mean in (4000, 6000, 8000, 10000):
            low, high = predicted_gpu_hours(results, mean)
            print(f"mean {mean} tokens: {low:.2f} - {high:.2f} GPU-hours")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for block in args.blocks:
        try:
            kernels = None if args.liger_kernels == "auto" else args.liger_kernels == "on"
            result = run_block(block, args.steps, args.warmup, args.gpus, args.loss, kernels, args.out,
                               prefer_cudnn=args.cudnn_attention, keep_layers=args.keep_layers)
        except torch.cuda.OutOfMemoryError as error:
            result = {"block": block, "gpus": args.gpus, "device": torch.cuda.get_device_name(0),
                      "error": f"OOM: {str(error)[:300]}"}
            gc.collect()
            torch.cuda.empty_cache()
        result["tag"] = args.tag
        results.append(result)
        if int(os.environ.get("RANK", "0")) == 0:
            print("RESULT " + json.dumps({k: v for k, v in result.items() if k != "losses"}), flush=True)
    if int(os.environ.get("RANK", "0")) == 0:
        name = f"sft_throughput_{args.tag or 'run'}_{args.gpus}gpu.json"
        (args.out / name).write_text(json.dumps(results, indent=2))



def predicted_gpu_hours(results: list[dict], mean_tokens: float, cv: float = 0.5, examples: int = 1000,
                        epochs: int = 5, global_batch: int = 16) -> tuple[float, float]:
    """GPU-hours (low, high) of the full SFT from measured single-GPU step times.

    Step time is modelled as t(s) = o + s (a + b s): a per-step overhead, linear work per token and
    the attention term growing with length; fitted by least squares (exact for three block sizes).
    Token work over the run is epochs * examples * (a m + b E[L^2]) with E[L^2] = m^2 (1 + cv^2);
    the overhead o is paid per optimizer step (low) or per micro-batch of one example (high).
    """
    import numpy as np

    points = [(r["block"], r["step_s_median"]) for r in results if "error" not in r]
    if len(points) < 3:
        raise ValueError("need step times at three or more block sizes")
    design = np.array([[1.0, s, float(s) * s] for s, _ in points])
    (o, a, b), *_ = np.linalg.lstsq(design, np.array([t for _, t in points]), rcond=None)
    token_seconds = epochs * examples * (a * mean_tokens + b * mean_tokens ** 2 * (1 + cv ** 2))
    steps = epochs * -(-examples // global_batch)
    return (token_seconds + steps * o) / 3600, (token_seconds + epochs * examples * o) / 3600


if __name__ == "__main__":
    main()
