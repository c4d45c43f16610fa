"""One normaliser per benchmark: MATH500, AIME24, GPQA-Diamond -> the normalised eval record.

Record: ``benchmark``, ``id`` (str), ``index`` (row number), ``question``, ``answer``,
``solution`` and, for GPQA, ``choices`` (shuffled per record) and ``gold_letter``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import numpy as np

from workflow_scripts.data.sources import load_rows
from workflow_scripts.errors import UserError

LETTERS = "ABCD"


class DataError(UserError):
    """An evaluation source lacks a column or holds an unusable value; the message says which."""


def _require_columns(benchmark: str, rows: list[dict], columns: tuple[str, ...]) -> None:
    present = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(
            f"{benchmark}: source lacks column(s) {', '.join(repr(c) for c in missing)}; "
            f"it has {', '.join(sorted(map(repr, present))) or 'no columns'}"
        )


def _text(benchmark: str, index: int, row: dict, column: str, allow_empty: bool = False) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        if allow_empty:
            return ""
        raise DataError(f"{benchmark}: row {index} has no value in column {column!r}")
    text = str(value)
    if not allow_empty and not text.strip():
        raise DataError(f"{benchmark}: row {index} has an empty {column!r}")
    return text


def _normalise_math500(rows: list[dict], seed: int) -> list[dict]:
    _require_columns("math500", rows, ("problem", "answer", "unique_id"))
    return [
        {
            "benchmark": "math500",
            "id": _text("math500", i, row, "unique_id"),
            "index": i,
            "question": _text("math500", i, row, "problem"),
            "answer": _text("math500", i, row, "answer"),
            "solution": _text("math500", i, row, "solution", allow_empty=True),
        }
        for i, row in enumerate(rows)
    ]


def _normalise_aime24(rows: list[dict], seed: int) -> list[dict]:
    _require_columns("aime24", rows, ("id", "problem", "answer"))
    records = []
    for i, row in enumerate(rows):
        answer = _text("aime24", i, row, "answer").strip()
        try:
            value = int(answer)
        except ValueError:
            raise DataError(f"aime24: row {i} answer {answer!r} is not an integer") from None
        records.append({
            "benchmark": "aime24",
            "id": _text("aime24", i, row, "id"),
            "index": i,
            "question": _text("aime24", i, row, "problem"),
            # "025" and 25 are the same AIME answer; keep the canonical integer string.
            "answer": str(value),
            "solution": _text("aime24", i, row, "solution", allow_empty=True),
        })
    return records


def gpqa_choice_order(seed: int, record_id: str) -> list[int]:
    """Permutation of [correct, wrong1, wrong2, wrong3] for one record.

    Derived from ``f"{seed}:{record_id}"`` so it does not depend on row order or on
    which other records are loaded.
    """
    digest = hashlib.sha256(f"{seed}:{record_id}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return [int(i) for i in rng.permutation(4)]


GPQA_ANSWER_COLUMNS = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def _normalise_gpqa(rows: list[dict], seed: int) -> list[dict]:
    _require_columns("gpqa", rows, ("Question", "Record ID") + GPQA_ANSWER_COLUMNS)
    records = []
    for i, row in enumerate(rows):
        record_id = _text("gpqa", i, row, "Record ID").strip()
        # s1's fix_gpqa.py: the csv keeps trailing newlines on some fields.
        options = [_text("gpqa", i, row, column).strip() for column in GPQA_ANSWER_COLUMNS]
        order = gpqa_choice_order(seed, record_id)
        choices = [options[j] for j in order]
        records.append({
            "benchmark": "gpqa",
            "id": record_id,
            "index": i,
            "question": _text("gpqa", i, row, "Question").strip(),
            "answer": options[0],
            "solution": _text("gpqa", i, row, "Explanation", allow_empty=True).strip(),
            "choices": choices,
            "gold_letter": LETTERS[order.index(0)],
        })
    return records


NORMALISERS: dict[str, Callable[[list[dict], int], list[dict]]] = {
    "math500": _normalise_math500,
    "aime24": _normalise_aime24,
    "gpqa": _normalise_gpqa,
}
BENCHMARKS = tuple(NORMALISERS)


def normalise_benchmark(benchmark: str, rows: list[dict], seed: int) -> list[dict]:
    """Normalised records of ``rows`` (all of them, original order); ids must be unique."""
    if benchmark not in NORMALISERS:
        raise DataError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}")
    if not rows:
        raise DataError(f"{benchmark}: the source has no rows")
    records = NORMALISERS[benchmark](rows, seed)
    seen: dict[str, int] = {}
    for record in records:
        if record["id"] in seen:
            raise DataError(
                f"{benchmark}: id {record['id']!r} appears in rows {seen[record['id']]} and {record['index']}"
            )
        seen[record["id"]] = record["index"]
    return records


def load_benchmark(benchmark: str, source: str, seed: int, split: str = "train",
                   subset: str | None = None) -> list[dict]:
    """Load and normalise one benchmark from a hub id or a local jsonl/csv/parquet file."""
    return normalise_benchmark(benchmark, load_rows(source, split=split, subset=subset), seed)


def record_settings(settings: dict[str, Any]) -> tuple[str, str | None]:
    """(split, subset) from an eval_sets entry of the config."""
    return settings.get("split") or "train", settings.get("subset")
