"""The ``training`` config section as a typed object, with s1's hyperparameters as defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from workflow_scripts.io import parse_json_object

FUSED_CE_CHOICES = ("auto", "liger", "chunked", "none")
OVERLONG_CHOICES = ("drop", "truncate")


@dataclass(frozen=True)
class TrainingSettings:
    # s1 (simplescaling/s1 train/sft.sh): lr 1e-5, 5 epochs, batch 16, warmup 5 %, cosine,
    # weight decay 1e-4, AdamW betas (0.9, 0.95), block 32768, gradient checkpointing.
    learning_rate: float = 1e-5
    epochs: float = 5
    global_batch_size: int = 16
    micro_batch_size: int = 1
    warmup_ratio: float = 0.05
    lr_scheduler: str = "cosine"
    weight_decay: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    block_size: int = 32768
    overlong: str = "drop"
    gradient_checkpointing: bool = True
    bf16: bool = True
    fused_cross_entropy: str = "auto"
    gpus: int = 1
    deepspeed_config: str = "workflow_scripts/training/zero3.json"
    logging_steps: int = 1
    max_steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SettingsError(ValueError):
    """A training setting is missing, unknown or out of range."""


def parse_settings(raw: str | dict) -> TrainingSettings:
    """Settings from the CLI's JSON string (or a dict); unknown keys and bad values are errors."""
    if isinstance(raw, str):
        raw = parse_json_object(raw, "--settings", SettingsError)
    if not isinstance(raw, dict):
        raise SettingsError(f"--settings must be a JSON object, got {type(raw).__name__}")
    known = {f.name: f for f in fields(TrainingSettings)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SettingsError(f"unknown training setting(s): {', '.join(unknown)}")
    settings = TrainingSettings(**raw)
    _check(settings)
    return settings


def _check(s: TrainingSettings) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise SettingsError(f"training setting {message}")

    positive_numbers = ("learning_rate", "epochs")
    for name in positive_numbers:
        value = getattr(s, name)
        need(isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0,
             f"{name} must be a positive number, got {value!r}")
    for name in ("global_batch_size", "micro_batch_size", "block_size", "logging_steps"):
        value = getattr(s, name)
        need(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
             f"{name} must be a positive integer, got {value!r}")
    need(isinstance(s.gpus, int) and not isinstance(s.gpus, bool) and s.gpus >= 0,
         f"gpus must be an integer >= 0, got {s.gpus!r}")
    need(s.max_steps is None or (isinstance(s.max_steps, int) and s.max_steps >= 1),
         f"max_steps must be null or a positive integer, got {s.max_steps!r}")
    need(0 <= s.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {s.warmup_ratio!r}")
    need(s.weight_decay >= 0, f"weight_decay must be >= 0, got {s.weight_decay!r}")
    for name in ("adam_beta1", "adam_beta2"):
        need(0 <= getattr(s, name) < 1, f"{name} must be in [0, 1), got {getattr(s, name)!r}")
    need(s.overlong in OVERLONG_CHOICES, f"overlong must be one of {OVERLONG_CHOICES}, got {s.overlong!r}")
    need(s.fused_cross_entropy in FUSED_CE_CHOICES,
         f"fused_cross_entropy must be one of {FUSED_CE_CHOICES}, got {s.fused_cross_entropy!r}")
    for name in ("gradient_checkpointing", "bf16"):
        need(isinstance(getattr(s, name), bool), f"{name} must be true or false, got {getattr(s, name)!r}")
    need(isinstance(s.lr_scheduler, str) and s.lr_scheduler != "", "lr_scheduler must be a scheduler name")
