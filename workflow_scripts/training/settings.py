"""The ``training`` config section as a typed object; its values come from the schema (defaults there)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from workflow_scripts.config.validate import ConfigError, complete_section
from workflow_scripts.io import parse_json_object


@dataclass(frozen=True)
class TrainingSettings:
    # Defaults (s1's hyperparameters, simplescaling/s1 train/sft.sh) live in the config schema.
    learning_rate: float
    epochs: float
    global_batch_size: int
    micro_batch_size: int
    warmup_ratio: float
    lr_scheduler: str
    weight_decay: float
    adam_beta1: float
    adam_beta2: float
    block_size: int
    overlong: str
    gradient_checkpointing: bool
    # auto: the fewest checkpointed layers whose modelled peak fits the GPU (training/memory.py);
    # all: every layer (s1); N: the first N decoder layers.
    checkpoint_layers: str | int
    compile_layers: bool
    bf16: bool
    # fp32: bf16 autocast over fp32 weights and AdamW state (s1's mixed precision); bf16: pure
    # bf16 weights, gradients and AdamW state (README: the trade-off).
    master_weights: str
    fused_cross_entropy: str
    gpus: int
    deepspeed_config: str
    logging_steps: int
    max_steps: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_settings(raw: str | dict) -> TrainingSettings:
    """Settings from the CLI's JSON string (or a dict), completed from the schema's defaults and
    checked against it: unknown keys and bad values raise :class:`ConfigError` naming the key."""
    if isinstance(raw, str):
        raw = parse_json_object(raw, "--settings", ConfigError)
    return TrainingSettings(**complete_section("training", raw))
