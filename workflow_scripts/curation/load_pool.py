"""Load the pool (hub id or local file, through ``datasets``) and map it onto canonical columns.

Canonical columns (config ``pool.columns`` maps each to a source column, or null = absent):
question, solution, source_type, cot_type, metadata, thinking, attempt, domain,
qwen7b_correct, qwen32b_correct, gemini_correct, trace_tokens.

``trace_tokens`` and ``gemini_correct`` are derived when absent (tokenizer / project grader);
every other feature the filters need must be present, else the run stops naming them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from workflow_scripts.curation.errors import CurationError
from workflow_scripts.curation.msc import normalise_domain

CANONICAL = (
    "question", "solution", "source_type", "cot_type", "metadata", "thinking", "attempt", "domain",
    "qwen7b_correct", "qwen32b_correct", "gemini_correct", "trace_tokens",
)
# Needed by the filters and impossible to derive here.
REQUIRED = ("question", "thinking", "attempt", "source_type", "domain", "qwen7b_correct", "qwen32b_correct")
DERIVABLE = ("trace_tokens", "gemini_correct")
TEXT_COLUMNS = ("question", "solution", "source_type", "cot_type", "metadata", "thinking", "attempt")
FLAG_COLUMNS = ("qwen7b_correct", "qwen32b_correct", "gemini_correct")

_TRUE = {"true", "yes", "1", "correct"}
_FALSE = {"false", "no", "0", "incorrect"}


def load_pool_frame(source: str, split: str = "train") -> pd.DataFrame:
    """The raw pool as a DataFrame, read through ``datasets`` (hub id, local file or folder)."""
    from workflow_scripts.data.sources import load_hf_dataset

    try:
        dataset = load_hf_dataset(source, split=split)
    except FileNotFoundError as error:
        raise CurationError(f"pool source: {error}") from None
    return dataset.to_pandas()


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return False


def as_text(value) -> str | None:
    """One string per cell: lists of strings (a trace in parts) are joined by newlines."""
    if _is_missing(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [str(part) for part in value if not _is_missing(part)]
        return "\n".join(parts) if parts else None
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def as_flag(value) -> bool | None:
    """A correctness label as bool; None when absent or unreadable (dropped as missing_field)."""
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, float) and value in (0.0, 1.0):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def as_count(value) -> int | None:
    if _is_missing(value):
        return None
    try:
        count = int(value)
    except (TypeError, ValueError):
        return None
    return count if count >= 0 else None


def check_columns(frame: pd.DataFrame, mapping: dict[str, Any]) -> dict[str, str | None]:
    """Canonical -> source column actually present; raises listing every missing required column."""
    unknown = sorted(set(mapping) - set(CANONICAL))
    if unknown:
        raise CurationError(f"pool.columns has unknown canonical name(s): {', '.join(unknown)}")
    resolved: dict[str, str | None] = {}
    problems = []
    for name in CANONICAL:
        column = mapping.get(name)
        if column is not None and column not in frame.columns:
            if name in REQUIRED:
                problems.append(f"{name} (mapped to {column!r})")
            column = None
        elif column is None and name in REQUIRED:
            problems.append(f"{name} (mapped to null)")
        resolved[name] = column
    if problems:
        raise CurationError(
            "the pool lacks required column(s): " + "; ".join(problems)
            + f". Source columns: {', '.join(map(str, frame.columns))}. Fix pool.columns in the config."
        )
    return resolved


def canonicalise(frame: pd.DataFrame, mapping: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Canonical frame (plus ``row_index``, the source row number) and notes on absent columns."""
    resolved = check_columns(frame, mapping)
    notes = {}
    out = pd.DataFrame({"row_index": np.arange(len(frame), dtype=np.int64)})
    for name in CANONICAL:
        column = resolved[name]
        if column is None:
            notes[name] = (
                f"absent (config maps it to {mapping.get(name)!r})" if mapping.get(name) else "absent (mapped to null)"
            )
            values = [None] * len(frame)
        else:
            values = frame[column].tolist()
        if name in TEXT_COLUMNS:
            out[name] = pd.Series([as_text(v) for v in values], dtype=object)
        elif name in FLAG_COLUMNS:
            out[name] = pd.Series([as_flag(v) for v in values], dtype=object)
        elif name == "domain":
            out[name] = pd.Series([normalise_domain(v) for v in values], dtype=object)
        else:  # trace_tokens
            out[name] = pd.Series([as_count(v) for v in values], dtype=object)
    return out, notes


def count_trace_tokens(texts: list[str], tokenizer, batch_size: int = 64, progress: bool = True) -> list[int]:
    """Token counts of ``texts`` with ``tokenizer`` (no special tokens), batched, with a progress bar."""
    from tqdm import tqdm

    counts: list[int] = []
    for start in tqdm(range(0, len(texts), batch_size), desc="trace tokens", disable=not progress, mininterval=5):
        batch = texts[start:start + batch_size]
        encoded = tokenizer(batch, add_special_tokens=False)["input_ids"]
        counts.extend(len(ids) for ids in encoded)
    return counts


def derive_trace_tokens(pool: pd.DataFrame, tokenizer_source: str | None, progress: bool = True) -> int:
    """Fill missing ``trace_tokens`` from the thinking text; returns how many rows were counted."""
    todo = [i for i, (n, t) in enumerate(zip(pool["trace_tokens"], pool["thinking"])) if n is None and t]
    if not todo:
        return 0
    if not tokenizer_source:
        raise CurationError("trace_tokens must be derived but no --tokenizer was given")
    from workflow_scripts.tokenization import load_tokenizer

    try:
        tokenizer = load_tokenizer(tokenizer_source)
    except Exception as error:  # noqa: BLE001 - report which tokenizer failed, not a deep traceback
        raise CurationError(f"cannot load tokenizer {tokenizer_source!r}: {error}") from None
    counts = count_trace_tokens([pool.at[i, "thinking"] for i in todo], tokenizer, progress=progress)
    values = pool["trace_tokens"].tolist()
    for i, count in zip(todo, counts):
        values[i] = count
    pool["trace_tokens"] = pd.Series(values, dtype=object)
    return len(todo)


def _project_grader():
    """The grading engineer's package, imported only when Gemini labels must be derived."""
    try:
        from workflow_scripts.grading.dispatch import grade_response
        from workflow_scripts.grading.math_answers import extract_math_answer
    except ImportError as error:
        raise CurationError(
            f"gemini_correct must be derived but the project grader is unavailable ({error})"
        ) from None
    return grade_response, extract_math_answer


def derive_gemini_correct(pool: pd.DataFrame, progress: bool = True) -> int:
    """Grade each attempt against the final answer in its solution (math-verify); returns rows graded.

    Rows whose solution has no extractable answer stay None and are dropped as missing_field.
    """
    todo = [i for i, flag in enumerate(pool["gemini_correct"]) if flag is None]
    if not todo:
        return 0
    if pool["solution"].isna().all():
        raise CurationError("gemini_correct must be derived but the pool has no solution column")
    from tqdm import tqdm

    grade_response, extract_answer = _project_grader()
    values = pool["gemini_correct"].tolist()
    graded = 0
    for i in tqdm(todo, desc="grading gemini attempts", disable=not progress, mininterval=5):
        attempt, solution = pool.at[i, "attempt"], pool.at[i, "solution"]
        if not attempt or not solution:
            continue
        gold = extract_answer(solution)
        if gold is None:
            continue
        values[i] = bool(grade_response("math500", attempt, gold)["correct"])
        graded += 1
    pool["gemini_correct"] = pd.Series(values, dtype=object)
    return graded
