"""The s1 training text: Qwen chat template, default system prompt, think/answer assistant turn.

Follows s1's ``data/tokenization.py``: the trace is stripped, "Answer: " is prefixed unless
the attempt already contains "Answer:", and the chat template renders the two turns, so with
Qwen2.5's tokenizer the text is

    <|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n
    <|im_start|>user\\n{question}<|im_end|>\\n<|im_start|>assistant\\n
    <|im_start|>think\\n{trace}\\n<|im_start|>answer\\nAnswer: {attempt}<|im_end|>\\n
"""

from __future__ import annotations

from typing import Any, Mapping

THINK_MARKER = "<|im_start|>think"
ANSWER_MARKER = "<|im_start|>answer"
ANSWER_PREFIX = "Answer: "
REQUIRED_COLUMNS = ("question", "thinking", "attempt")


def answer_text(attempt: str) -> str:
    """s1: ``"Answer: " + attempt`` unless "Answer:" already occurs in it, then stripped."""
    return (attempt if "Answer:" in attempt else ANSWER_PREFIX + attempt).strip()


def assistant_turn(thinking: str, attempt: str) -> str:
    return f"{THINK_MARKER}\n{thinking.strip()}\n{ANSWER_MARKER}\n{answer_text(attempt)}"


def chat_messages(question: str, thinking: str, attempt: str) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": assistant_turn(thinking, attempt)},
    ]


def prompt_text(tokenizer, question: str) -> str:
    """The rendered prompt up to and including the assistant header (what labels follow)."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )


def training_text(tokenizer, question: str, thinking: str, attempt: str) -> str:
    return tokenizer.apply_chat_template(chat_messages(question, thinking, attempt), tokenize=False)


def check_record(record: Mapping[str, Any], row: int) -> tuple[str, str, str]:
    """question, thinking, attempt of one curated row; missing or non-text fields name the row."""
    values = []
    for column in REQUIRED_COLUMNS:
        value = record.get(column)
        if not isinstance(value, str) or not value.strip():
            shown = "missing" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"
            raise ValueError(f"curated row {row}: column {column!r} must be non-empty text, got {shown}")
        values.append(value)
    return values[0], values[1], values[2]
