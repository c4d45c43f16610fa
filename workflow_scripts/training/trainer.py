"""Full-parameter SFT with the transformers Trainer: data, model, arguments, run, save."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from workflow_scripts.training.batching import BatchPlan, plan_batches
from workflow_scripts.training.formatting import REQUIRED_COLUMNS, check_record
from workflow_scripts.training.loss import install_memory_efficient_loss, resolve_loss_kind
from workflow_scripts.training.memory import CheckpointPlan, apply_checkpoint_plan, plan_checkpointing
from workflow_scripts.training.masking import (
    CompletionCollator, OverlongReport, apply_overlong, set_pad_token, tokenize_example,
)
from workflow_scripts.training.settings import TrainingSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


def read_curated(path: str | Path) -> list[dict[str, Any]]:
    """Rows of curated.parquet with the columns SFT needs; a missing column is named."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"curated set not found: {path}")
    frame = pd.read_parquet(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {', '.join(missing)} (has {', '.join(map(str, frame.columns))})")
    if frame.empty:
        raise ValueError(f"{path} holds no rows: nothing to train on")
    return frame[list(REQUIRED_COLUMNS)].to_dict("records")


def build_examples(records: Sequence[dict], tokenizer, block_size: int, overlong: str
                   ) -> tuple[list[dict], OverlongReport]:
    """Tokenized, label-masked examples after the overlong policy (counted in the report)."""
    from tqdm import tqdm

    examples = [
        tokenize_example(tokenizer, *check_record(record, row))
        for row, record in enumerate(tqdm(records, desc="tokenizing", unit="ex", mininterval=5))
    ]
    return apply_overlong(examples, block_size, overlong)


def distributed_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def resolve_deepspeed_config(path: str) -> str:
    candidate = Path(path)
    if not candidate.is_absolute() and not candidate.exists():
        candidate = REPO_ROOT / path
    if not candidate.exists():
        raise FileNotFoundError(f"deepspeed_config not found: {path}")
    return str(candidate)


def training_arguments(settings: TrainingSettings, plan: BatchPlan, output_dir: str | Path, seed: int,
                       on_cuda: bool, deepspeed: bool):
    """TrainingArguments; created before the model so DeepSpeed ZeRO-3 can shard it while loading."""
    from transformers import TrainingArguments

    if settings.bf16 and not on_cuda:
        raise ValueError("training setting bf16: true needs a CUDA GPU (the CPU smoke run uses bf16: false)")
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=plan.micro_batch_size,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        warmup_steps=settings.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        lr_scheduler_type=settings.lr_scheduler,
        weight_decay=settings.weight_decay,
        adam_beta1=settings.adam_beta1,
        adam_beta2=settings.adam_beta2,
        bf16=settings.bf16,
        # Checkpointing is set per layer by configure_model (the Trainer's own switch would
        # re-enable it on every layer when training starts).
        gradient_checkpointing=False,
        optim="adamw_torch_fused" if on_cuda else "adamw_torch",
        logging_steps=settings.logging_steps,
        logging_first_step=True,
        save_strategy="no",
        report_to=[],
        seed=seed,
        data_seed=seed,
        use_cpu=not on_cuda,
        dataloader_pin_memory=on_cuda,
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        deepspeed=resolve_deepspeed_config(settings.deepspeed_config) if deepspeed else None,
        disable_tqdm=False,
    )


def master_dtype(settings: TrainingSettings) -> torch.dtype:
    """fp32 master weights (bf16 from autocast, as in s1's mixed precision) or pure bf16."""
    return torch.bfloat16 if settings.master_weights == "bf16" else torch.float32


def load_model(base: str, tokenizer, pad: dict, settings: TrainingSettings, loss_kind: str, on_cuda: bool,
               processes: int):
    """The base model, prepared for training (configure_model), on the GPU when one process trains."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=master_dtype(settings), attn_implementation="sdpa")
    if on_cuda and processes == 1:
        model.to("cuda")  # the Trainer would move it too; the memory plan measures on the card
    model.training_setup = configure_model(model, settings, loss_kind, on_cuda, processes,
                                           tokenizer_size=len(tokenizer), pad_token_id=pad["pad_token_id"])
    return model


def compile_decoder_layers(model) -> None:
    """torch.compile each decoder layer (inside its checkpoint; one graph serves every layer)."""
    import torch._dynamo

    # Identical layers share one compiled graph; sequence lengths vary, so allow recompiles.
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    for layer in model.get_decoder().layers:
        layer.compile()


def configure_model(model, settings: TrainingSettings, loss_kind: str, on_cuda: bool, processes: int,
                    tokenizer_size: int | None = None, pad_token_id: int | None = None,
                    liger_kernels: bool | None = None) -> dict:
    """The sft rule's model set-up: loss and kernels, checkpointed layers (auto | all | N), compile.

    Returns what was chosen, for the training summary.
    """
    kernels = prepare_model(model, loss_kind, False, tokenizer_size=tokenizer_size, pad_token_id=pad_token_id,
                            liger_kernels=liger_kernels)
    plan = checkpoint_plan(model, settings, on_cuda, processes)
    apply_checkpoint_plan(model, plan.checkpointed_layers)
    if settings.compile_layers:
        compile_decoder_layers(model)
    return {"liger_kernels": kernels, "checkpointing": plan.to_dict(), "compiled_layers": settings.compile_layers}


def checkpoint_plan(model, settings: TrainingSettings, on_cuda: bool, processes: int) -> CheckpointPlan:
    if not settings.gradient_checkpointing:
        layers = len(model.get_decoder().layers)
        return CheckpointPlan("none", layers, 0, settings.block_size, reason="gradient_checkpointing: false")
    autocast = torch.bfloat16 if settings.bf16 else None
    return plan_checkpointing(model, settings.checkpoint_layers, settings.micro_batch_size * settings.block_size,
                              settings.master_weights, on_cuda, autocast, processes=processes)


def apply_liger_kernels(model) -> list[str]:
    """Liger's Triton RoPE, RMSNorm and SwiGLU for Qwen2 models (same math, fewer memory passes).

    Measured on an H200 with Qwen2.5-3B at block 16384: +16 % tokens/s over the fused loss alone
    (benchmarks/RESULTS.md). Other architectures keep the eager modules.
    """
    if getattr(model.config, "model_type", None) != "qwen2":
        return []
    from liger_kernel.transformers import apply_liger_kernel_to_qwen2

    apply_liger_kernel_to_qwen2(rope=True, rms_norm=True, swiglu=True, cross_entropy=False,
                                fused_linear_cross_entropy=False, model=model)
    return ["rope", "rms_norm", "swiglu"]


def prepare_model(model, loss_kind: str, gradient_checkpointing: bool, tokenizer_size: int | None = None,
                  pad_token_id: int | None = None, liger_kernels: bool | None = None) -> list[str]:
    """Embeddings large enough for the tokenizer, no KV cache, checkpointing, the efficient loss.

    ``liger_kernels`` defaults to on with the Liger loss (GPU + liger-kernel installed); returns the
    Liger kernels applied besides the loss.
    """
    if tokenizer_size is not None and tokenizer_size > model.get_input_embeddings().weight.shape[0]:
        # Only when a pad token had to be added beyond the embedding rows.
        model.resize_token_embeddings(tokenizer_size)
    if pad_token_id is not None:
        model.config.pad_token_id = pad_token_id
    model.config.use_cache = False
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    install_memory_efficient_loss(model, loss_kind)
    if liger_kernels is None:
        liger_kernels = loss_kind == "liger"
    return apply_liger_kernels(model) if liger_kernels else []


def make_step_logger(rows: list[dict]):
    """A TrainerCallback appending one row per optimizer step (loss, lr, grad_norm, tokens)."""
    from transformers import TrainerCallback

    class StepLogger(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            rows.append({
                "step": state.global_step,
                "epoch": logs.get("epoch", state.epoch),
                "loss": float(logs["loss"]),
                "lr": float(logs.get("learning_rate", float("nan"))),
                "grad_norm": float(logs.get("grad_norm", float("nan"))),
                "tokens": int(state.num_input_tokens_seen),
            })

    return StepLogger()


def build_trainer(model, args, train_dataset, pad_token_id: int, callbacks=(), tokenizer=None):
    from transformers import Trainer

    return Trainer(model=model, args=args, train_dataset=train_dataset,
                   data_collator=CompletionCollator(pad_token_id), processing_class=tokenizer,
                   callbacks=list(callbacks))


def save_model(trainer, tokenizer, model_dir: Path, bf16: bool) -> None:
    """bf16 safetensors (when training in bf16) + tokenizer with chat template, as vLLM loads them."""
    model = trainer.model
    model.config.use_cache = True
    if trainer.is_deepspeed_enabled:
        # ZeRO-3 gathers the 16-bit weights (stage3_gather_16bit_weights_on_model_save).
        trainer.save_model(str(model_dir))
    elif trainer.is_world_process_zero():
        if bf16:
            model.to(torch.bfloat16)
        model.save_pretrained(str(model_dir), safe_serialization=True)
    if trainer.is_world_process_zero():
        if bf16:
            model.config.dtype = torch.bfloat16
            model.config.save_pretrained(str(model_dir))
        tokenizer.save_pretrained(str(model_dir))


def precision_label(settings: TrainingSettings) -> str:
    if not settings.bf16:
        return "fp32"
    return "pure bf16 weights and AdamW state" if settings.master_weights == "bf16" else \
        "bf16 autocast, fp32 master weights"


def run_sft(curated: str | Path, base: str, settings: TrainingSettings, seed: int, out_dir: str | Path
            ) -> dict[str, Any]:
    """The whole stage: returns the summary also written to out_dir/summary.json."""
    from transformers import set_seed

    from workflow_scripts.io import write_json, write_jsonl
    from workflow_scripts.tokenization import load_tokenizer
    from workflow_scripts.training.plots import plot_loss_curve

    out_dir = Path(out_dir)
    if settings.gpus > 0 and not torch.cuda.is_available():
        raise ValueError(f"training setting gpus: {settings.gpus} but no CUDA device is visible "
                           "(CUDA_VISIBLE_DEVICES, driver); use gpus: 0 to train on the CPU")
    on_cuda = settings.gpus > 0
    world = distributed_world_size()
    if settings.gpus > 1 and world != settings.gpus:
        raise ValueError(f"gpus: {settings.gpus} needs {settings.gpus} processes, this run has {world}; "
                           "start it through `python -m workflow_scripts.training` (it launches them)")
    plan = plan_batches(settings.global_batch_size, settings.micro_batch_size, settings.gpus)
    loss_kind = resolve_loss_kind(settings.fused_cross_entropy, on_cuda)
    set_seed(seed)

    tokenizer = load_tokenizer(base)
    pad = set_pad_token(tokenizer)
    records = read_curated(curated)
    examples, overlong = build_examples(records, tokenizer, settings.block_size, settings.overlong)
    print(f"[sft] {len(records)} curated rows -> {len(examples)} examples; overlong (> {settings.block_size} "
          f"tokens): {overlong.overlong} ({overlong.dropped} dropped, {overlong.truncated} truncated)", flush=True)
    if not examples:
        raise ValueError(f"every example is longer than block_size {settings.block_size}: nothing to train on")

    args = training_arguments(settings, plan, out_dir / "trainer", seed, on_cuda, deepspeed=settings.gpus > 1)
    model = load_model(base, tokenizer, pad, settings, loss_kind, on_cuda, plan.processes)
    setup = model.training_setup
    print(f"[sft] checkpointing {setup['checkpointing']['checkpointed_layers']} of "
          f"{setup['checkpointing']['layers']} layers ({setup['checkpointing']['setting']}: "
          f"{setup['checkpointing']['reason']})", flush=True)
    rows: list[dict] = []
    # A list of dicts is a map-style dataset for the Trainer's sampler (no Arrow copy needed).
    trainer = build_trainer(model, args, examples, pad["pad_token_id"], [make_step_logger(rows)], tokenizer)

    start = time.perf_counter()
    result = trainer.train()
    wall = time.perf_counter() - start

    model_dir = out_dir / "model"
    save_model(trainer, tokenizer, model_dir, settings.bf16)
    if not trainer.is_world_process_zero():
        return {}
    labelled = sum(sum(1 for t in e["labels"][1:] if t != -100) for e in examples)
    summary = {
        "examples_in": len(records),
        "examples_trained": len(examples),
        "overlong": overlong.to_dict(),
        "tokens_seen": int(trainer.state.num_input_tokens_seen),
        "tokens_per_epoch": sum(len(e["input_ids"]) for e in examples),
        "labelled_tokens_per_epoch": labelled,
        "steps": int(trainer.state.global_step),
        "epochs": float(trainer.state.epoch or 0.0),
        "final_loss": rows[-1]["loss"] if rows else None,
        "mean_train_loss": float(result.training_loss),
        "wall_time_s": round(wall, 3),
        "gpus": settings.gpus if on_cuda else 0,
        "gpu_hours": round(wall * plan.processes / 3600, 6) if on_cuda else 0.0,
        "device": torch.cuda.get_device_name(0) if on_cuda else "cpu",
        "batch": plan.to_dict(),
        "precision": precision_label(settings),
        "saved_dtype": "bfloat16" if settings.bf16 else "float32",
        "cross_entropy": loss_kind,
        "liger_kernels": setup["liger_kernels"],
        "checkpointing": setup["checkpointing"],
        "compiled_layers": setup["compiled_layers"],
        "pad_token": pad,
        "seed": seed,
        "settings": settings.to_dict(),
    }
    if math.isnan(summary["mean_train_loss"]):
        raise RuntimeError("training loss is NaN")
    write_jsonl(out_dir / "training_log.jsonl", rows)
    plot_loss_curve(rows, out_dir / "loss_curve.png")
    write_json(out_dir / "summary.json", summary)
    return summary
