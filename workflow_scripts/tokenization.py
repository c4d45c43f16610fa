"""Tokenizers: load the configured one, or build Qwen2.5's from its raw files.

Real users load ``Qwen/Qwen2.5-3B-Instruct`` from the hub. Offline (tests, CI) the
same tokenizer is rebuilt from ``vocab.json`` + ``merges.txt`` + the chat template,
with Qwen2.5's added tokens at their published ids.
"""

from __future__ import annotations

import json
from pathlib import Path

# Qwen2.5 added tokens, ids 151643.. in order (Qwen3's extra tokens excluded).
QWEN25_ADDED_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
)
QWEN25_FIRST_ADDED_ID = 151643
# Tokens that are special (skipped by skip_special_tokens) rather than plain added tokens.
_NOT_SPECIAL = {"<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"}


def build_qwen25_tokenizer(raw_dir: str | Path):
    """Qwen2.5-Instruct's tokenizer from vocab.json, merges.txt and chat_template.json."""
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    raw_dir = Path(raw_dir)
    missing = [n for n in ("vocab.json", "merges.txt", "chat_template.json") if not (raw_dir / n).exists()]
    if missing:
        raise FileNotFoundError(f"{raw_dir} lacks tokenizer file(s): {', '.join(missing)}")
    vocab = json.loads((raw_dir / "vocab.json").read_text(encoding="utf-8"))
    # Reserve the published ids before the constructor registers eos/pad tokens.
    vocab.update({t: QWEN25_FIRST_ADDED_ID + i for i, t in enumerate(QWEN25_ADDED_TOKENS)})
    merges = [
        tuple(line.split(" "))
        for line in (raw_dir / "merges.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#version")
    ]
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=merges, unk_token=None, bos_token=None,
        eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=131072,
    )
    tokenizer.add_tokens(
        [AddedToken(t, special=t not in _NOT_SPECIAL, normalized=False) for t in QWEN25_ADDED_TOKENS]
    )
    for offset, token in enumerate(QWEN25_ADDED_TOKENS):
        actual = tokenizer.convert_tokens_to_ids(token)
        if actual != QWEN25_FIRST_ADDED_ID + offset:
            raise ValueError(f"{token} got id {actual}, expected {QWEN25_FIRST_ADDED_ID + offset}")
    tokenizer.chat_template = json.loads((raw_dir / "chat_template.json").read_text())["chat_template"]
    return tokenizer


def load_tokenizer(source: str | Path):
    """AutoTokenizer for a hub id or a local folder; raw Qwen files are built on the fly."""
    source_path = Path(source)
    if source_path.is_dir() and not (source_path / "tokenizer_config.json").exists() \
            and (source_path / "merges.txt").exists():
        return build_qwen25_tokenizer(source_path)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(source))
