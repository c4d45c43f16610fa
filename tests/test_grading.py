"""Graders: extraction rules, equivalence, parse failures, the CLI and shard records."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from workflow_scripts.grading import Grader, canonical_benchmark, grade_record, grade_response
from workflow_scripts.grading.aime_answers import extract_aime_answer, grade_aime
from workflow_scripts.grading.extraction import last_boxed, matching_braces, response_text, statements
from workflow_scripts.grading.gpqa_answers import extract_gpqa_letter, grade_gpqa
from workflow_scripts.grading.math_answers import (
    check_math, extract_math_answer, grade_math, math_verify_equivalent, math_verify_input, normalise_answer,
)


@pytest.fixture(scope="module")
def grader():
    with Grader() as shared:
        yield shared


# --- extraction ---------------------------------------------------------------------------

def test_last_boxed_takes_the_last_complete_box_with_nested_braces():
    text = r"first \boxed{1} then \boxed{\frac{1}{2}} and a cut one \boxed{3"
    assert last_boxed(text) == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{\left( 3, \frac{\pi}{2} \right)}.") == r"\left( 3, \frac{\pi}{2} \right)"
    assert last_boxed(r"so \boxed 7.") == "7"
    assert last_boxed(r"\fbox{12}") == "12"
    assert last_boxed("no box here") is None
    assert last_boxed(r"\boxed{}") is None


def test_matching_braces_skips_escaped_and_unclosed_braces():
    text = r"a{b\{c}d{e{f}g}{"  # braces at 1, 6, 8, 10, 12, 14, 15; the one at 4 is escaped
    assert matching_braces(text, [1, 8, 10, 15]) == {1: 6, 8: 14, 10: 12}


def test_statements_are_ordered_by_position_and_markers_carry_their_paragraph():
    found = statements("Answer: 3\nmore\n\nFinal Answer: $x=5$\n\nThanks. So the answer is 7.")
    assert [(s.kind, s.content) for s in found] == [
        ("colon", "3\nmore"), ("colon", "$x=5$"), ("phrase", "7")]  # a weak marker: its first sentence
    assert [s.content for s in statements("**Final Answer:** 12")] == ["12"]
    assert statements("nothing") == []
    # "check whether the answer is ..." asks, it does not state; "answer is not" asserts nothing.
    assert statements("Let me check whether the answer is 5. The answer is not 6.") == []
    # A marker inside a box belongs to the box.
    assert [s.kind for s in statements(r"\boxed{\text{Answer: 5}}")] == ["box"]
    # Lowercase "answer:" inside a sentence is weak; at a line start it is strong.
    assert [s.strong for s in statements("so the answer: 5\nanswer: 6")] == [False, True]


def test_response_text_restores_a_marker_that_ended_the_thinking():
    shard = {"id": "1", "answer_text": " 42", "full_text": "think think\nFinal Answer: 42"}
    assert response_text(shard) == "Final Answer:  42"
    # The engine's own record of the spliced text wins over full_text.
    engine_shard = {"id": "1", "answer_text": " 42", "full_text": "x",
                    "answer_prefix_text": "\n<|im_start|>answer\nFinal Answer:"}
    assert response_text(engine_shard) == "Final Answer:  42"
    # After the bare answer header (thinking ended by itself), a short answer is the answer...
    natural = {**engine_shard, "answer_prefix_text": "<|im_start|>answer\n"}
    assert response_text(natural) == "Answer: 42"
    # ...but a longer text is not turned into one, and boxed answers are left alone.
    long_answer = "First we note things.\n\nThen 42 follows."
    assert response_text({**natural, "answer_text": long_answer}) == long_answer
    assert response_text({**natural, "answer_text": r"so \boxed{42}"}) == r"so \boxed{42}"
    # No header at all (the base model's direct answers): the text as it is.
    assert response_text({**natural, "answer_prefix_text": ""}) == " 42"
    # No marker before the answer phase: the answer text alone.
    assert response_text({"id": "1", "answer_text": "so 42", "full_text": "think so 42"}) == "so 42"
    assert response_text({"id": "1", "response": "x"}) == "x"
    assert response_text({"id": "1", "answer_text": None}) == ""
    with pytest.raises(ValueError, match="neither 'response' nor 'answer_text'"):
        response_text({"id": "7", "text": "x"})
    with pytest.raises(ValueError, match="must be a string"):
        response_text({"id": "7", "response": 5})


# --- MATH -----------------------------------------------------------------------------------

def test_extract_math_answer_takes_the_last_statement():
    assert extract_math_answer(r"Answer: 4 but really \boxed{5}") == "5"
    assert extract_math_answer(r"\boxed{4}. On reflection, Final Answer: 5") == "5"
    assert extract_math_answer("The work.\nFinal Answer: $\\frac{3}{4}$") == "$\\frac{3}{4}$"
    assert extract_math_answer("I do not know") is None


def test_math_verify_input_keeps_prose_as_text():
    assert math_verify_input("x^2+1") == "$x^2+1$"
    assert math_verify_input("204 minutes") == "204 minutes"
    assert math_verify_input(r"\text{Evelyn}") == r"$\text{Evelyn}$"
    assert math_verify_input(r"$\frac{1}{2}$") == r"$\frac{1}{2}$"
    assert math_verify_input(r"\sqrt{2} + \pi") == r"$\sqrt{2} + \pi$"


def test_normalise_answer_cleans_latex_noise():
    assert normalise_answer(r"\text{Evelyn}") == "evelyn"
    assert normalise_answer(r"$\dfrac{1}{2}$.") == r"\frac{1}{2}"
    assert normalise_answer(r"\left( 3, \frac{\pi}{2} \right)") == r"(3,\frac{\pi}{2})"
    assert normalise_answer(r"90^\circ") == "90"
    assert normalise_answer(r"x = 5") == "5"
    assert normalise_answer(r"\frac12") == r"\frac{1}{2}"
    assert normalise_answer(r"\$18.90") == "18.90"
    assert normalise_answer(r"50\%") == "50"


@pytest.mark.parametrize(
    "response, gold, correct",
    [
        (r"so \boxed{\frac{1}{2}}", "0.5", True),
        (r"\boxed{0.5}", r"\frac{1}{2}", True),
        (r"\boxed{\dfrac{14}{3}}", r"\frac{14}{3}", True),
        (r"\boxed{(3, \pi/2)}", r"\left( 3, \frac{\pi}{2} \right)", True),
        (r"\boxed{x^2+2x+1}", r"(x+1)^2", True),
        (r"\boxed{\text{Evelyn}}", r"\text{Evelyn}", True),
        (r"Final Answer: The final answer is $6$. I hope it is correct.", "6", True),
        (r"\boxed{x \in [-2, 7]}", "[-2,7]", True),
        (r"\boxed{2, -2}", "-2, 2", True),
        (r"\boxed{1,000}", "1000", True),
        (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", True),
        (r"\boxed{0.333}", r"\frac{1}{3}", False),  # rounding is not equality
        (r"\boxed{7}", "6", False),
        (r"\boxed{\frac{1}{3}}", r"\frac{1}{2}", False),
        (r"\boxed{\text{Bob}}", r"\text{Evelyn}", False),
    ],
)
def test_grade_math_equivalence(response, gold, correct):
    grade = grade_math(response, gold)
    assert grade["correct"] is correct
    assert grade["parse_failed"] is False


def test_grade_math_unparsed_is_wrong_and_flagged():
    grade = grade_math("I think it is about five-ish", "5")
    assert grade == {"extracted": None, "correct": False, "parse_failed": True, "parse_reason": "no_answer",
                     "grade_method": "none", "answer_source": "none"}


# A big multinomial: sympy expands it for far longer than a second (measured: > 30 s).
STUCK = r"$(x+y+z+1)^{60}$"


def test_math_verify_timer_stops_a_stuck_check_and_the_string_comparison_decides():
    started = time.monotonic()
    assert math_verify_equivalent("1", STUCK, timeout_s=1) == ("timeout", False)
    assert time.monotonic() - started < 10
    verdict = check_math("1", STUCK[1:-1], timeout_s=1)
    assert (verdict.equivalent, verdict.method) == (False, "timeout+string")
    assert check_math(r"\frac{1}{2}", "0.5").equivalent  # math-verify still works afterwards


def test_record_deadline_cuts_a_record_and_the_grader_goes_on():
    with Grader(record_timeout_s=2, verify_timeout_s=60) as slow:
        assert slow.grade("math500", r"\boxed{2}", "2")["correct"]  # warm: math-verify imported
        started = time.monotonic()
        grade = slow.grade("math500", rf"\boxed{{{STUCK[1:-1]}}}", "1")
        assert time.monotonic() - started < 10
        assert grade["parse_failed"] and grade["parse_reason"] == "timeout" and not grade["correct"]
        assert slow.timeouts == 1
        assert slow.grade("aime24", r"\boxed{7}", "7")["correct"]  # the restarted worker answers
        assert slow.grade("math500", r"\boxed{0.5}", r"\frac{1}{2}")["correct"]


def test_grader_rejects_bad_timeouts():
    with pytest.raises(ValueError, match="record_timeout_s must be positive"):
        Grader(record_timeout_s=0)
    with pytest.raises(ValueError, match="verify_timeout_s must be positive"):
        Grader(verify_timeout_s=-1)


# --- AIME -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "response, value",
    [
        (r"\boxed{073}", 73),
        (r"\boxed{\textbf{(113) }}", 113),
        (r"\boxed{x = 25}", 25),
        (r"\boxed{1{,}000}", 1000),
        ("Final Answer: the walk takes 204 minutes.", 204),
        ("Answer: 3.5 hours, so 12", 12),
        (r"\boxed{33.0}", 33),
        ("Answer: 33 (after checking 2 cases)", 33),
        (r"\boxed{\frac{1}{2}}", None),
        ("no answer at all 17", None),
    ],
)
def test_extract_aime_answer(response, value):
    assert extract_aime_answer(response) == value


def test_grade_aime_compares_integers_and_flags_failures():
    assert grade_aime(r"\boxed{25}", "025") == {"extracted": "25", "correct": True, "parse_failed": False,
                                               "parse_reason": None, "grade_method": "integer",
                                               "answer_source": "box"}
    assert grade_aime(r"\boxed{25}", 25)["correct"] is True
    assert grade_aime(r"\boxed{26}", "025")["correct"] is False
    assert grade_aime(r"\boxed{1025}", "25")["correct"] is False  # out of range, never correct
    failed = grade_aime("no idea", "25")
    assert failed["parse_failed"] is True and failed["correct"] is False
    with pytest.raises(ValueError, match="integer in 0-999"):
        grade_aime(r"\boxed{1}", "1000")


# --- GPQA -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "response, letter, pattern",
    [
        ("Reasoning...\nAnswer: C", "C", "colon"),
        ("Answer: (B)", "B", "colon"),
        ("**Final Answer:** D", "D", "colon"),
        ("Answer: $\\text{A}$", "A", "colon"),
        (r"Thus \boxed{B}", "B", "box"),
        (r"\boxed{\text{(C)}}", "C", "box"),
        ("Therefore the correct answer is (D).", "D", "phrase"),
        ("So the answer is: A", "A", "phrase"),
        ("Answer: the correct option is C", "C", "phrase"),
        ("Answer: B) 102", "B", "colon"),
        ("After all this work\nB", "B", "final_line"),
        ("After all this work\n**C.**", "C", "final_line"),
        ("After all this work\n(D)", "D", "final_line"),
        # The last statement wins, by position: "Answer:" after a box replaces it.
        (r"\boxed{A} hmm. Answer: B. Wait. Answer: D", "D", "colon"),
        (r"Answer: A. Wait, no: \boxed{C}", "C", "box"),
    ],
)
def test_extract_gpqa_letter_formats(response, letter, pattern):
    assert extract_gpqa_letter(response) == (letter, pattern)


@pytest.mark.parametrize(
    "response",
    ["", "The answer is a bit unclear.", "Approximately 3 eV, so the Answer: Approximately", "A molecule forms.",
     # A letter merely discussed is no answer: the parenthesised fallback needs a standalone final line.
     "Option (A) fails, and (C) matches the data.", "Answer: A or B"],
)
def test_extract_gpqa_letter_never_defaults(response):
    assert extract_gpqa_letter(response) == (None, "none")


def test_grade_gpqa():
    assert grade_gpqa("Answer: B", "B")["correct"] is True
    assert grade_gpqa("Answer: B", "(c)")["correct"] is False
    failed = grade_gpqa("no letter here", "A")
    assert failed["parse_failed"] is True and failed["correct"] is False and failed["extracted"] is None
    with pytest.raises(ValueError, match="letter A-D"):
        grade_gpqa("Answer: A", "Paris")
    hedged = grade_gpqa("Answer: B or C", "B")
    assert (hedged["correct"], hedged["parse_failed"], hedged["parse_reason"]) == (False, True, "hedged")


# --- dispatcher and records -------------------------------------------------------------------

def test_grade_record_reads_generation_shard_fields(grader):
    shard_line = {
        "dataset": "gpqa", "id": "rec1", "answer_text": " C", "full_text": "thinking\nFinal Answer: C",
        "gold": "the choice text", "gold_letter": "C", "thinking_tokens": 12,
    }
    graded = grade_record("gpqa", shard_line, grader)
    assert graded["extracted"] == "C" and graded["correct"] is True and graded["parse_failed"] is False
    assert graded["thinking_tokens"] == 12  # the sample is kept whole
    math_line = {"id": "m1", "answer_text": r"so \boxed{\frac{2}{4}}", "full_text": "...", "gold": r"\frac12"}
    assert grade_record("math500", math_line, grader)["correct"] is True
    # The synthetic world's SFT model answers with the bare value after the answer header.
    for benchmark, text, gold in (("math500", "9", "9"), ("aime24", "9", "9"), ("gpqa", "C", "C")):
        line = {"id": "s", "answer_text": text, "answer_prefix_text": "<|im_start|>answer\n", "gold": gold,
                "gold_letter": gold if benchmark == "gpqa" else None}
        graded = grade_record(benchmark, line, grader)
        assert (graded["extracted"], graded["correct"], graded["parse_failed"]) == (gold, True, False), benchmark


def test_benchmark_names_accept_the_eval_set_names():
    assert [canonical_benchmark(n) for n in ("gpqa_diamond", "GPQA-Diamond", "math500", "MATH-500", "aime24",
                                              "aime25")] == ["gpqa", "gpqa", "math500", "math500", "aime24", "aime24"]
    assert grade_response("gpqa_diamond", "Answer: C", "C")["correct"] is True


@pytest.mark.parametrize(
    "benchmark, gold, message",
    [
        ("math500", [1, 2], "gold must be a string, got list"),
        ("math500", True, "gold must be a string, got bool"),
        ("math500", {"a": 1}, "gold must be a string, got dict"),
        ("math500", 5, "gold must be a string, got int"),
        ("aime24", 2.5, "gold must be a string or an integer, got float"),
        ("aime24", False, "gold must be a string or an integer, got bool"),
        ("aime24", "1000", "integer in 0-999"),
        ("gpqa", ["A"], "gold_letter must be a string, got list"),
    ],
)
def test_wrong_type_gold_is_an_error_naming_the_record(grader, benchmark, gold, message):
    key = "gold_letter" if benchmark == "gpqa" else "gold"
    with pytest.raises(ValueError, match=r"record 'r7'.*" + message):
        grade_record(benchmark, {"id": "r7", "response": r"\boxed{1}", key: gold}, grader)


def test_grade_record_errors_name_the_problem(grader):
    with pytest.raises(ValueError, match="unknown benchmark 'mmlu'"):
        grade_response("mmlu", "x", "y")
    with pytest.raises(ValueError, match="missing gold answer"):
        grade_record("aime24", {"id": "1", "response": r"\boxed{1}"}, grader)
    with pytest.raises(ValueError, match="without 'id'"):
        grade_record("aime24", {"response": r"\boxed{1}", "gold": "1"}, grader)


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "workflow_scripts.grading", *args],
                          capture_output=True, text=True, timeout=300)


def test_cli_grades_a_user_file(tmp_path):
    lines = [
        {"id": "a", "response": r"so \boxed{\frac{1}{2}}", "gold": "0.5"},
        {"id": "b", "response": "Final Answer: 7", "gold": "8"},
        {"id": "c", "response": "no idea", "gold": "1"},
    ]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = _run_cli("--benchmark", "math500", "--input", str(source), "--output", str(out))
    assert result.returncode == 0, result.stderr
    graded = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(g["id"], g["extracted"], g["correct"], g["parse_failed"]) for g in graded] == [
        ("a", r"\frac{1}{2}", True, False), ("b", "7", False, False), ("c", None, False, True)]
    assert "3 graded, 1 correct, 1 parse failures (no_answer: 1)" in result.stdout
    assert [g["parse_reason"] for g in graded] == [None, None, "no_answer"]
    # Same input, same bytes.
    again = tmp_path / "again.jsonl"
    assert _run_cli("--benchmark", "math500", "--input", str(source), "--output", str(again)).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_cli_reports_bad_input_clearly(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "response": "Answer: A", "gold": "Z"}) + "\n")
    result = _run_cli("--benchmark", "gpqa_diamond", "--input", str(source), "--output", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2
    assert "record 'a': GPQA gold must be a letter A-D" in result.stderr and "Traceback" not in result.stderr
    result = _run_cli("--benchmark", "mmlu", "--input", str(source), "--output", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2 and "unknown benchmark 'mmlu'" in result.stderr
    source.write_text("{not json\n")
    result = _run_cli("--benchmark", "gpqa", "--input", str(source), "--output", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2 and "not valid JSON" in result.stderr
