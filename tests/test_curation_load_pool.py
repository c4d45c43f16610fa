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
