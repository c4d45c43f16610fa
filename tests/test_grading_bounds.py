"""Bounded time: pathological answers up to 2 MB grade within the record deadline.

Property checks with seeded random inputs (whitespace runs, brace soups, repeated lines,
random mixtures of markers, boxes and hedges). They assert the deadline bound only, and
that the grading finished by itself (no record needed the deadline's kill); speed numbers
live in benchmarks/grading_time.py and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import pytest

from workflow_scripts.grading import Grader, grade_record, grade_response
from workflow_scripts.grading.settings import GRADING_DEFAULTS
from workflow_scripts.grading.stress import brace_soup, random_mixture, repeated_lines, whitespace_run

GOLDS = {"math500": "5", "aime24": "33", "gpqa": "C"}
TWO_MB = 2_000_000
SLACK_S = 5.0  # sending 2 MB to the worker and back, on a loaded machine


@pytest.fixture(scope="module")
def grader():
    with Grader() as shared:  # the deadlines the workflow uses (schema defaults)
        yield shared


def _assert_bounded(grader, benchmark, text):
    started = time.monotonic()
    grade = grade_response(benchmark, text, GOLDS[benchmark], grader)
    elapsed = time.monotonic() - started
    assert elapsed <= grader.record_timeout_s + SLACK_S, (benchmark, len(text), elapsed)
    assert grade["parse_reason"] != "timeout", (benchmark, text[:80])
    return grade


def _two_mb_inputs(rng):
    return {
        "whitespace": whitespace_run(TWO_MB, rng.choice(["Answer:", "**Final Answer:**", "answer is"]), rng),
        "newlines": "Reasoning.\n" + "\n" * TWO_MB,
        "unclosed_boxes": "\\boxed{" * (TWO_MB // 7),
        "brace_soup": brace_soup(TWO_MB, rng),
        "repeated_hedges": repeated_lines(TWO_MB, "The answer is A or B, since A, B and D are wrong. "),
        "repeated_boxes": repeated_lines(TWO_MB, "\\boxed{5} or "),
        "repeated_weak_markers": repeated_lines(TWO_MB, "so the answer: x\n"),
        "mixture": random_mixture(TWO_MB, rng),
    }


@pytest.mark.parametrize("benchmark", sorted(GOLDS))
def test_two_megabyte_degenerate_answers_grade_within_the_deadline(grader, benchmark):
    assert grader.record_timeout_s == GRADING_DEFAULTS["record_timeout_s"]
    for name, text in _two_mb_inputs(random.Random(42)).items():
        assert len(text) >= TWO_MB - 20, name
        _assert_bounded(grader, benchmark, text)


@pytest.mark.parametrize("benchmark", sorted(GOLDS))
def test_random_mixtures_grade_within_the_deadline_and_never_credit_a_hedge(grader, benchmark):
    rng = random.Random(42)
    for _ in range(12):
        size = rng.choice([1_000, 10_000, 100_000])
        text = rng.choice([random_mixture, brace_soup])(size, rng)
        # A degenerate answer ending in a hedge between the gold and another value is never credited.
        other = {"math500": "6", "aime24": "34", "gpqa": "D"}[benchmark]
        hedged = _assert_bounded(grader, benchmark, f"{text}\n\nFinal Answer: {GOLDS[benchmark]} or {other}")
        assert not hedged["correct"] and hedged["parse_reason"] == "hedged"


def test_a_degenerate_shard_record_is_assembled_and_graded_within_the_deadline(grader):
    # The answer text is assembled with its spliced marker inside the worker, under the deadline.
    record = {"id": "s", "answer_text": " 33\n" + "\\boxed{" * (TWO_MB // 7), "gold": "33",
              "answer_prefix_text": "\n<|im_start|>answer\nFinal Answer:"}
    started = time.monotonic()
    graded = grade_record("aime24", record, grader)
    assert time.monotonic() - started <= grader.record_timeout_s + SLACK_S
    assert graded["correct"] and graded["answer_source"] == "colon"


def test_a_grading_job_with_degenerate_records_completes(tmp_path):
    lines = [
        {"id": "ok", "response": r"so \boxed{5}", "gold": "5"},
        {"id": "soup", "response": "\\boxed{" * 300_000, "gold": "5"},
        # sympy expands this for far longer than the deadline (measured: > 30 s)
        {"id": "stuck", "response": r"\boxed{(x+y+z+1)^{60}}", "gold": "1"},
        {"id": "after", "response": "The answer is 5.", "gold": "5"},
    ]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    settings = json.dumps({"record_timeout_s": 3, "verify_timeout_s": 60})
    result = subprocess.run([sys.executable, "-m", "workflow_scripts.grading", "--benchmark", "math500", "--input",
                             str(source), "--output", str(out), "--settings", settings],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    graded = {g["id"]: g for g in map(json.loads, out.read_text().splitlines())}
    assert list(graded) == ["ok", "soup", "stuck", "after"]
    assert graded["ok"]["correct"] and graded["after"]["correct"]
    assert graded["soup"]["parse_reason"] == "no_answer"
    assert graded["stuck"]["parse_reason"] == "timeout" and graded["stuck"]["parse_failed"]
    assert "4 graded, 2 correct, 2 parse failures (no_answer: 1, timeout: 1)" in result.stdout
