"""Build the whole synthetic world: tokenizer, eval sets, pool, base model, summary."""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from pathlib import Path

from workflow_scripts.io import write_json, write_jsonl
from workflow_scripts.world.eval_sets import EVAL_FILES, make_eval_sets, write_eval_sets
from workflow_scripts.world.model import build_base_model, save_model
from workflow_scripts.world.pool import REASONS, PoolBuilder, planted_counts
from workflow_scripts.world.questions import NGRAM, NORMALISATIONS, QuestionRegistry
from workflow_scripts.world.settings import WorldSettings
from workflow_scripts.world.tokenizer import build_world_tokenizer

POOL_FILE = "pool.jsonl"
MODEL_DIR = "base_model"
SUMMARY_FILE = "summary.json"
# Fixed thread count: CPU float reductions depend on it, and the weights must be
# byte-identical from one build to the next.
TORCH_THREADS = 2


def build_world(settings: WorldSettings, seed: int, out_dir: str | Path, progress: bool = True) -> dict:
    """Write pool.jsonl, eval/*, base_model/ and summary.json under ``out_dir``; return the summary."""
    import torch

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(TORCH_THREADS)
    torch.use_deterministic_algorithms(True)

    tokenizer = build_world_tokenizer()
    registry = QuestionRegistry(NGRAM)
    # Separate streams, so a change in one part (e.g. pool size) leaves the others alone.
    eval_sets = make_eval_sets(random.Random(f"{seed}-eval"), registry, settings.eval_size)
    plan = PoolBuilder(random.Random(f"{seed}-pool"), registry, tokenizer, eval_sets, settings.pool_size).build()
    data_seconds = time.perf_counter() - started

    write_eval_sets(eval_sets, out_dir)
    write_jsonl(out_dir / POOL_FILE, plan.rows)

    model, losses = build_base_model(settings.model, tokenizer, seed, progress=progress)
    model_dir = out_dir / MODEL_DIR
    with atomic_dir(model_dir) as tmp:
        save_model(model, tokenizer, tmp)

    lengths = [row["thinking_length"] for row in plan.rows]
    reasons = Counter(plan.planted.values())
    summary = {
        "seed": seed,
        "settings": {"pool_size": settings.pool_size, "eval_size": settings.eval_size,
                     "model": vars(settings.model)},
        "files": {"pool": POOL_FILE, **{f"eval_{name}": rel for name, rel in EVAL_FILES.items()},
                  "base_model": MODEL_DIR},
        "counts": {
            "pool_rows": len(plan.rows),
            "eval_rows": {name: len(items) for name, items in eval_sets.items()},
            "by_source": dict(sorted(Counter(r["source_type"] for r in plan.rows).items())),
            "by_domain": dict(sorted(Counter(r["domain"] for r in plan.rows).items())),
            "by_reason": {reason: reasons.get(reason, 0) for reason in REASONS},
            "planted_targets": planted_counts(settings.pool_size),
            "clean_rows": len(plan.rows) - len(plan.planted),
        },
        "reasons": list(REASONS),
        "planted": {str(i): reason for i, reason in sorted(plan.planted.items())},
        "planted_details": {str(i): d for i, d in sorted(plan.details.items()) if d},
        "controls": {str(i): what for i, what in sorted(plan.controls.items())},
        "ngram": {"n": NGRAM, "normalisations": sorted(NORMALISATIONS),
                  "note": "no two questions share an n-gram unless planted as duplicate or contaminated"},
        "thinking_length": {"min": min(lengths), "max": max(lengths),
                            "mean": round(statistics.fmean(lengths), 2)},
        "tokenizer": {"size": len(tokenizer), "eos": tokenizer.eos_token, "pad": tokenizer.pad_token},
        "model": {"parameters": sum(p.numel() for p in model.parameters()),
                  "head_dim": settings.model.head_dim,
                  "pretrain_steps": settings.model.pretrain_steps,
                  "pretrain_loss_first": losses[0] if losses else None,
                  "pretrain_loss_last": losses[-1] if losses else None},
        "build_seconds": {"data": round(data_seconds, 2),
                          "total": round(time.perf_counter() - started, 2)},
    }
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary


class atomic_dir:
    """Write a folder beside ``path`` and swap it into place only when complete."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")

    def __enter__(self) -> Path:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        import shutil

        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        os.replace(self.tmp, self.path)
        return False


__all__ = ["build_world", "POOL_FILE", "MODEL_DIR", "SUMMARY_FILE"]
