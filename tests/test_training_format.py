"""s1 training text, label mask, pad token, overlong policy and collator, with the real Qwen2.5 tokenizer."""

from __future__ import annotations

import copy

import pytest
import torch

from workflow_scripts.training.formatting import answer_text, check_record, prompt_text, training_text
from workflow_scripts.training.masking import (
    ADDED_PAD_TOKEN, IGNORE_INDEX, CompletionCollator, apply_overlong, end_token_ids, set_pad_token,
    tokenize_example,
)

SYSTEM = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"


def s1_text(question: str, trace: str, answer: str) -> str:
    """The issue's expected string, written out by hand."""
    return (f"{SYSTEM}<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
            f"<|im_start|>think\n{trace}\n<|im_start|>answer\n{answer}<|im_end|>\n")


@pytest.fixture()
def tokenizer(qwen_tokenizer):
    return copy.deepcopy(qwen_tokenizer)


def test_training_text_is_exactly_s1s(tokenizer):
    question = "Find $x$ if $2x + 3 = 7$.\nGive an integer."
    text = training_text(tokenizer, question, "  We solve: 2x = 4, so x = 2.\n\n", "x = 2")
    assert text == s1_text(question, "We solve: 2x = 4, so x = 2.", "Answer: x = 2")


def test_answer_prefix_added_only_when_missing(tokenizer):
    assert answer_text("42") == "Answer: 42"
    assert answer_text("The Final Answer: 42 ") == "The Final Answer: 42"   # s1 checks "Answer:" anywhere
    assert answer_text("Answer: 7") == "Answer: 7"
    text = training_text(tokenizer, "q", "t", "Answer: 7")
    assert text.endswith("<|im_start|>answer\nAnswer: 7<|im_end|>\n") and "Answer: Answer:" not in text


def test_labels_start_at_think_and_include_closing_im_end(tokenizer):
    question = "What is 12 + 30?"
    example = tokenize_example(tokenizer, question, "12 + 30 = 42", "42")
    ids, labels = example["input_ids"], example["labels"]
    assert len(ids) == len(labels)
    first = next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
    # Everything before is the prompt, token for token; everything after is labelled with its own id.
    prompt_ids = tokenizer(prompt_text(tokenizer, question), add_special_tokens=False)["input_ids"]
    assert ids[:first] == prompt_ids
    assert all(label == IGNORE_INDEX for label in labels[:first])
    assert labels[first:] == ids[first:]
    im_start, im_end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert ids[first] == im_start and tokenizer.decode(ids[first:first + 2]) == "<|im_start|>think"
    assert tokenizer.decode(ids[first - 3:first]) == "<|im_start|>assistant\n"
    # The closing <|im_end|> is labelled, and (as in s1's collator) the template's final "\n".
    assert ids[-2] == im_end and labels[-2] == im_end
    assert tokenizer.decode(ids[-1:]) == "\n" and labels[-1] == ids[-1]
    assert tokenizer.decode(labels[first:]) == "<|im_start|>think\n12 + 30 = 42\n<|im_start|>answer\nAnswer: 42<|im_end|>\n"


def test_label_boundary_ignores_header_text_inside_the_question(tokenizer):
    # A question quoting the assistant header must not move the boundary into the prompt.
    question = "Explain the string <|im_start|>assistant\n in ChatML."
    example = tokenize_example(tokenizer, question, "It starts a turn.", "a turn header")
    first = next(i for i, label in enumerate(example["labels"]) if label != IGNORE_INDEX)
    assert tokenizer.decode(example["input_ids"][first:]).startswith("<|im_start|>think\nIt starts")
    assert question in tokenizer.decode(example["input_ids"][:first])


def test_pad_token_is_s1s_fim_pad_and_not_an_end_token(tokenizer):
    info = set_pad_token(tokenizer)
    assert info == {"pad_token": "<|fim_pad|>", "pad_token_id": 151662, "added": False}
    assert tokenizer.pad_token == "<|fim_pad|>"
    assert tokenizer.pad_token_id not in end_token_ids(tokenizer)
    assert end_token_ids(tokenizer) == {151643, 151645}  # <|endoftext|>, <|im_end|>


def test_pad_token_falls_back_to_an_added_token_when_only_end_tokens_exist():
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab = {"a": 0, "b": 1, "<|endoftext|>": 2, "<|im_end|>": 3}
    small = Qwen2Tokenizer(vocab=vocab, merges=[], unk_token=None, bos_token=None,
                           eos_token="<|im_end|>", pad_token="<|im_end|>")  # pad == eos: the classic bug
    small.add_tokens([AddedToken(t, special=True, normalized=False) for t in ("<|endoftext|>", "<|im_end|>")])
    before = len(small)
    info = set_pad_token(small)
    assert info["pad_token"] == ADDED_PAD_TOKEN and info["added"] is True
    assert len(small) == before + 1 and small.pad_token_id == info["pad_token_id"] == before
    assert small.pad_token_id not in end_token_ids(small)


def test_pad_token_keeps_an_existing_non_end_pad_token():
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab = {"a": 0, "<|im_end|>": 1, "<pad>": 2}
    small = Qwen2Tokenizer(vocab=vocab, merges=[], unk_token=None, bos_token=None,
                           eos_token="<|im_end|>", pad_token="<pad>")
    small.add_tokens([AddedToken(t, special=True, normalized=False) for t in ("<|im_end|>", "<pad>")])
    assert set_pad_token(small) == {"pad_token": "<pad>", "pad_token_id": 2, "added": False}


def test_collator_pads_with_pad_id_and_never_masks_the_end_token(tokenizer):
    pad = set_pad_token(tokenizer)
    short = tokenize_example(tokenizer, "1+1?", "2", "2")
    long = tokenize_example(tokenizer, "What is 100 + 250?", "100 + 250 = 350, checked twice.", "350")
    batch = CompletionCollator(pad["pad_token_id"])([short, long])
    n = len(short["input_ids"])
    width = len(long["input_ids"])
    assert batch["input_ids"].shape == (2, width)
    assert batch["input_ids"][0, n:].eq(pad["pad_token_id"]).all()
    assert batch["labels"][0, n:].eq(IGNORE_INDEX).all() and batch["attention_mask"][0, n:].eq(0).all()
    assert batch["attention_mask"][0, :n].eq(1).all() and batch["attention_mask"][1].eq(1).all()
    assert batch["labels"][0, :n].tolist() == short["labels"] and batch["labels"][1].tolist() == long["labels"]
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert batch["labels"][0, n - 2].item() == im_end


def _fake_examples(lengths, prompt=3):
    return [{"input_ids": list(range(n)), "labels": [IGNORE_INDEX] * min(prompt, n) + list(range(prompt, n))}
            for n in lengths]


def test_overlong_drop_counts_every_dropped_example():
    kept, report = apply_overlong(_fake_examples([5, 11, 10, 30]), block_size=10, policy="drop")
    assert [len(e["input_ids"]) for e in kept] == [5, 10]
    assert (report.overlong, report.dropped, report.truncated) == (2, 2, 0)
    assert report.overlong_rows == [1, 3] and report.longest_tokens == 30 and report.examples_in == 4


def test_overlong_truncate_cuts_to_block_and_drops_label_free_leftovers():
    examples = _fake_examples([5, 11, 30]) + _fake_examples([20], prompt=15)
    kept, report = apply_overlong(examples, block_size=10, policy="truncate")
    assert [len(e["input_ids"]) for e in kept] == [5, 10, 10]
    assert kept[1]["input_ids"] == list(range(10)) and kept[1]["labels"] == [IGNORE_INDEX] * 3 + list(range(3, 10))
    assert (report.overlong, report.truncated, report.dropped_no_labels_after_truncation) == (3, 2, 1)
    with pytest.raises(ValueError, match="overlong policy"):
        apply_overlong(examples, 10, "silently")


def test_bad_records_name_row_and_column():
    assert check_record({"question": "q", "thinking": "t", "attempt": "a"}, 0) == ("q", "t", "a")
    with pytest.raises(ValueError, match=r"row 3: column 'thinking' must be non-empty text, got missing"):
        check_record({"question": "q", "thinking": None, "attempt": "a"}, 3)
    with pytest.raises(ValueError, match=r"row 0: column 'attempt'.*float"):
        check_record({"question": "q", "thinking": "t", "attempt": float("nan")}, 0)
    with pytest.raises(ValueError, match="column 'question'"):
        check_record({"question": "  ", "thinking": "t", "attempt": "a"}, 0)


def test_read_curated_names_missing_columns(tmp_path):
    import pandas as pd

    from workflow_scripts.training.trainer import read_curated

    path = tmp_path / "curated.parquet"
    pd.DataFrame([{"question": "q", "attempt": "a"}]).to_parquet(path)
    with pytest.raises(ValueError, match="lacks column\\(s\\) thinking"):
        read_curated(path)
    pd.DataFrame([{"question": "q", "thinking": "t", "attempt": "a", "extra": 1}]).to_parquet(path)
    assert read_curated(path) == [{"question": "q", "thinking": "t", "attempt": "a"}]
    with pytest.raises(FileNotFoundError, match="curated set not found"):
        read_curated(tmp_path / "missing.parquet")


def test_collator_output_is_long_tensors(tokenizer):
    pad = set_pad_token(tokenizer)
    batch = CompletionCollator(pad["pad_token_id"])([tokenize_example(tokenizer, "q", "t", "a")])
    assert all(t.dtype == torch.long for t in batch.values())
