"""Load the pool (hub id or local file, through ``datasets``) and map it onto canonical columns.

Canonical columns (config ``pool.columns`` maps each to a source column, or null = absent):
question, solution, source_type, cot_type, metadata, thinking, attempt, domain,
qwen7b_correct, qwen32b_correct, gemini_correct, trace_tokens.

``trace_tokens`` and ``gemini_correct`` are derived when absent (tokenizer / project grader);
every other feature the filters need must be present, else the run stops naming them.
"""

from __future__ import annotations

import json
from pathlib import Path
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
    """The raw pool as a DataFrame, read through ``datasets`` (hub id, local file or folder).

    A local file that cannot be read is diagnosed here (empty, not UTF-8, a malformed JSON line),
    so the message names the file and line instead of a ``datasets``/pyarrow traceback.
    """
    from workflow_scripts.data.sources import load_hf_dataset

    path = Path(source)
    if path.is_file() and path.stat().st_size == 0:
        raise CurationError(f"pool file {source} is empty (0 bytes): no rows to curate")
    from datasets.utils import logging as datasets_logging

    verbosity = datasets_logging.get_verbosity()
    datasets_logging.set_verbosity(datasets_logging.CRITICAL)  # a bad file is reported below, not logged too
    try:
        frame = load_hf_dataset(source, split=split).to_pandas()
    except FileNotFoundError as error:
        raise CurationError(f"pool source: {error}") from None
    except Exception as error:  # noqa: BLE001 - named below, never a library traceback
        problem = diagnose_pool_file(path) if path.is_file() else None
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise CurationError(problem or f"cannot read pool {source}: {type(error).__name__}: {first_line}") from None
    finally:
        datasets_logging.set_verbosity(verbosity)
    if frame.empty:
        raise CurationError(f"pool {source} has no rows")
    return frame


def _lone_surrogate(value, key: str = "") -> str | None:
    """The key path of the first string holding a lone surrogate (not encodable as UTF-8), else None."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return key or "(value)"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, item in items:
        found = _lone_surrogate(item, f"{key}.{k}" if key else str(k))
        if found:
            return found
    return None


def diagnose_pool_file(path: Path) -> str | None:
    """What is wrong with a local pool file, naming the line; None when nothing specific is found."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception as error:  # noqa: BLE001 - a broken file: say so in one line
            return f"pool file {path} is not a readable parquet file ({type(error).__name__}: {error})"
        return f"pool file {path} has no rows" if rows == 0 else None
    if suffix not in (".jsonl", ".json"):
        return None
    seen = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return (f"pool file {path}, line {number}: not valid UTF-8 (byte {error.start + 1} of the line, "
                        f"{raw[error.start:error.start + 4]!r})")
            if not line.strip():
                continue
            try:
                row = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as error:
                return f"pool file {path}, line {number}: malformed JSON ({error.msg} at column {error.pos + 1})"
            if not isinstance(row, dict):
                return f"pool file {path}, line {number}: a JSON {type(row).__name__}, not an object (one row per line)"
            bad = _lone_surrogate(row)
            if bad:
                return f"pool file {path}, line {number}, key {bad!r}: a lone surrogate (\\ud800-\\udfff), not valid text"
            seen += 1
    return f"pool file {path} holds no rows (only blank lines)" if seen == 0 else None


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return False


class BadCell(ValueError):
    """A pool cell that cannot be what its canonical column needs; canonicalise names row and column."""


def as_text(value) -> str | None:
    """One string per cell: lists of strings (a trace in parts) are joined by newlines.

    Numbers and bytes are not text: a question column of integers must not become "questions".
    """
    if _is_missing(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [as_text(part) for part in value]
        parts = [part for part in parts if part is not None]
        return "\n".join(parts) if parts else None
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if not isinstance(value, str):
        kind = "bytes (binary data)" if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise BadCell(f"holds {kind} {value!r:.60}, not text")
    if _lone_surrogate(value):
        raise BadCell("holds a lone surrogate (\\ud800-\\udfff): not valid UTF-8 text")
    return value


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
    """A token count: a whole number >= 0; None when absent (then derived); anything else is an error."""
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        raise BadCell(f"holds {value!r}, not a token count")
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value) or value != int(value):
            raise BadCell(f"holds {value!r}, not a whole number of tokens")
        value = int(value)
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise BadCell(f"holds {value!r:.60}, not a token count") from None
    if count < 0:
        raise BadCell(f"holds {count}, a negative token count")
    return count


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


def _convert(convert, values: list, where: str, column: str, name: str) -> list:
    out = []
    for row, value in enumerate(values):
        try:
            out.append(convert(value))
        except BadCell as error:
            raise CurationError(f"{where}: row {row} (counting from 0), column {column!r} "
                                f"(pool.columns.{name}) {error}") from None
    return out


def canonicalise(frame: pd.DataFrame, mapping: dict[str, Any], where: str = "the pool") -> tuple[pd.DataFrame, dict[str, str]]:
    """Canonical frame (plus ``row_index``, the source row number) and notes on absent columns.

    ``where`` names the pool in error messages (a bad cell is named by row and column).
    """
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
            out[name] = pd.Series(_convert(as_text, values, where, column, name), dtype=object)
        elif name in FLAG_COLUMNS:
            out[name] = pd.Series([as_flag(v) for v in values], dtype=object)
        elif name == "domain":
            out[name] = pd.Series([normalise_domain(v) for v in values], dtype=object)
        else:  # trace_tokens
            out[name] = pd.Series(_convert(as_count, values, where, column, name), dtype=object)
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
