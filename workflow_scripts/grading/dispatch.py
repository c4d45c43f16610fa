"""One entry point for the three graders: grade a record, or a whole file."""

from __future__ import annotations

from typing import Iterable, Iterator

from tqdm import tqdm

from workflow_scripts.data.benchmarks import BENCHMARKS
from workflow_scripts.grading.aime_answers import parse_aime_gold
from workflow_scripts.grading.extraction import gold_value, response_parts
from workflow_scripts.grading.gpqa_answers import parse_gpqa_gold
from workflow_scripts.grading.worker import Grader, shared_grader

# Names the config, the eval sets and their sources use for the same benchmarks.
ALIASES = {
    "math": "math500", "math-500": "math500", "math_500": "math500", "hendrycks_math": "math500",
    "aime": "aime24", "aime_2024": "aime24", "aime24_nofigures": "aime24", "aime25": "aime24",
    "aime25_nofigures": "aime24",
    "gpqa_diamond": "gpqa", "gpqa-diamond": "gpqa", "gpqadiamond": "gpqa",
}
BENCHMARK_NAMES = BENCHMARKS + tuple(ALIASES)


def canonical_benchmark(name: str) -> str:
    """``math500``, ``aime24`` or ``gpqa`` for any accepted name (any case)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; expected one of {', '.join(BENCHMARK_NAMES)}")
    return key


def checked_gold(benchmark: str, gold: str | int) -> str:
    """The gold answer as the grader takes it; a malformed one is a ValueError saying why."""
    if benchmark == "aime24":
        return str(parse_aime_gold(gold))
    if benchmark == "gpqa":
        return parse_gpqa_gold(gold)
    if not isinstance(gold, str) or not gold.strip():
        raise ValueError(f"MATH500 gold must be a non-empty string, got {gold!r}")
    return gold


def grade_response(benchmark: str, response: str, gold: str | int, grader: Grader | None = None) -> dict:
    """``extracted``, ``correct``, ``parse_failed``, ``parse_reason``, ``grade_method`` and
    ``answer_source`` for one response, under the grader's per-record deadline."""
    benchmark = canonical_benchmark(benchmark)
    if not isinstance(response, str):
        raise ValueError(f"the response must be a string, got {type(response).__name__}")
    return (grader or shared_grader()).grade(benchmark, response, checked_gold(benchmark, gold))


def grade_record(benchmark: str, record: dict, grader: Grader | None = None) -> dict:
    """The record plus its grade. Reads ``response`` (user file) or ``answer_text`` (shard)."""
    if not isinstance(record, dict):
        raise ValueError(f"each input line must be a JSON object, got {type(record).__name__}")
    if "id" not in record:
        raise ValueError(f"record without 'id' (keys: {sorted(record)})")
    benchmark = canonical_benchmark(benchmark)
    parts, gold = response_parts(record), gold_value(record, benchmark)
    try:
        gold = checked_gold(benchmark, gold)
    except ValueError as error:
        raise ValueError(f"record {record['id']!r}: {error}") from None
    grade = (grader or shared_grader()).grade(benchmark, parts, gold)
    return {**record, **grade}


def grade_records(benchmark: str, records: Iterable[dict], grader: Grader | None = None,
                  progress: bool = True) -> Iterator[dict]:
    records = list(records)
    for record in tqdm(records, desc=f"grading {benchmark}", disable=not progress, mininterval=5):
        yield grade_record(benchmark, record, grader)
