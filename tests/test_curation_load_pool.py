"""Pool loading: local files through `datasets`, column mapping, value coercion, MSC domains."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workflow_scripts.curation.errors import CurationError
from workflow_scripts.curation.load_pool import as_flag, as_text, canonicalise, check_columns, load_pool_frame
from workflow_scripts.curation.msc import MSC_FIRST_LEVEL, normalise_domain


def test_msc_table_and_domain_normalisation():
    assert len(MSC_FIRST_LEVEL) == 63 and MSC_FIRST_LEVEL["11"] == "Number theory"
    assert normalise_domain("11") == normalise_domain(11) == normalise_domain(" Number theory ") == "Number theory"
    assert normalise_domain("5") == "Combinatorics"
    assert normalise_domain("99") == "99"  # unknown codes stay visible, not merged elsewhere
    assert normalise_domain(None) is None and normalise_domain("  ") is None and normalise_domain(float("nan")) is None


def test_value_coercion():
    assert as_text(["part one", None, "part two"]) == "part one\npart two"
    assert as_text(np.array(["a", "b"], dtype=object)) == "a\nb"
    assert as_text([]) is None and as_text(None) is None and as_text(float("nan")) is None
    assert as_text({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    assert [as_flag(v) for v in (True, np.bool_(False), 1, 0, 1.0, "Yes", "no", "TRUE", None, "maybe", 2)] == \
        [True, False, True, False, True, True, False, True, None, None, None]


def test_check_columns_lists_every_missing_required_column():
    frame = pd.DataFrame({"question": ["q"], "attempt": ["a"]})
    mapping = {"question": "question", "thinking": "thinking_trajectories", "attempt": "attempt",
               "source_type": None, "domain": "domain", "qwen7b_correct": "isqwen7bcorrect",
               "qwen32b_correct": "isqwen32bcorrect", "trace_tokens": "thinking_length"}
    with pytest.raises(CurationError) as error:
        check_columns(frame, mapping)
    message = str(error.value)
    for part in ("thinking (mapped to 'thinking_trajectories')", "source_type (mapped to null)",
                 "domain (mapped to 'domain')", "qwen7b_correct", "qwen32b_correct", "Source columns: question, attempt"):
        assert part in message
    assert "trace_tokens" not in message  # derivable: not required
    with pytest.raises(CurationError, match="unknown canonical name"):
        check_columns(frame, {"question": "question", "answer": "x"})


def test_canonicalise_keeps_row_order_and_notes_absent_columns():
    frame = pd.DataFrame({"q": ["a", "b"], "t": [["x", "y"], "z"], "att": ["1", "2"], "src": ["s", "s"],
                          "dom": ["11", "Geometry"], "q7": [True, None], "q32": ["no", "yes"]})
    mapping = {"question": "q", "thinking": "t", "attempt": "att", "source_type": "src", "domain": "dom",
               "qwen7b_correct": "q7", "qwen32b_correct": "q32", "gemini_correct": "g", "trace_tokens": None}
    pool, absent = canonicalise(frame, mapping)
    assert pool["row_index"].tolist() == [0, 1]
    assert pool["thinking"].tolist() == ["x\ny", "z"]
    assert pool["domain"].tolist() == ["Number theory", "Geometry"]
    assert pool["qwen7b_correct"].tolist() == [True, None] and pool["qwen32b_correct"].tolist() == [False, True]
    assert pool["gemini_correct"].tolist() == [None, None] and pool["trace_tokens"].tolist() == [None, None]
    assert absent == {"solution": "absent (mapped to null)", "cot_type": "absent (mapped to null)",
                      "metadata": "absent (mapped to null)", "gemini_correct": "absent (config maps it to 'g')",
                      "trace_tokens": "absent (mapped to null)"}


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_local_pool_files_load_through_datasets(tmp_path, suffix):
    rows = [{"question": f"q{i}", "thinking_trajectories": [f"t{i}"], "isqwen7bcorrect": bool(i % 2)} for i in range(5)]
    path = tmp_path / f"pool.{suffix}"
    if suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pd.DataFrame(rows).to_parquet(path)
    frame = load_pool_frame(str(path))
    assert frame["question"].tolist() == [f"q{i}" for i in range(5)]
    assert [list(t) for t in frame["thinking_trajectories"]] == [[f"t{i}"] for i in range(5)]


def test_unknown_pool_source_is_a_clear_error(tmp_path):
    with pytest.raises(CurationError, match="no such file"):
        load_pool_frame(str(tmp_path / "missing.parquet"))


def test_saved_dataset_folders_load_too(tmp_path):
    from datasets import Dataset

    Dataset.from_dict({"question": ["a", "b"], "isqwen7bcorrect": [True, False]}).save_to_disk(str(tmp_path / "saved"))
    frame = load_pool_frame(str(tmp_path / "saved"))
    assert frame["question"].tolist() == ["a", "b"]


# --- bad pool files: a clear message naming file, line/row and column, never a library traceback ---

MAPPING = {"question": "question", "thinking": "thinking_trajectories", "attempt": "attempt", "source_type": "source_type",
           "domain": "domain", "qwen7b_correct": "isqwen7bcorrect", "qwen32b_correct": "isqwen32bcorrect",
           "trace_tokens": "thinking_length"}


def _rows(count: int = 3, **overrides) -> list[dict]:
    rows = [{"question": f"Question {i} about sums?", "thinking_trajectories": [f"think {i}"], "attempt": "7",
             "source_type": "AI-MO/NuminaMath-CoT/olympiads", "domain": "11", "isqwen7bcorrect": False,
             "isqwen32bcorrect": False, "thinking_length": 10 + i} for i in range(count)]
    for key, values in overrides.items():
        for row, value in zip(rows, values):
            row[key] = value
    return rows


def _load_error(path) -> str:
    with pytest.raises(CurationError) as error:
        load_pool_frame(str(path))
    return str(error.value)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty (0 bytes)"),
    (b"\n  \n", "holds no rows (only blank lines)"),
    (b'{"question": "a"}\n{"question": "b\xff\xfe"}\n', "line 2: not valid UTF-8 (byte 16 of the line, b'\\xff\\xfe"),
    (b'{"question": "a\\ud800b"}\n', "line 1, key 'question': a lone surrogate"),
    (b'{"question": "a"}\n\n{"question": "b"\n', "line 3: malformed JSON (Expecting ',' delimiter at column 17)"),
    (b'{"question": "a"}\n[1, 2]\n', "line 2: a JSON list, not an object"),
])
def test_bad_jsonl_pool_files_are_named_by_line(tmp_path, content, message):
    path = tmp_path / "pool.jsonl"
    path.write_bytes(content)
    text = _load_error(path)
    assert text.startswith(f"pool file {path}") and message in text
    assert "Traceback" not in text and "DatasetGenerationError" not in text


def test_empty_parquet_pool_files_are_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    assert _load_error(empty) == f"pool file {empty} is empty (0 bytes): no rows to curate"
    no_rows = tmp_path / "no_rows.parquet"
    pq.write_table(pa.table({"question": pa.array([], pa.string())}), no_rows)
    assert _load_error(no_rows) == f"pool file {no_rows} has no rows"


@pytest.mark.parametrize("column, values, message", [
    ("question", [1, 2, 3], "row 0 (counting from 0), column 'question' (pool.columns.question) holds int 1, not text"),
    ("question", ["ok", b"\xff", "ok"], "row 1 (counting from 0), column 'question' (pool.columns.question) holds bytes"),
    ("question", ["ok", "ok", "bad \ud800"], "row 2 (counting from 0), column 'question' (pool.columns.question) "
                                             "holds a lone surrogate"),
    ("thinking_trajectories", [["ok"], ["ok", 5], ["ok"]], "row 1 (counting from 0), column 'thinking_trajectories' "
                                                           "(pool.columns.thinking) holds int 5, not text"),
    ("thinking_length", [10, -5, 12], "row 1 (counting from 0), column 'thinking_length' (pool.columns.trace_tokens) "
                                      "holds -5, a negative token count"),
    ("thinking_length", [10.0, float("inf"), 12.0], "row 1 (counting from 0), column 'thinking_length' "
                                                     "(pool.columns.trace_tokens) holds inf, not a whole number"),
    ("thinking_length", [10.0, 11.5, 12.0], "holds 11.5, not a whole number of tokens"),
])
def test_bad_cells_are_named_by_row_and_column(column, values, message):
    frame = pd.DataFrame(_rows(3))
    frame[column] = pd.Series(values, dtype=object)
    with pytest.raises(CurationError) as error:
        canonicalise(frame, MAPPING, "pool p.parquet")
    assert str(error.value).startswith("pool p.parquet: ") and message in str(error.value)


def test_a_missing_count_is_derived_not_an_error():
    pool, _ = canonicalise(pd.DataFrame(_rows(3, thinking_length=[10.0, float("nan"), 12.0])), MAPPING)
    assert pool["trace_tokens"].tolist() == [10, None, 12]


def test_a_bad_pool_file_through_the_cli_is_one_line_without_traceback(tmp_path, repo_root, shared_data):
    import subprocess
    import sys

    from workflow_scripts.data import load_benchmark
    from workflow_scripts.io import write_jsonl

    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in _rows(3)) + '{"question": \n')
    evals = tmp_path / "aime24.jsonl"
    write_jsonl(evals, load_benchmark("aime24", str(shared_data / "aime24/aime24_nofigures.jsonl"), 42))
    done = subprocess.run([sys.executable, "-m", "workflow_scripts.curation", "--pool", str(pool), "--pool-settings",
                           json.dumps({"columns": MAPPING}), "--settings", "{}", "--eval-sets", str(evals),
                           "--out-dir", str(tmp_path / "out"), "--no-progress"], cwd=repo_root, capture_output=True,
                          text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr  # 2: a user error (workflow_scripts.errors)
    assert f"error: pool file {pool}, line 4: malformed JSON (Expecting value at column 14)" in done.stderr
