"""Grader audit on the real benchmarks in ../shared/data.

MATH500 and AIME24: every gold solution graded against its gold answer, and every gold
answer (MATH500, AIME24 and AIME25) written in the common final-answer formats. GPQA-Diamond:
the gold letter of each real question (choices shuffled with seed 42) written in many
response formats around the real choice texts.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys

import pytest

from workflow_scripts.grading import grade_response
from workflow_scripts.grading.audit import audit_solutions
from workflow_scripts.grading.gpqa_answers import grade_gpqa
from workflow_scripts.grading.worker import Grader
from workflow_scripts.io import read_jsonl


@pytest.fixture(scope="module")
def grader():
    with Grader() as shared:
        yield shared


def test_math500_gold_solutions_agree_with_gold_answers(shared_data, grader):
    audit = audit_solutions("math500", shared_data / "math500" / "test.jsonl", grader)
    assert audit["n"] == 500 and audit["without_solution"] == 0
    assert audit["agreement"] >= 0.99, audit["disagreements"]
    assert audit["agree"] == 500 - len(audit["disagreements"])
    # Measured on this data: all 500 agree, all through math-verify (no string fallback).
    assert audit["agree"] == 500
    assert audit["grade_methods"] == {"math_verify": 500}


def test_aime24_gold_solutions_agree_except_the_one_without_a_stated_answer(shared_data, grader):
    path = shared_data / "aime24" / "aime24_nofigures.jsonl"
    audit = audit_solutions("aime24", path, grader)
    assert audit["n"] == 30
    assert [d["id"] for d in audit["disagreements"]] == ["60"]
    # id 60's AoPS solution ends "$180 + 24 = 204$" and never boxes or labels its answer:
    # a parse failure, not a wrong integer.
    row = next(r for r in read_jsonl(path) if r["id"] == 60)
    assert "\\boxed" not in row["solution"] and "answer:" not in row["solution"].lower()
    assert audit["disagreements"][0]["parse_failed"] is True


def test_audit_cli_writes_the_table(shared_data, tmp_path):
    out = tmp_path / "audit.json"
    result = subprocess.run(
        [sys.executable, "-m", "workflow_scripts.grading.audit", "--aime24",
         str(shared_data / "aime24" / "aime24_nofigures.jsonl"), "--output", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    table = json.loads(out.read_text())
    assert table["aime24"]["agree"] == 29 and table["aime24"]["n"] == 30
    assert "aime24: 29/30" in result.stdout


MATH_FORMATS = ["\\boxed{{{gold}}}", "Final Answer: ${gold}$", "The answer is ${gold}$.",
                "**Final Answer**\n\n\\[\n\\boxed{{{gold}}}\n\\]"]
AIME_FORMATS = ["\\boxed{{{gold}}}", "\\boxed{{{gold:03d}}}", "Answer: {gold}", "The answer is {gold}.", "answer: {gold}.0",
                "Final Answer: the answer is $\\boxed{{{gold}}}$"]


def test_every_math500_gold_answer_is_read_in_the_common_formats(shared_data, grader):
    rows = read_jsonl(shared_data / "math500" / "test.jsonl")
    misses = [(row["unique_id"], template) for row in rows for template in MATH_FORMATS
              if not grade_response("math500", template.format(gold=row["answer"]), row["answer"], grader)["correct"]]
    assert len(rows) == 500 and misses == []


def test_every_aime_gold_answer_is_read_in_the_common_formats(shared_data, grader):
    rows = read_jsonl(shared_data / "aime24" / "aime24_nofigures.jsonl") + read_jsonl(
        shared_data / "aime25" / "aime25_nofigures.jsonl")
    misses = []
    for row in rows:
        gold = int(row["answer"])
        for template in AIME_FORMATS:
            right = grade_response("aime24", template.format(gold=gold), str(gold), grader)
            wrong = grade_response("aime24", template.format(gold=(gold + 1) % 1000), str(gold), grader)
            if not right["correct"] or wrong["correct"] or wrong["parse_failed"]:
                misses.append((row["id"], template))
    assert len(rows) == 60 and misses == []


RESPONSE_FORMATS = [
    "Comparing the options, {discussion}\nAnswer: {letter}",
    "{discussion}\n\n**Final Answer:** ({letter})",
    "{discussion} Therefore, \\boxed{{{letter}}}.",
    "{discussion} So the correct answer is ({letter}).",
    "{discussion} Hence the answer is {letter}.",
    "{discussion}\nI'm confident in this choice.\n{letter}",
    "{discussion} Final Answer: \\boxed{{\\text{{{letter}}}}}",
    "Answer: {letter}",
    "{discussion}\nAnswer: Option {letter}",
    "{discussion}\nAnswer: \\textbf{{{letter}}}",
    "{discussion}\nanswer: ({lower})",
    "{discussion} Options {others} are wrong, so the answer is {letter}.",
    "{discussion}\n\nFinal Answer: {letter}, since the other options contradict the data.",
]


def _gpqa_questions(shared_data):
    with open(shared_data / "gpqa" / "gpqa_diamond.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(42)
    questions = []
    for row in rows:
        choices = [row["Correct Answer"].strip()] + [row[f"Incorrect Answer {i}"].strip() for i in (1, 2, 3)]
        order = list(range(4))
        rng.shuffle(order)
        gold_letter = "ABCD"[order.index(0)]
        questions.append((row["Record ID"], [choices[i] for i in order], gold_letter))
    return questions


def _fill(template, discussion, letter):
    others = [x for x in "ABCD" if x != letter]
    return template.format(discussion=discussion, letter=letter, lower=letter.lower(),
                           others=f"{others[0]}, {others[1]} and {others[2]}")


def test_gpqa_letters_in_many_formats_on_real_questions(shared_data):
    questions = _gpqa_questions(shared_data)
    assert len(questions) == 198
    checked = 0
    for record_id, choices, gold in questions:
        # The discussion quotes the (real) choice texts, which contain stray letters and parentheses.
        discussion = " ".join(f"Option {'ABCD'[i]} says {text[:60]}." for i, text in enumerate(choices))
        wrong = "ABCD"[("ABCD".index(gold) + 1) % 4]
        for template in RESPONSE_FORMATS:
            right = grade_gpqa(_fill(template, discussion, gold), gold)
            assert right["correct"] and right["extracted"] == gold, (record_id, template)
            miss = grade_gpqa(_fill(template, discussion, wrong), gold)
            assert not miss["correct"] and miss["extracted"] == wrong, (record_id, template)
            checked += 2
    assert checked == 198 * len(RESPONSE_FORMATS) * 2
