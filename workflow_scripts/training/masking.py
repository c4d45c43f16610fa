"""Token ids and labels of the s1 training text; pad token; overlong policy; the collator.

Labels (``-100`` = no loss) follow s1's ``DataCollatorForCompletionOnlyLM`` with response
template ``"<|im_start|>assistant\\n"``: everything after the assistant header is labelled, i.e.
from the ``<|im_start|>`` of ``<|im_start|>think`` through the closing ``<|im_end|>`` *and* the
template's final ``"\\n"`` after it (s1 labelled it too: only pad tokens and the prompt were masked).
Here the boundary is found by rendering the prompt alone (``add_generation_prompt=True``) rather
than by searching token ids, so a question that happens to contain the header cannot move it.
Padding positions get ``-100`` in the collator, never by comparing ids with the pad id, so an end
token is never masked even if a tokenizer's pad and end tokens coincided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from workflow_scripts.training.formatting import prompt_text, training_text

IGNORE_INDEX = -100
# s1 padded Qwen with an unused fill-in-the-middle token; the generic fallback is added.
PREFERRED_PAD_TOKENS = ("<|fim_pad|>",)
ADDED_PAD_TOKEN = "<|pad|>"
END_TOKENS = ("<|im_end|>", "<|endoftext|>")


def end_token_ids(tokenizer) -> set[int]:
    """Ids that stop generation: the eos token and Qwen's two end markers where present."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for token in END_TOKENS:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return ids


def _existing_id(tokenizer, token: str | None) -> int | None:
    if token is None:
        return None
    token_id = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
        return None
    # A token missing from the vocabulary may map to unk (None for byte-level BPE).
    return token_id if tokenizer.convert_ids_to_tokens(token_id) == token else None


def set_pad_token(tokenizer) -> dict[str, Any]:
    """Give ``tokenizer`` a pad token that is not an end token; returns what was done.

    Order: ``<|fim_pad|>`` (s1's choice for Qwen), else the tokenizer's own pad token if it is no
    end token, else a new special token ``<|pad|>`` (then the model's embeddings must be resized:
    ``added`` is True and ``trainer.load_model`` does it).
    """
    ends = end_token_ids(tokenizer)
    for candidate in (*PREFERRED_PAD_TOKENS, tokenizer.pad_token):
        token_id = _existing_id(tokenizer, candidate)
        if token_id is not None and token_id not in ends:
            tokenizer.pad_token = candidate
            return {"pad_token": candidate, "pad_token_id": token_id, "added": False}
    tokenizer.add_special_tokens({"pad_token": ADDED_PAD_TOKEN})
    token_id = tokenizer.convert_tokens_to_ids(ADDED_PAD_TOKEN)
    return {"pad_token": ADDED_PAD_TOKEN, "pad_token_id": token_id, "added": True}


def tokenize_example(tokenizer, question: str, thinking: str, attempt: str) -> dict[str, list[int]]:
    """input_ids and labels of one example; labels are -100 up to the end of the assistant header."""
    text = training_text(tokenizer, question, thinking, attempt)
    prompt = prompt_text(tokenizer, question)
    if not text.startswith(prompt):
        raise ValueError("chat template renders the prompt differently alone and with the answer; "
                         "cannot place the label boundary")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    boundary = len(prompt)
    starts = [i for i, (begin, _) in enumerate(offsets) if begin >= boundary]
    if not starts:
        raise ValueError("no assistant tokens after the prompt")
    first = starts[0]
    if offsets[first][0] != boundary or (first > 0 and offsets[first - 1][1] > boundary):
        raise ValueError(f"a token straddles the assistant header boundary (char {boundary})")
    labels = [IGNORE_INDEX] * first + ids[first:]
    return {"input_ids": ids, "labels": labels}


@dataclass
class OverlongReport:
    """What the overlong policy did; goes into summary.json."""

    policy: str
    block_size: int
    examples_in: int = 0
    overlong: int = 0
    dropped: int = 0
    truncated: int = 0
    # Truncation that would leave no labelled token (prompt alone fills the block) drops instead.
    dropped_no_labels_after_truncation: int = 0
    overlong_rows: list[int] = field(default_factory=list)
    longest_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def apply_overlong(examples: Sequence[dict], block_size: int, policy: str) -> tuple[list[dict], OverlongReport]:
    """Drop or truncate examples longer than ``block_size`` tokens; every one is counted."""
    if policy not in ("drop", "truncate"):
        raise ValueError(f"overlong policy must be 'drop' or 'truncate', got {policy!r}")
    report = OverlongReport(policy=policy, block_size=block_size, examples_in=len(examples))
    kept = []
    for row, example in enumerate(examples):
        length = len(example["input_ids"])
        report.longest_tokens = max(report.longest_tokens, length)
        if length <= block_size:
            kept.append(example)
            continue
        report.overlong += 1
        report.overlong_rows.append(row)
        if policy == "drop":
            report.dropped += 1
            continue
        cut = {key: list(value[:block_size]) for key, value in example.items()}
        if all(label == IGNORE_INDEX for label in cut["labels"]):
            report.dropped_no_labels_after_truncation += 1
            continue
        report.truncated += 1
        kept.append(cut)
    return kept, report


@dataclass
class CompletionCollator:
    """Right-pads a micro-batch; padding gets the pad id, attention 0 and label -100."""

    pad_token_id: int

    def __call__(self, features: Sequence[dict]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        input_ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = torch.as_tensor(feature["input_ids"], dtype=torch.long)
            labels[row, :n] = torch.as_tensor(feature["labels"], dtype=torch.long)
            attention_mask[row, :n] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
