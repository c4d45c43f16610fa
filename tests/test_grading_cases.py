"""The case table: answer texts in real formats, graded as a careful human grader would.

Each row is (benchmark, answer text, gold, correct, parse_reason): the verdict and the
reason expected under the final-answer rule of docs/grading.md. The formats are the ones
models (and the reference solutions) actually write: boxes, Minerva's "The final answer
is", markdown bold markers, lowercase markers, options, elimination sentences, hedges.
The test prints the number of disagreements per benchmark and asserts there are none.
"""

from __future__ import annotations

from collections import Counter

import pytest

from workflow_scripts.grading import Grader, grade_response

M, A, G = "math500", "aime24", "gpqa"
CASES = [
    # --- MATH500 ------------------------------------------------------------------------------
    (M, r"so \boxed{\frac{1}{2}}", "0.5", True, None),
    (M, "Answer: 4 or 3", "3", False, "hedged"),
    (M, "Answer: 7, since 3 + 4 = 7", "7", True, None),
    (M, "The answer is 3.", "3", True, None),
    (M, "\\boxed{5}. On reflection the first step was wrong.\n\nAnswer: 6", "5", False, None),
    (M, "\\boxed{5}. On reflection the first step was wrong.\n\nAnswer: 6", "6", True, None),
    (M, "Final Answer: The final answer is $6$. I hope it is correct.", "6", True, None),
    (M, "**Final Answer**\n\n\\[\n\\boxed{\\dfrac{14}{3}}\n\\]", r"\frac{14}{3}", True, None),
    (M, "Answer: the total is 204 minutes.", "204", True, None),
    (M, r"so $\boxed{4}$ or $\boxed{3}$", "3", False, "hedged"),
    (M, r"\boxed{4 \text{ or } 3}", "4", False, "hedged"),
    (M, r"Answer: either $\frac{1}{2}$ or $\frac{1}{3}$", r"\frac{1}{2}", False, "hedged"),
    (M, "So the answer is 4, or maybe 3.", "3", False, "hedged"),
    (M, r"Answer: $x = 2$ or $x = -2$", "-2, 2", True, None),
    (M, r"$d = \boxed{15\frac{39}{40}}$, or $\boxed{\frac{639}{40}}$ inches.", r"\frac{639}{40}", True, None),
    (M, "Answer: 3 or 3.0", "3", True, None),
    (M, "answer: 12", "12", True, None),
    (M, r"Answer: $\text{Evelyn}$", r"\text{Evelyn}", True, None),
    (M, "Answer: Evelyn, since she has the greatest average speed.", r"\text{Evelyn}", True, None),
    (M, r"The answer is $\boxed{(3, \frac{\pi}{2})}$.", r"\left( 3, \frac{\pi}{2} \right)", True, None),
    (M, "I could not finish the computation in time.", "5", False, "no_answer"),
    (M, r"Therefore the area is \boxed{5", "5", False, "no_answer"),
    (M, "Answer: 5 (after simplifying 10/2)", "5", True, None),
    (M, r"The value is \boxed{2}. Let me check whether the answer is 3: no.", "2", True, None),
    (M, r"Answer: \boxed{x^2+2x+1}", "(x+1)^2", True, None),
    (M, "Answer: 0.333", r"\frac{1}{3}", False, None),
    (M, "Final Answer: 33.0", "33", True, None),
    (M, r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", True, None),
    (M, r"Final Answer: $\boxed{5}$ since $2+3=5$", "5", True, None),
    (M, "The final answer is $10$. I hope it is correct.", "10", True, None),
    (M, "\\boxed{5}. The answer is reasonable because the area must be positive.", "5", True, None),
    (M, "The answer is Evelyn.", r"\text{Evelyn}", True, None),
    (M, "Answer: 5 is consistent with the area computed above.", "5", True, None),
    (M, "Final Answer: Let me compute once more... The result is $12$.", "12", True, None),
    # --- AIME24 -------------------------------------------------------------------------------
    (A, r"\boxed{073}", "73", True, None),
    (A, "Answer: 33 or 34", "34", False, "hedged"),
    (A, "Answer: 33 (after checking 2 cases)", "33", True, None),
    (A, "Answer: the remainder is 33 when N is divided by 1000", "33", True, None),
    (A, "The answer is 3.", "3", True, None),
    (A, r"\boxed{33.0}", "33", True, None),
    (A, "answer: 45", "45", True, None),
    (A, "\\boxed{12}\n\nWait, I made an arithmetic slip.\n\nFinal Answer: 13", "13", True, None),
    (A, "\\boxed{12}\n\nWait, I made an arithmetic slip.\n\nFinal Answer: 13", "12", False, None),
    (A, "Final Answer: the walk takes 204 minutes.", "204", True, None),
    (A, "Answer: 3.5 hours, so 12", "12", True, None),
    (A, r"\boxed{\frac{1}{2}}", "1", False, "unreadable"),
    (A, "no answer at all, maybe 17", "17", False, "no_answer"),
    (A, r"\boxed{33} or \boxed{34}", "33", False, "hedged"),
    (A, r"\boxed{x = 25}", "25", True, None),
    (A, "Answer: $m+n = 3 + 4 = 7$", "7", True, None),
    (A, "Final Answer: either 12 or 13", "12", False, "hedged"),
    (A, r"\boxed{\textbf{(113) }}", "113", True, None),
    (A, "Thus the answer is 25 (since the remainder repeats every 4 terms).", "25", True, None),
    (A, r"\boxed{1025}", "25", False, None),
    (A, "Answer: 7, since 3 + 4 = 7 and 7 < 10", "7", True, None),
    (A, "Final Answer: Let me recount the cases. There are 4 + 8 = 12 of them.", "12", True, None),
    # --- GPQA-Diamond -------------------------------------------------------------------------
    (G, "Answer: A or B", "A", False, "hedged"),
    (G, "A, B and D are wrong, so the answer is C", "C", True, None),
    (G, "Answer: A, B and D are wrong, so C", "C", True, None),
    (G, "Answer: Option B", "B", True, None),
    (G, r"Answer: \textbf{B}", "B", True, None),
    (G, "answer: b", "B", True, None),
    (G, "Option (A) fails, and (C) matches the data. I'm still checking (D)", "C", False, "no_answer"),
    (G, r"\boxed{A} is my first guess. Answer: D", "A", False, None),
    (G, r"\boxed{A} is my first guess. Answer: D", "D", True, None),
    (G, "Answer: C, since A and B fail", "C", True, None),
    (G, "Answer: A is not correct; C is.", "C", True, None),
    (G, "Answer: C is correct and A is wrong", "C", True, None),
    (G, "After all this work\nB", "B", True, None),
    (G, "After all this work\n(D)", "D", True, None),
    # The end of a list of the options (a degenerate base-model answer) is no choice.
    (G, "Solution:\n\nA) 1\nB) 3\nC) 5\nD) 7", "D", False, "no_answer"),
    (G, "Solution:\n\n02 2+2=4\n01 4+2=6\nA) 1\n03\nA) 1", "A", False, "no_answer"),
    (G, "The answer is (B).", "B", True, None),
    (G, "**Final Answer:** (D)", "D", True, None),
    (G, r"Final Answer: \boxed{\text{C}}", "C", True, None),
    (G, "Answer: either A or C", "A", False, "hedged"),
    (G, "Answer: A careful comparison shows C is right.", "C", True, None),
    (G, "The correct option is D.", "D", True, None),
    (G, "I think the answer is B, but the correct option is actually C.", "C", True, None),
    (G, "Answer: (b)", "B", True, None),
    (G, "Answer: B) 102", "B", True, None),
    (G, "Answer: The correct answer is A.", "A", True, None),
    (G, "A molecule forms when (B) is heated", "B", False, "no_answer"),
    (G, "Answer: C\n\nThe answer is consistent, since B would need more energy.", "C", True, None),
    (G, "Answer: (A) 2.5 eV, because (B) is too small", "A", True, None),
]


@pytest.fixture(scope="module")
def grader():
    with Grader() as shared:
        yield shared


def test_case_table_is_large_and_covers_every_benchmark():
    counts = Counter(case[0] for case in CASES)
    assert len(CASES) >= 60 and all(counts[b] >= 15 for b in (M, A, G)), counts
    # Each reason of the rule appears, and verdicts go both ways.
    assert {case[4] for case in CASES} == {None, "hedged", "no_answer", "unreadable"}
    assert {case[3] for case in CASES} == {True, False}


def test_case_table_grades_like_a_careful_human(grader, capsys):
    errors: dict[str, list] = {b: [] for b in (M, A, G)}
    for benchmark, text, gold, correct, reason in CASES:
        grade = grade_response(benchmark, text, gold, grader)
        if (grade["correct"], grade["parse_reason"]) != (correct, reason):
            errors[benchmark].append((text, gold, f"expected {correct}/{reason}",
                                      f"got {grade['correct']}/{grade['parse_reason']} ({grade['extracted']!r})"))
        # A hedge or a missing answer is a parse failure; a read answer is not.
        assert grade["parse_failed"] is (reason is not None)
    counts = Counter(case[0] for case in CASES)
    with capsys.disabled():
        print("\ncase table errors: " + ", ".join(f"{b} {len(errors[b])}/{counts[b]}" for b in errors))
    assert errors == {b: [] for b in errors}
