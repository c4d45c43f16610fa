"""Hand-built graded samples in the shard record format (docs/architecture.md), for analysis tests."""

from __future__ import annotations

import json
from pathlib import Path


def sample(dataset="math500", model="sft", method="truncation", setting="B100", budget=100, n=0, id="q1",
           tokens=100, correct=True, cap_hit=False, waits=0, parse_failed=False, thinking_text=None,
           forcing_string=None, reasons=None, answer_tokens=10, prompt_format=None) -> dict:
    """One graded sample with every field the generation engine writes. The base model answers
    directly unless ``prompt_format`` says otherwise: no thinking phase, and ``tokens`` are then
    the response's tokens (its compute tokens)."""
    prompt_format = prompt_format or ("direct" if model == "base" else "think")
    if prompt_format == "direct":
        answer_tokens, tokens, thinking_text, reasons = tokens, 0, "", []
    return {
        "dataset": dataset, "id": id, "index": 0, "sample": 0, "model": model, "method": method, "setting": setting,
        "budget": budget, "n": n, "forcing_string": forcing_string, "class_prompt": None, "prompt_format": prompt_format,
        "prompt_tokens": 50, "thinking_text": thinking_text if thinking_text is not None else "step " * 5,
        "thinking_tokens": tokens, "thinking_token_ids": [1] * 3, "waits_inserted": waits, "cap_hit": cap_hit,
        "round_finish_reasons": reasons if reasons is not None else (["length"] if cap_hit else ["stop"]),
        "answer_prefix_text": "<|im_start|>answer\n", "answer_text": "The answer is \\boxed{4}.",
        "answer_tokens": answer_tokens, "full_text": "...", "gold": "4", "gold_letter": None,
        "timings": {"thinking_s": 0.1, "answer_s": 0.1}, "engine": {"dtype": "float32"},
        "extracted": "4" if correct else "5", "correct": correct, "parse_failed": parse_failed,
        "grade_method": "math_verify",
    }


def run_samples(tokens: list[int], correct: list[bool], **fields) -> list[dict]:
    return [sample(id=f"q{i}", tokens=t, correct=c, **fields) for i, (t, c) in enumerate(zip(tokens, correct))]


def write_shards(results: Path, samples: list[dict]) -> list[Path]:
    """Write samples as graded shards results/graded/<model>/<method>/<setting>/<dataset>.jsonl."""
    groups: dict[Path, list[dict]] = {}
    for s in samples:
        path = results / "graded" / s["model"] / s["method"] / s["setting"] / f"{s['dataset']}.jsonl"
        groups.setdefault(path, []).append(s)
    for path, rows in groups.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return sorted(groups)


GENERATION_SAMPLE_FIELDS = (
    "dataset id model method setting budget n forcing_string prompt_tokens thinking_text thinking_tokens "
    "thinking_token_ids waits_inserted cap_hit round_finish_reasons answer_text answer_tokens full_text gold "
    "gold_letter timings engine"
).split()


def test_hand_built_records_follow_the_graded_sample_contract():
    """docs/architecture.md: a graded sample is the generation sample plus extracted/correct/parse_failed."""
    record = sample()
    missing = [field for field in GENERATION_SAMPLE_FIELDS + ["extracted", "correct", "parse_failed"]
               if field not in record]
    assert missing == []
    architecture = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
    for field in GENERATION_SAMPLE_FIELDS:
        assert f"`{field}`" in architecture, field
