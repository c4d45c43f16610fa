"""SFT throughput of the project's training path on Qwen2.5-3B's architecture (random weights).

Runs ``workflow_scripts.training`` as the ``sft`` rule does (TrainingArguments, ``configure_model``:
the memory-efficient loss, Liger kernels, the ``checkpoint_layers`` plan and ``compile_layers``;
the Trainer with its collator) on random-token sequences of exactly the block size, micro-batch 1
and one sequence per GPU per optimizer step, and reports per row: seconds per step (median after
warm-up), tokens/s per GPU, MFU in two conventions, the ratio to the card's measured matmul peak,
peak GPU memory beside the memory model's prediction, the loss curve.

MFU = useful training FLOPs / time / 989e12 (H100/H200 dense bf16), with useful FLOPs per token
= 6 N (N = all parameters, the tied embedding counted once: it is the LM-head matmul) plus the
attention term: 6 s d_attn L (QK^T and AV, fwd + bwd, causal: half the square; the project's
convention) or 12 s d_attn L (the full square); recomputation is not counted as useful.

One GPU:   python benchmarks/sft_throughput.py --probes --plan benchmarks/plans/h200_final.json --tag T
           python benchmarks/sft_throughput.py --blocks 8192 16384 32768 --checkpoint-layers auto
The stage's own command at scale:  python benchmarks/sft_throughput.py --cli-scale 16384
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
from workflow_scripts.training.settings import TrainingSettings, parse_settings  # noqa: E402
from workflow_scripts.training.trainer import (  # noqa: E402
    build_trainer, configure_model, make_step_logger, master_dtype, training_arguments,
)

PEAK_BF16_FLOPS = 989e12
# Qwen/Qwen2.5-3B-Instruct config.json
QWEN25_3B = dict(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                 num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=32768,
                 rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, hidden_act="silu")


def qwen25_3b_config(block: int):
    from transformers import Qwen2Config

    return Qwen2Config(**{**QWEN25_3B, "max_position_embeddings": max(block, 32768)})


def flops_per_token(n_params: int, config, seq_len: int, causal: bool = True) -> float:
    """6 N plus attention's QK^T and AV (fwd + bwd): half the square when ``causal`` (the project's
    convention), the full square otherwise (the convention that counts masked-out work too)."""
    d_attn = config.num_attention_heads * (config.hidden_size // config.num_attention_heads)
    return 6 * n_params + (6 if causal else 12) * seq_len * d_attn * config.num_hidden_layers


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


def step_profiler(step: int, into: dict):
    """Profile optimizer step ``step`` (1-based): GPU kernel time by kind against the step's wall time.

    The gap between the two bounds what CUDA graphs (fewer launch gaps) could gain.
    """
    from torch.profiler import ProfilerActivity, profile
    from transformers import TrainerCallback

    def kind(name: str) -> str:
        low = name.lower()
        for key, label in (("flash", "attention"), ("fmha", "attention"), ("cudnn", "attention"),
                           ("attention", "attention"), ("gemm", "matmul"), ("cutlass", "matmul"),
                           ("sm90", "matmul"), ("nvjet", "matmul"), ("adam", "optimizer"),
                           ("triton", "triton (Liger/compiled)")):
            if key in low:
                return label
        return "other"

    class StepProfiler(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step + 1 == step:
                torch.cuda.synchronize()
                self.prof = profile(activities=[ProfilerActivity.CUDA])
                self.prof.__enter__()
                self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step and hasattr(self, "prof"):
                torch.cuda.synchronize()
                wall = time.perf_counter() - self.t0
                self.prof.__exit__(None, None, None)
                by_kind: dict[str, float] = {}
                for event in self.prof.key_averages():
                    if event.self_device_time_total > 0:
                        label = kind(event.key)
                        by_kind[label] = by_kind.get(label, 0.0) + event.self_device_time_total / 1e6
                into.update({"profiled_step": step, "step_wall_s": wall, "kernel_s": sum(by_kind.values()),
                             "kernel_s_by_kind": by_kind})

    return StepProfiler()


def sdpa_backends(prefer_cudnn: bool):
    """Benchmark option: cuDNN attention before FlashAttention-2 in SDPA."""
    import contextlib

    if not prefer_cudnn or not torch.cuda.is_available():
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    order = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
             SDPBackend.MATH]
    return sdpa_kernel(order, set_priority=True)


def random_dataset(n: int, block: int, vocab: int, seed: int, prompt_tokens: int = 64, distinct: int = 4
                   ) -> list[dict]:
    """``distinct`` random sequences (ids below Qwen's special ids) repeated to ``n`` rows, so the loss falls
    over the timed steps and two settings' loss curves can be compared; the first ``prompt_tokens`` are
    unlabelled, like a prompt. A plain list is a map-style dataset (the device image has no ``datasets``).
    """
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(min(n, distinct)):
        ids = torch.randint(0, vocab - 300, (block,), generator=g).tolist()
        rows.append({"input_ids": ids, "labels": [-100] * prompt_tokens + ids[prompt_tokens:]})
    return [rows[i % len(rows)] for i in range(n)]


def measured_matmul_peak(size: int = 8192, repeats: int = 20) -> float:
    """bf16 FLOP/s of a size^3 matrix product on random data (median of ``repeats`` after warm-up)."""
    a, b = (torch.randn(size, size, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    return 2 * size**3 / statistics.median(times)


def attention_backends(blocks: list[int], heads: int = 16, kv_heads: int = 2, head_dim: int = 128) -> list[dict]:
    """SDPA as transformers calls it for Qwen2.5-3B (bf16, causal, no mask, GQA): which kernel the default
    dispatch runs (profiler) and the forward+backward time of each backend forced alone."""
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.profiler import ProfilerActivity, profile

    rows = []
    for block in blocks:
        q = torch.randn(1, heads, block, head_dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        k = torch.randn(1, kv_heads, block, head_dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        v = torch.randn_like(k, requires_grad=True)

        def step(q=q, k=k, v=v):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            out.backward(torch.ones_like(out))

        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            step()
            torch.cuda.synchronize()
        kernels = sorted({e.key for e in prof.key_averages() if "flash" in e.key.lower() or "fmha" in e.key.lower()
                          or "cudnn" in e.key.lower() or "attention" in e.key.lower()})
        causal_flops = 3.5 * 2 * block * block * head_dim * heads  # fwd 2 matmuls, bwd 5, half the square
        row = {"block": block, "default_kernels": kernels[:6]}
        for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION):
            try:
                with sdpa_kernel([backend]):
                    seconds = triton_median(step)
                row[backend.name] = {"ms": seconds * 1e3, "tflops_causal": causal_flops / seconds / 1e12}
            except RuntimeError as error:
                row[backend.name] = {"error": str(error)[:200]}
        rows.append(row)
        print("ATTENTION " + json.dumps(row), flush=True)
        del q, k, v
    return rows


def triton_median(fn) -> float:
    from triton.testing import do_bench

    return do_bench(fn, warmup=100, rep=500, return_mode="median") / 1e3


def predicted_peaks(model, settings: TrainingSettings, tokens: int, budgets_gib: dict[str, float]) -> dict:
    """The memory model's peak for this row's checkpointed layers, and what auto picks on other cards."""
    from workflow_scripts.training.memory import (
        GIB, fewest_checkpointed, measure_layer_stash, persistent_bytes_per_param, predicted_peak_bytes,
    )

    layers = len(model.get_decoder().layers)
    checkpointed = sum(1 for layer in model.get_decoder().layers if layer.gradient_checkpointing)
    stash = measure_layer_stash(model, torch.bfloat16 if settings.bf16 else None)
    n = sum(p.numel() for p in model.parameters())
    per_param = persistent_bytes_per_param(settings.master_weights, True)
    row = {"stash_fixed_bytes": stash.fixed_bytes, "stash_bytes_per_token": stash.per_token_bytes,
           "predicted_peak_gib": predicted_peak_bytes(n, per_param, layers, layers - checkpointed, stash, tokens,
                                                      model.config.hidden_size) / GIB}
    for card, gib in budgets_gib.items():
        chosen, peak = fewest_checkpointed(n, per_param, layers, stash, tokens, model.config.hidden_size, gib * GIB)
        row[f"auto_on_{card}"] = {"checkpointed_layers": chosen, "predicted_peak_gib": peak / GIB}
    return row


# Memory a process can use on other cards, for what auto would choose there: total less ~0.6 GiB
# of CUDA context (H100 80GB HBM3: 81,559 MiB).
OTHER_CARDS_GIB = {"80GiB": 81559 / 1024 - 0.6}


def run_block(block: int, steps: int, warmup: int, gpus: int, loss: str, liger_kernels: bool | None = None,
              out: Path | None = None, prefer_cudnn: bool = False, checkpoint_layers="all", compile_layers: bool = False,
              master_weights: str = "fp32", optim: str | None = None, learning_rate: float = 1e-5,
              profile: bool = False) -> dict:
    from transformers import AutoModelForCausalLM

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    settings = parse_settings({"global_batch_size": world, "micro_batch_size": 1, "block_size": block,
                               "max_steps": steps + warmup, "gpus": gpus, "fused_cross_entropy": loss,
                               "logging_steps": 1, "checkpoint_layers": checkpoint_layers,
                               "compile_layers": compile_layers, "master_weights": master_weights,
                               "learning_rate": learning_rate, "warmup_ratio": 0.0})
    plan = plan_batches(settings.global_batch_size, settings.micro_batch_size, settings.gpus)
    loss_kind = resolve_loss_kind(loss, on_cuda=True)
    args = training_arguments(settings, plan, f"/tmp/sft_bench_trainer_{block}", seed=42, on_cuda=True,
                              deepspeed=gpus > 1)
    if optim:
        from transformers.training_args import OptimizerNames

        args.optim = OptimizerNames(optim)
    config = qwen25_3b_config(block)
    torch.manual_seed(42)
    dtype = master_dtype(settings)
    if gpus > 1:
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    else:
        with torch.device("cuda"):
            model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    n_params = sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters())
    torch.cuda.reset_peak_memory_stats()
    setup = configure_model(model, settings, loss_kind, on_cuda=True, processes=plan.processes,
                            liger_kernels=liger_kernels)
    memory = predicted_peaks(model, settings, block, OTHER_CARDS_GIB) if gpus == 1 else {}
    dataset = random_dataset(world * (steps + warmup), block, config.vocab_size, seed=42)
    times: list[float] = []
    rows: list[dict] = []
    profiled: dict = {}
    callbacks = [step_timer(times), make_step_logger(rows)] + ([step_profiler(warmup + 2, profiled)] if profile else [])
    trainer = build_trainer(model, args, dataset, pad_token_id=0, callbacks=callbacks)
    start = time.perf_counter()
    with sdpa_backends(prefer_cudnn):
        trainer.train()
    wall = time.perf_counter() - start
    peak_alloc = torch.cuda.max_memory_allocated() / 2**30
    peak_reserved = torch.cuda.max_memory_reserved() / 2**30
    timed = [t for i, t in enumerate(times[warmup:], start=warmup + 1) if i != profiled.get("profiled_step")]
    step_s = statistics.median(timed)
    tokens_per_s_gpu = block * plan.micro_batch_size / step_s
    fpt = flops_per_token(n_params, config, block)
    fpt_full = flops_per_token(n_params, config, block, causal=False)
    result = {
        "block": block, "gpus": world, "device": torch.cuda.get_device_name(0),
        "engine": "DeepSpeed ZeRO-3" if gpus > 1 else "single GPU, no DeepSpeed",
        "loss": loss_kind, "liger_kernels": ",".join(setup["liger_kernels"]) or "none",
        "attention": "sdpa, cuDNN first" if prefer_cudnn else "sdpa (default dispatch)",
        "checkpoint_layers": checkpoint_layers, "checkpointing": setup["checkpointing"],
        "layers_not_checkpointed": setup["checkpointing"]["layers"] - setup["checkpointing"]["checkpointed_layers"],
        "compiled_layers": compile_layers, "master_weights": master_weights,
        "optim": str(args.optim.value if hasattr(args.optim, "value") else args.optim),
        "learning_rate": learning_rate, "params": n_params,
        "steps_timed": len(timed), "warmup_steps": warmup, "step_s_median": step_s,
        "step_s_min": min(timed), "step_s_max": max(timed), "first_steps_s": times[:warmup], "wall_s": wall,
        "tokens_per_s_per_gpu": tokens_per_s_gpu,
        "flops_per_token": fpt, "flops_per_token_full_attention": fpt_full,
        "mfu": tokens_per_s_gpu * fpt / PEAK_BF16_FLOPS,
        "mfu_full_attention": tokens_per_s_gpu * fpt_full / PEAK_BF16_FLOPS,
        "peak_allocated_gib": peak_alloc, "peak_reserved_gib": peak_reserved, **memory, "profile": profiled,
        "losses": [r["loss"] for r in rows],
        "rank": rank,
    }
    del trainer, model
    gc.collect()
    torch.cuda.empty_cache()
    torch._dynamo.reset()
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
                "fused_cross_entropy": "auto", "gpus": gpus, "checkpoint_layers": "auto"}
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
                                                                 "cross_entropy", "liger_kernels", "overlong", "device",
                                                                 "checkpointing")}
                                       | {"saved_dtypes": dtypes}))


def cli_scale_check(block: int, out: Path, steps: int = 3) -> None:
    """The sft rule's own command at scale: ``python -m workflow_scripts.training`` on a random model of
    Qwen2.5-3B's shape saved to disk and 32 curated rows just under ``block`` tokens (global batch 16,
    micro-batch 1, as s1), ``checkpoint_layers: auto``; tokens/s = tokens seen / the Trainer's wall time."""
    import random
    import subprocess

    import pandas as pd
    from transformers import AutoModelForCausalLM

    from workflow_scripts.world.tokenizer import build_world_tokenizer

    root = Path(f"/tmp/sft_cli_scale_{block}")
    tokenizer = build_world_tokenizer()
    torch.manual_seed(42)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(qwen25_3b_config(block), dtype=torch.bfloat16)
    model.save_pretrained(root / "base")
    del model
    torch.cuda.empty_cache()
    tokenizer.save_pretrained(root / "base")
    rng = random.Random(42)
    terms = (block - 64) // 4  # " + d" is four tokens in the world tokenizer; the template adds < 64
    rows = [{"question": f"What is the sum number {i}?", "thinking": " + ".join(str(rng.randrange(10)) for _ in range(terms)),
             "attempt": "0"} for i in range(32)]
    pd.DataFrame(rows).to_parquet(root / "curated.parquet")
    settings = {"block_size": block, "global_batch_size": 16, "micro_batch_size": 1, "gpus": 1, "max_steps": steps,
                "bf16": True, "checkpoint_layers": "auto", "overlong": "drop"}
    command = [sys.executable, "-m", "workflow_scripts.training", "--curated", str(root / "curated.parquet"),
               "--base", str(root / "base"), "--settings", json.dumps(settings), "--seed", "42",
               "--out-dir", str(root / "sft")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    (out / f"cli_scale_{block}.log").write_text(done.stdout[-20000:] + done.stderr[-20000:])
    print(f"CLI scale block={block} exit {done.returncode}", flush=True)
    if done.returncode == 0:
        summary = json.loads((root / "sft" / "summary.json").read_text())
        tokens_per_s = summary["tokens_seen"] / summary["wall_time_s"]
        mean_len = summary["tokens_per_epoch"] / summary["examples_trained"]
        config = qwen25_3b_config(block)
        n = 3_085_938_688
        summary["tokens_per_s_incl_first_step"] = tokens_per_s
        summary["mfu_incl_first_step"] = tokens_per_s * flops_per_token(n, config, int(mean_len)) / PEAK_BF16_FLOPS
        (out / f"cli_scale_{block}_summary.json").write_text(json.dumps(summary, indent=2))
        print("CLISCALE " + json.dumps({k: summary[k] for k in (
            "steps", "tokens_seen", "wall_time_s", "tokens_per_s_incl_first_step", "mfu_incl_first_step",
            "checkpointing", "batch", "examples_trained", "overlong", "final_loss", "device")}), flush=True)


def checkpoint_layers_arg(value: str):
    return value if value in ("auto", "all") else int(value)


def row_settings(args) -> dict:
    return {"checkpoint_layers": args.checkpoint_layers, "compile_layers": args.compile_layers,
            "master_weights": args.master_weights, "optim": args.optim, "prefer_cudnn": args.cudnn_attention,
            "liger_kernels": None if args.liger_kernels == "auto" else args.liger_kernels == "on",
            "learning_rate": args.learning_rate}


def run_rows(rows: list[dict], args) -> list[dict]:
    """Each row: a block size and settings (row_settings' keys); results are written after every row."""
    results = []
    name = f"sft_throughput_{args.tag or 'run'}_{args.gpus}gpu.json"
    for row in rows:
        row = dict(row)
        block, tag = row.pop("block"), row.pop("tag", args.tag)
        steps, warmup = row.pop("steps", args.steps), row.pop("warmup", args.warmup)
        try:
            result = run_block(block, steps, warmup, args.gpus, args.loss, out=args.out, **row)
        except Exception as error:  # one failing lever (OOM, compile) must not lose the other rows
            result = {"block": block, "gpus": args.gpus, "device": torch.cuda.get_device_name(0), **row,
                      "error": f"{type(error).__name__}: {str(error)[:600]}"}
            gc.collect()
            torch.cuda.empty_cache()
        result["tag"] = tag
        if args.matmul_peak and "error" not in result:
            # The same two conventions against the card's own measured bf16 matmul rate.
            result["matmul_peak_flops"] = args.matmul_peak
            for key in ("mfu", "mfu_full_attention"):
                result[f"{key}_of_measured_peak"] = result[key] * PEAK_BF16_FLOPS / args.matmul_peak
        results.append(result)
        if int(os.environ.get("RANK", "0")) == 0:
            print("RESULT " + json.dumps({k: v for k, v in result.items() if k != "losses"}), flush=True)
            (args.out / name).write_text(json.dumps(results, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, nargs="+", default=[8192, 16384, 32768])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    parser.add_argument("--gpus", type=int, default=1)
    parser.add_argument("--loss", default="auto", choices=["auto", "liger", "chunked"])
    parser.add_argument("--liger-kernels", choices=["auto", "on", "off"], default="auto",
                        help="Liger RoPE/RMSNorm/SwiGLU (auto: with the Liger loss, as the trainer does)")
    parser.add_argument("--checkpoint-layers", type=checkpoint_layers_arg, default="auto",
                        help="training.checkpoint_layers: auto | all | N")
    parser.add_argument("--compile-layers", action="store_true", help="training.compile_layers: true")
    parser.add_argument("--master-weights", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--optim", default=None, help="benchmark only: another Trainer optimizer (adamw_torch)")
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--cudnn-attention", action="store_true", help="give cuDNN attention priority in SDPA")
    parser.add_argument("--plan", type=Path, help="JSON list of rows ({block, tag, steps, and row_settings keys})")
    parser.add_argument("--probes", action="store_true", help="first: measured matmul peak, SDPA backends")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench_out")))
    parser.add_argument("--tag", default="")
    parser.add_argument("--predict", type=Path, metavar="JSON", help="instead: GPU-hours of the full SFT from results")
    parser.add_argument("--cli-check", type=int, metavar="GPUS", help="instead: run the SFT CLI on a tiny model")
    parser.add_argument("--cli-scale", type=int, metavar="BLOCK", help="instead: the SFT CLI on the 3B shape")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.cli_check:
        cli_check(args.cli_check, args.out)
        return
    if args.cli_scale:
        cli_scale_check(args.cli_scale, args.out)
        return
    if args.predict:
        results = [r for r in json.loads(args.predict.read_text())
                   if r.get("gpus", 1) == 1 and (not args.tag or r.get("tag") == args.tag)]
        for mean in (4000, 6000, 8000, 10000):
            low, high = predicted_gpu_hours(results, mean)
            print(f"mean {mean} tokens: {low:.2f} - {high:.2f} GPU-hours")
        return
    args.matmul_peak = None
    if args.probes:
        probes = {"device": torch.cuda.get_device_name(0), "matmul_bf16_8192_flops": measured_matmul_peak(),
                  "attention": attention_backends([16384, 32768])}
        args.matmul_peak = probes["matmul_bf16_8192_flops"]
        print("PROBES " + json.dumps(probes), flush=True)
        (args.out / "probes.json").write_text(json.dumps(probes, indent=2))
    rows = json.loads(args.plan.read_text()) if args.plan else [
        {"block": block, **row_settings(args)} for block in args.blocks]
    run_rows(rows, args)


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
