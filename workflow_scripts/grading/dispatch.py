"""One entry point for the three graders: grade a record, or a whole file."""

from __future__ import annotations

from typing import Iterable, Iterator

from tqdm import tqdm

from workflow_scripts.grading.aime_answers import grade_aime
from workflow_scripts.grading.extraction import gold_value, response_text
from workflow_scripts.grading.gpqa_answers import grade_gpqa
from workflow_scripts.grading.math_answers import MathVerifier, grade_math, shared_verifier

BENCHMARKS = ("math500", "aime24", "gpqa")


def grade_response(benchmark: str, response: str, gold: str, verifier: MathVerifier | None = None) -> dict:
    """``extracted``, ``correct``, ``parse_failed`` (and ``grade_method``) for one response."""
    if benchmark == "math500":
        return grade_math(response, gold, verifier or shared_verifier())
    if benchmark == "aime24":
        return grade_aime(response, gold)
    if benchmark == "gpqa":
        return grade_gpqa(response, gold)
    raise ValueError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}")


def grade_record(benchmark: str, record: dict, verifier: MathVerifier | None = None) -> dict:
    """The record plus its grade. Reads ``response`` (user file) or ``answer_text`` (shard)."""
    if not isinstance(record, dict):
        raise ValueError(f"each input line must be a JSON object, got {type(record).__name__}")
    if "id" not in record:
        raise ValueError(f"record without 'id' (keys: {sorted(record)})")
    grade = grade_response(benchmark, response_text(record), gold_value(record, benchmark), verifier)
    return {**record, **grade}


def grade_records(benchmark: str, records: Iterable[dict], verifier: MathVerifier | None = None,
                  progress: bool = True) -> Iterator[dict]:
    records = list(records)
    for record in tqdm(records, desc=f"grading {benchmark}", disable=not progress, mininterval=5):
        yield grade_record(benchmark, record, verifier)
