"""The world's tokenizer: Qwen2's byte-level BPE pipeline with a tiny learned vocabulary.

Same normaliser, pre-tokeniser (digits split one by one) and decoder as Qwen2.5, and
Qwen2.5's added tokens, but only a few hundred merges learned from the world's own
words, so the tiny model's embedding stays small. Any text still encodes (byte-level).
"""

from __future__ import annotations

from pathlib import Path

from workflow_scripts.tokenization import QWEN25_ADDED_TOKENS, _NOT_SPECIAL
from workflow_scripts.world.chat_template import QWEN25_CHAT_TEMPLATE, QWEN25_DEFAULT_SYSTEM_PROMPT
from workflow_scripts.world.task import QUESTION_TAIL, TEMPLATES

MERGES_LIMIT = 200
MAX_MODEL_LENGTH = 4096

# Words the world writes besides numbers: chat roles, s1 markers, the system prompt,
# question wordings and the planted defects. Each line is one training "document".
_CORPUS_LINES = (
    QWEN25_DEFAULT_SYSTEM_PROMPT,
    "system user assistant think answer Answer: Final Answer:",
    "The answer is the sum of the terms. Error code: Internal error Resource exhausted.",
    "as shown in the figure below Image asy problem solution question",
    "Think for up to 64 tokens. Think for up to 4 steps.",  # token-/step-conditional prompts
)


def training_corpus() -> list[str]:
    lines = list(_CORPUS_LINES)
    for wordings in TEMPLATES.values():
        lines += [wording.format(tag=1, start=1, step=1, turns=1) for wording in wordings]
    # Chat roles and s1 markers start a line after <|im_start|>: learn them as whole words.
    chat = [QUESTION_TAIL.format(start=1, step=2, turns=3), "Solution:\n", "The answer is 1.", "system", "user",
            "assistant", "think", "answer", "Answer: 1", "Final Answer: 1", "07 3+4=7", "Wait 01 3+4=7"]
    # Repeat the chat text so it wins merges over rarer pairs.
    return lines * 2 + (chat + [QWEN25_DEFAULT_SYSTEM_PROMPT]) * 8


def build_world_tokenizer(merges_limit: int = MERGES_LIMIT):
    """A Qwen2Tokenizer (fast) with a small learned BPE vocabulary and Qwen2.5's specials."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    # Train merges with Qwen2's own pipeline (taken from an empty Qwen2Tokenizer).
    template = Qwen2Tokenizer(vocab={"<|endoftext|>": 0}, merges=[])
    raw = Tokenizer(models.BPE())
    raw.normalizer = template.backend_tokenizer.normalizer
    raw.pre_tokenizer = template.backend_tokenizer.pre_tokenizer
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=len(alphabet) + merges_limit, initial_alphabet=alphabet,
        show_progress=False, min_frequency=2,
    )
    raw.train_from_iterator(training_corpus(), trainer=trainer)
    merges = _merges_of(raw)
    # Ids: the 256 byte symbols in sorted order, then merges in the order learned.
    vocab = {symbol: i for i, symbol in enumerate(sorted(alphabet))}
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    first_added = len(vocab)
    vocab.update({token: first_added + i for i, token in enumerate(QWEN25_ADDED_TOKENS)})
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=merges, unk_token=None, bos_token=None,
        eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=MAX_MODEL_LENGTH,
    )
    tokenizer.add_tokens(
        [AddedToken(t, special=t not in _NOT_SPECIAL, normalized=False) for t in QWEN25_ADDED_TOKENS]
    )
    for offset, token in enumerate(QWEN25_ADDED_TOKENS):
        if tokenizer.convert_tokens_to_ids(token) != first_added + offset:
            raise ValueError(f"{token} did not get id {first_added + offset}")
    tokenizer.chat_template = QWEN25_CHAT_TEMPLATE
    return tokenizer


def _merges_of(raw) -> list[tuple[str, str]]:
    import json

    state = json.loads(raw.to_str())
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["model"]["merges"]]


def count_tokens(tokenizer, text: str) -> int:
    """Tokens of ``text`` alone (no special tokens added), as the pool's thinking_length."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def save_tokenizer(tokenizer, out_dir: str | Path) -> None:
    tokenizer.save_pretrained(str(out_dir))
