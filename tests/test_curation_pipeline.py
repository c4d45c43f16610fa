"""The whole curation on hand-built pools: every planted row dropped for its reason, counts add up,
byte-identical reruns, clear errors, derived trace lengths (real Qwen2.5 tokenizer) and Gemini labels."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

from workflow_scripts.config import ConfigError
from workflow_scripts.curation import CurationError, run_curation
from workflow_scripts.curation.decontaminate import contamination_words
from workflow_scripts.data import load_benchmark
from workflow_scripts.io import write_jsonl

COLUMNS = {"question": "question", "solution": "solution", "source_type": "source_type", "cot_type": "cot_type",
           "metadata": "metadata", "thinking": "thinking_trajectories", "attempt": "attempt", "domain": "domain",
           "qwen7b_correct": "isqwen7bcorrect", "qwen32b_correct": "isqwen32bcorrect",
           "gemini_correct": "isgenminicorrect", "trace_tokens": "thinking_length"}
SETTINGS = {"target_size": 8, "ngram": 8, "keep_all_sources": ["aime", "gpqa"], "long_trace_sources": ["openaimath"],
            "long_trace_min_tokens": 5600, "domain_sampling": "uniform", "benchmark_weighted_after": 700,
            "require_gemini_correct": True}
NUMINA = "AI-MO/NuminaMath-CoT/olympiads"


def _question(i: int) -> str:
    return f"Problem {i}: " + " ".join(f"word{i}x{j}" for j in range(14)) + "?"


def _row(i, **overrides):
    row = {"question": _question(i), "solution": "The answer is $\\boxed{7}$.", "cot_type": "math",
           "source_type": NUMINA, "metadata": "{'k': 1}", "thinking_trajectories": [f"Think {i}. So 7."],
           "attempt": "The answer is $\\boxed{7}$.", "domain": ["Number theory", "Combinatorics", "Geometry"][i % 3],
           "isqwen7bcorrect": False, "isqwen32bcorrect": False, "isgenminicorrect": True, "thinking_length": 100 + i}
    row.update(overrides)
    return row


@pytest.fixture(scope="module")
def eval_records(shared_data):
    sources = {"math500": "math500/test.jsonl", "aime24": "aime24/aime24_nofigures.jsonl", "gpqa": "gpqa/gpqa_diamond.csv"}
    return [r for b, s in sources.items() for r in load_benchmark(b, str(shared_data / s), 42)]


def planted_pool(eval_records):
    """Rows 0-15 are planted with an expected fate; 16-39 are clean fillers."""
    math_q = next(r["question"] for r in eval_records if r["benchmark"] == "math500" and len(r["question"].split()) > 12)
    rows = [
        _row(0, source_type="qq8933/AIME_1983_2024", thinking_length=30),
        _row(1, source_type="Idavidrein/gpqa", thinking_length=20),
        _row(2, thinking_trajectories=None),
        _row(3, attempt="  "),
        _row(4, thinking_trajectories=["Error: 429 Resource has been exhausted (e.g. check quota)."]),
        _row(5, isgenminicorrect=False),
        _row(6, question=_question(6) + "\n[asy]\ndraw((0,0)--(1,1));\n[/asy]"),
        _row(7, question=_question(7) + " See ![Image](http://x/y.png)."),
        _row(8, question="p3. " + _question(8)),
        _row(9, question=_question(9) + " Use **12** coins."),
        _row(10, question=_question(10) + "\n  A\n / \\\n/   \\\nB---C\n"),
        _row(11, question="As shown in the figure below, " + _question(11)),
        _row(12, question="  " + math_q.upper() + "  "),
        _row(13, question=_question(14).upper(), thinking_length=50),   # duplicate of 14 (shorter trace)
        _row(14, thinking_length=5000),
        _row(15, isqwen7bcorrect=True),
        _row(16, isqwen32bcorrect=True),
    ]
    rows += [_row(i) for i in range(17, 40)]
    return pd.DataFrame(rows)


EXPECTED = {2: "missing_field", 3: "missing_field", 4: "api_error", 5: "gemini_wrong", 6: "format_asy",
            7: "format_image", 8: "format_numbering", 9: "format_bold_numbers", 10: "format_ascii_art",
            11: "format_missing_figure", 12: "contaminated", 13: "duplicate", 15: "qwen_solved", 16: "qwen_solved"}


@pytest.fixture(scope="module")
def result(eval_records):
    return run_curation(planted_pool(eval_records), COLUMNS, SETTINGS, eval_records, progress=False)


def test_every_planted_row_is_dropped_for_its_reason(result):
    reasons = dict(zip(result.dropped["row_index"], result.dropped["reason"]))
    assert {i: reasons.get(i) for i in EXPECTED} == EXPECTED
    kept = set(result.curated["row_index"])
    assert {0, 1} <= kept  # AIME and GPQA are kept whatever the sampling
    assert 14 in kept or reasons[14] == "not_selected"
    dup = result.dropped.set_index("row_index").loc[13]
    assert (dup["cluster_id"], dup["cluster_representative"]) == (13, 14)
    contaminated = result.dropped.set_index("row_index").loc[12]
    assert contaminated["eval_benchmark"] == "math500" and contaminated["eval_id"].startswith("test/")


def test_counts_add_up_and_the_summary_explains_them(result):
    summary = result.summary
    assert summary["input_rows"] == 40 and summary["kept"] == 8 and summary["counts_add_up"]
    assert summary["kept"] + sum(summary["dropped_by_reason"].values()) == summary["input_rows"]
    assert summary["dropped_by_reason"]["not_selected"] == 40 - 8 - len(EXPECTED)
    assert summary["format_patterns"] == {"format_asy": 1, "format_image": 1, "format_numbering": 1,
                                          "format_bold_numbers": 1, "format_ascii_art": 1, "format_missing_figure": 1}
    left = [s["rows_left"] for s in summary["stages"]]
    assert left == [40, 37, 36, 30, 29, 28, 26, 8]
    assert all(s["rows_left"] + s["dropped"] == prev for s, prev in zip(summary["stages"][1:], left))
    assert summary["decontamination"]["eval_rows"] == {"aime24": 30, "gpqa": 198, "math500": 500}
    assert summary["domains"]["max_min_ratio"] == pytest.approx(max(summary["domains"]["final"].values())
                                                                / min(summary["domains"]["final"].values()))
    assert summary["derived_features"] == {} and summary["dedup"]["clusters"] == 1
    assert summary["warnings"] == [] and summary["target_size"] == 8


def test_contamination_evidence_names_the_eval_question_and_the_shared_grams(result, eval_records):
    decontamination = result.summary["decontamination"]
    assert decontamination["rule"] == "distinctive" and decontamination["min_eval_coverage"] == 0.7
    assert decontamination["flags_by_benchmark"] == {"aime24": 0, "gpqa": 0, "math500": 1}
    assert decontamination["coverage_histogram"]["flagged"]["0.9-1.0"] == 1
    assert sum(decontamination["coverage_histogram"]["flagged"].values()) == 1
    row = result.dropped.set_index("row_index").loc[12]
    original = next(r for r in eval_records if r["id"] == row["eval_id"])
    words = contamination_words(original["question"])
    assert row["match"] == "eval coverage" and row["eval_coverage"] == 1.0
    assert row["shared_span"] == " ".join(words) and row["shared_span_words"] == len(words)
    assert row["shared_ngrams"] == len(words) - 7 == len(row["shared_grams"])
    assert all(g["pool_rows"] == 1 and g["eval_rows"] == 1 and g["counted"] for g in row["shared_grams"])
    assert row["detail"].startswith("eval coverage (distinctive): covers 100% of math500 test/")


def test_s1_rule_is_selectable_and_named_in_the_summary(eval_records):
    settings = {**SETTINGS, "decontamination": {"rule": "any_8gram"}}
    result = run_curation(planted_pool(eval_records), COLUMNS, settings, eval_records, progress=False)
    assert result.summary["decontamination"]["rule"] == "any_8gram"
    assert dict(zip(result.dropped["row_index"], result.dropped["reason"]))[12] == "contaminated"


def test_a_short_curated_set_warns_and_fails_when_required(eval_records, capsys):
    settings = {**SETTINGS, "target_size": 30}
    result = run_curation(planted_pool(eval_records), COLUMNS, settings, eval_records, progress=False)
    message = "the curated set has 26 rows, fewer than curation.target_size 30"
    assert result.summary["kept"] == 26 and result.summary["warnings"][0].startswith(message)
    assert f"warning: {message}" in capsys.readouterr().out
    with pytest.raises(CurationError, match=f"{message}.*require_target_size is true"):
        run_curation(planted_pool(eval_records), COLUMNS, {**settings, "require_target_size": True}, eval_records,
                     progress=False)


def test_curated_rows_carry_provenance(result):
    curated = result.curated
    assert curated["draw_order"].tolist() == list(range(8))
    assert set(curated["keep_reason"]) <= {"keep_all_source", "long_trace", "domain_sample"}
    assert curated["thinking"].map(lambda t: isinstance(t, str)).all()  # list traces joined into one string
    assert not (curated["qwen7b_correct"] | curated["qwen32b_correct"]).any() and curated["gemini_correct"].all()


def _run_cli(repo_root, pool_path, eval_paths, out_dir, columns=COLUMNS, tokenizer=None):
    command = [sys.executable, "-m", "workflow_scripts.curation", "--pool", str(pool_path),
               "--pool-settings", json.dumps({"source": "x/y", "split": "train", "columns": columns}),
               "--settings", json.dumps(SETTINGS), "--eval-sets", *map(str, eval_paths),
               "--seed", "42", "--out-dir", str(out_dir), "--no-progress"]
    if tokenizer:
        command += ["--tokenizer", str(tokenizer)]
    return subprocess.run(command, cwd=repo_root, capture_output=True, text=True)


@pytest.fixture(scope="module")
def cli_inputs(eval_records, tmp_path_factory):
    work = tmp_path_factory.mktemp("curation_cli")
    pool_path = work / "pool.parquet"
    planted_pool(eval_records).to_parquet(pool_path)
    eval_paths = []
    for benchmark in ("math500", "aime24", "gpqa"):
        path = work / f"{benchmark}.jsonl"
        write_jsonl(path, [r for r in eval_records if r["benchmark"] == benchmark])
        eval_paths.append(path)
    return work, pool_path, eval_paths


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_runs_twice_with_byte_identical_outputs(cli_inputs, repo_root):
    work, pool_path, eval_paths = cli_inputs
    digests = []
    for run in ("a", "b"):
        done = _run_cli(repo_root, pool_path, eval_paths, work / run)
        assert done.returncode == 0, done.stderr[-2000:]
        out = work / run
        for plot in ("stages", "domains", "sources", "trace_lengths"):
            assert (out / "plots" / f"{plot}.png").stat().st_size > 5000
        digests.append({name: _digest(out / name) for name in ("curated.parquet", "dropped.parquet", "summary.json")})
    assert digests[0] == digests[1]
    table = pq.read_table(work / "a" / "curated.parquet")
    assert table.num_rows == 8 and table.schema.metadata is None  # no pandas metadata, no timestamps
    assert {"keep_reason", "domain_rank", "draw_order", "thinking", "trace_tokens"} <= set(table.column_names)
    dropped = pq.read_table(work / "a" / "dropped.parquet").to_pandas()
    assert len(dropped) == 32 and dropped["row_index"].is_monotonic_increasing


def test_missing_columns_stop_the_run_naming_them(cli_inputs, repo_root, eval_records):
    work, pool_path, eval_paths = cli_inputs
    columns = {**COLUMNS, "thinking": "reasoning", "domain": None}
    with pytest.raises(CurationError) as error:
        run_curation(planted_pool(eval_records), columns, SETTINGS, eval_records, progress=False)
    assert "thinking (mapped to 'reasoning')" in str(error.value) and "domain (mapped to null)" in str(error.value)
    done = _run_cli(repo_root, pool_path, eval_paths, work / "bad", columns=columns)
    assert done.returncode == 2 and "thinking (mapped to 'reasoning')" in done.stderr
    assert "Traceback" not in done.stderr


def test_trace_tokens_are_derived_with_the_real_qwen_tokenizer(eval_records, qwen_tokenizer, qwen_tokenizer_dir):
    pool = planted_pool(eval_records).drop(columns=["thinking_length"])
    pool["thinking_trajectories"] = [None if t is None else ["Let me compute 12 * 7 = 84.", " Wait, check: yes."]
                                     for t in pool["thinking_trajectories"]]
    result = run_curation(pool, COLUMNS, SETTINGS, eval_records, tokenizer_source=str(qwen_tokenizer_dir), progress=False)
    text = "Let me compute 12 * 7 = 84.\n Wait, check: yes."
    expected = len(qwen_tokenizer(text, add_special_tokens=False)["input_ids"])
    assert 10 < expected < 30
    assert set(result.curated["trace_tokens"]) == {expected}
    assert "trace_tokens" in result.summary["derived_features"]
    assert "absent" in result.summary["absent_columns"]["trace_tokens"]
    with pytest.raises(CurationError, match="no --tokenizer"):
        run_curation(pool, COLUMNS, SETTINGS, eval_records, progress=False)


def test_gemini_correctness_is_derived_by_the_project_grader(eval_records):
    pool = planted_pool(eval_records).drop(columns=["isgenminicorrect"])
    pool.loc[20, "attempt"] = "So the final answer is $\\boxed{8}$."   # wrong (gold 7)
    pool.loc[21, "attempt"] = "Thus $x = \\boxed{\\frac{14}{2}}$."       # equivalent to 7
    result = run_curation(pool, COLUMNS, SETTINGS, eval_records, progress=False)
    reasons = dict(zip(result.dropped["row_index"], result.dropped["reason"]))
    assert reasons[20] == "gemini_wrong" and reasons.get(21) != "gemini_wrong"
    assert "gemini_correct" in result.summary["derived_features"]


def test_an_empty_curated_set_fails_naming_the_stage_that_emptied_it(eval_records):
    pool = planted_pool(eval_records).head(6)
    pool["isqwen7bcorrect"] = True
    with pytest.raises(CurationError, match="curated set is empty: the difficulty stage removed every remaining row "
                                            r"\(2 rows reached it\)"):
        run_curation(pool, COLUMNS, SETTINGS, eval_records, progress=False)
    pool = planted_pool(eval_records).head(6).assign(question=lambda f: [eval_records[0]["question"]] * 6)
    with pytest.raises(CurationError, match="the decontamination stage removed every remaining row"):
        run_curation(pool, COLUMNS, SETTINGS, eval_records, progress=False)


@pytest.mark.parametrize("bad, message", [
    ({"ngram": "eight"}, "curation.ngram: 'eight' is not of type 'integer'"),
    ({"target_size": 0}, "curation.target_size: 0 is less than the minimum of 1"),
    ({"domain_sampling": "zipf"}, "curation.domain_sampling: 'zipf' is not one of"),
    ({"keep_all_source": ["aime"]}, "curation: unknown key(s) 'keep_all_source'"),
])
def test_bad_settings_are_named(eval_records, bad, message):
    with pytest.raises(ConfigError) as error:
        run_curation(planted_pool(eval_records), COLUMNS, {**SETTINGS, **bad}, eval_records, progress=False)
    assert message in str(error.value)


def test_duplicate_eval_ids_are_named(eval_records):
    twice = eval_records + [dict(eval_records[3], index=500, question="Another question entirely, same id.")]
    with pytest.raises(CurationError, match=f"eval set math500: id '{eval_records[3]['id']}' appears twice "
                                            r"\(rows 3 and 500 of data/eval/math500.jsonl\)"):
        run_curation(planted_pool(eval_records), COLUMNS, SETTINGS, twice, progress=False)
