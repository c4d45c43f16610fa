"""Parallel scaling after grading: votes of m of k samples, clustered without the gold, by hand."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pandas as pd
import pytest

from test_analysis_records import sample
from workflow_scripts.analysis.comparison import findings, table3
from workflow_scripts.analysis.metrics import method_metrics, run_table
from workflow_scripts.analysis.voting import (
    VotingError, cluster_answers, equivalence, expected_vote_credit, vote_rows, with_votes,
)
from workflow_scripts.methods.parallel import vote_sizes


def parallel_samples(question: str, answers: list[str | None], gold: str = "4", tokens=(10, 20, 30, 40),
                     dataset: str = "math500", correct: list[bool] | None = None, capped=()) -> list:
    """k samples of one question; None = the answer did not parse; ``correct`` overrides the
    grade (by default: the answer is the gold string)."""
    rows = []
    for index, (answer, count) in enumerate(zip(answers, tokens)):
        right = correct[index] if correct is not None else answer == gold
        row = sample(dataset=dataset, id=question, method="parallel", setting=f"k{len(answers)}", budget="unbounded",
                     tokens=count, correct=right, parse_failed=answer is None, cap_hit=index in capped)
        row.update({"extracted": answer, "sample": index})
        rows.append(row)
    return rows


def votes_by_m(rows: list, column: str = "correct") -> dict[int, float]:
    votes = vote_rows(pd.DataFrame(rows))
    return dict(zip(votes["vote_size"], votes[column]))


def test_vote_sizes_double_up_to_k():
    assert vote_sizes(1) == [1] and vote_sizes(4) == [1, 2, 4] and vote_sizes(6) == [1, 2, 4, 6]


def test_three_samples_with_a_tie_by_hand():
    # [A, B, A], gold A. m=1: 2 of 3 samples right. m=2: {A,B} tie -> 1/2, {A,A} -> 1, {B,A} -> 1/2: mean 2/3.
    # m=3: A wins 2-1 -> 1. Gold B: m=1 1/3; m=2 1/2, 0, 1/2 -> 1/3; m=3 0.
    rows = parallel_samples("q", ["A", "B", "A"], gold="A", dataset="gpqa", tokens=(10, 20, 30))
    assert votes_by_m(rows) == pytest.approx({1: 2 / 3, 2: 2 / 3, 3: 1.0})
    rows = parallel_samples("q", ["A", "B", "A"], gold="B", dataset="gpqa", tokens=(10, 20, 30))
    assert votes_by_m(rows) == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 0.0})
    # the cost of m votes: the mean total of m samples (10, 20, 30 -> 20 a sample)
    assert votes_by_m(rows, "thinking_tokens") == {1: 20.0, 2: 40.0, 3: 60.0}


def test_expected_credit_equals_the_mean_over_every_subset():
    """Against a plain enumeration of all C(k, m) subsets (ties split, abstentions score 0)."""
    def enumerate_subsets(labels, correct, m):
        total = Fraction(0)
        subsets = list(itertools.combinations(labels, m))
        for subset in subsets:
            counts = {label: subset.count(label) for label in set(subset) if label is not None}
            if counts:
                best = max(counts.values())
                tied = [label for label, count in counts.items() if count == best]
                total += Fraction(sum(correct[label] for label in tied), len(tied))
        return total / len(subsets)

    for sizes, correct, abstaining in [([3, 2, 2, 1], [False, True, False, True], 2), ([1] * 6, [True] + [False] * 5, 0),
                                       ([4], [True], 3), ([2, 2], [True, True], 1)]:
        labels = [label for label, size in enumerate(sizes) for _ in range(size)] + [None] * abstaining
        for m in range(1, len(labels) + 1):
            assert expected_vote_credit(sizes, correct, abstaining, m) == pytest.approx(
                float(enumerate_subsets(labels, correct, m))), (sizes, m)
    with pytest.raises(VotingError, match="m=4"):
        expected_vote_credit([1, 2], [True, False], 0, 4)


def test_math_answers_cluster_by_math_verify_not_by_string():
    same = equivalence("math500")
    assert cluster_answers(["\\frac{1}{2}", "0.5", "3", "\\dfrac12", None], same) == [0, 0, 1, 0, None]
    # gold 3: the two spellings of the wrong 1/2 outvote it at m=3 (string votes would tie three ways: 1/3)
    rows = parallel_samples("q", ["0.5", "\\frac{1}{2}", "3"], gold="3", tokens=(10, 20, 30))
    assert votes_by_m(rows) == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 0.0})
    # gold 1/2, both spellings graded right: m=2 {a,b} 1, {a,c} 1/2, {b,c} 1/2 -> 2/3; m=3 the pair wins -> 1
    rows = parallel_samples("q", ["0.5", "\\frac{1}{2}", "3"], correct=[True, True, False], tokens=(10, 20, 30))
    assert votes_by_m(rows) == pytest.approx({1: 2 / 3, 2: 2 / 3, 3: 1.0})


def test_math_verify_between_answers_runs_under_the_grading_time_limit():
    # a limit no math-verify call can meet: the normalised strings decide, and they differ
    assert not equivalence("math500", verify_timeout_s=1e-6)("\\frac{1}{2}", "0.5")
    assert equivalence("math500", verify_timeout_s=1e-6)("\\frac{1}{2}", "\\dfrac{1}{2}")  # same string
    assert equivalence("math500")("\\frac{1}{2}", "0.5")


def test_aime_answers_cluster_as_integers_and_gpqa_as_letters():
    assert cluster_answers(["17", "017", "18", "17"], equivalence("aime24")) == [0, 0, 1, 0]
    assert cluster_answers(["B", "b", "C", None], equivalence("gpqa")) == [0, 0, 1, None]


def test_an_abstaining_sample_by_hand():
    # [A, unparsed, B], gold A. m=1: 1/3. m=2: {A,-} -> A 1, {A,B} tie 1/2, {-,B} 0 -> 1/2. m=3: tie -> 1/2.
    rows = parallel_samples("q", ["A", None, "B"], gold="A", dataset="gpqa", tokens=(10, 20, 30), capped=(2,))
    assert votes_by_m(rows) == pytest.approx({1: 1 / 3, 2: 1 / 2, 3: 1 / 2})
    assert votes_by_m(rows, "parse_failed") == pytest.approx({1: 1 / 3, 2: 0.0, 3: 0.0})  # all m abstain
    assert votes_by_m(rows, "cap_hit") == pytest.approx({1: 1 / 3, 2: 2 / 3, 3: 1.0})  # a subset holds the capped one
    everyone_abstains = parallel_samples("q", [None, None], gold="A", dataset="gpqa")
    assert votes_by_m(everyone_abstains) == {1: 0.0, 2: 0.0}
    assert votes_by_m(everyone_abstains, "parse_failed") == {1: 1.0, 2: 1.0}


def test_votes_by_hand_reach_the_runs_table():
    # gold 4. q1: 5,4,4,4 -> m1 3/4; m2: 3 pairs with the 5 tie (1/2), 3 pairs of 4s (1): 4.5/6 = 3/4; m4: 1.
    # q2: 4,5," 5",5 -> "5" and " 5" are one answer: m1 1/4; m2 3 x 1/2 / 6 = 1/4; m4: 0.
    # q3: unparsed,4,6,6 -> m1 1/4; m2 {-,4} 1, {4,6} x2 1/2, others 0: 2/6 = 1/3; m4: 6 wins, 0.
    samples = pd.DataFrame(parallel_samples("q1", ["5", "4", "4", "4"]) + parallel_samples("q2", ["4", "5", " 5", "5"])
                           + parallel_samples("q3", [None, "4", "6", "6"]))
    votes = vote_rows(samples).set_index(["id", "setting"])
    expected = {("q1", 1): 3 / 4, ("q1", 2): 3 / 4, ("q1", 4): 1.0, ("q2", 1): 1 / 4, ("q2", 2): 1 / 4,
                ("q2", 4): 0.0, ("q3", 1): 1 / 4, ("q3", 2): 1 / 3, ("q3", 4): 0.0}
    assert {(q, int(s.split("-m")[1])): v for (q, s), v in votes["correct"].items()} == pytest.approx(expected)
    # cost of m samples = m x the mean thinking tokens (25): m1 25, m2 50, m4 100
    assert votes.loc[("q1", "k4-m2"), "thinking_tokens"] == 50 and votes.loc[("q1", "k4-m4"), "thinking_tokens"] == 100
    assert votes.loc[("q3", "k4-m1"), "parse_failed"] == 1 / 4
    runs = run_table(with_votes(samples)).set_index("setting")
    assert list(runs.index) == ["k4-m1", "k4-m2", "k4-m4"]
    a = [5 / 12, 4 / 9, 1 / 3]
    assert list(runs["accuracy"]) == pytest.approx(a)
    assert list(runs["correct"]) == pytest.approx([3 * x for x in a])  # expected credits: fractions
    assert list(runs["samples"]) == [3, 3, 3]
    assert list(runs["compute_tokens_mean"]) == [25, 50, 100]
    row = method_metrics(runs.reset_index(), with_votes(samples)).iloc[0]
    # points at 25, 50, 100 tokens: log2 steps 1, 2, 1
    t = [25, 50, 100]
    slopes = [(a[j] - a[i]) / (math.log2(t[j]) - math.log2(t[i])) for i, j in ((0, 1), (0, 2), (1, 2))]
    assert row["scaling_per_doubling"] == pytest.approx(100 * sum(slopes) / 3)
    assert row["control_note"] == "no budget" and pd.isna(row["control_paper"])


def test_missing_sample_indices_are_named():
    rows = parallel_samples("q1", ["4", "4", "4", "4"])
    with pytest.raises(VotingError, match="q1: sample indices \\[0, 1, 3\\]"):
        vote_rows(pd.DataFrame(rows[:2] + rows[3:]))


def test_table3_and_findings_read_the_metrics():
    metrics = pd.DataFrame([
        {"model": "sft", "dataset": "aime24", "method": "rejection_sampling", "runs": 2, "control_paper": 0.9,
         "control_exceed": 0.0, "control_fits": 0.9, "scaling_per_doubling": -8.0, "max_accuracy": 0.5, "max_accuracy_setting": "B64",
         "scaling_ls": -8.0, "scaling_ls_ci_low": -12.0, "scaling_ls_ci_high": -3.0, "compute_spread": 2.0,
         "scaling_verdict": "falls"},
        {"model": "sft", "dataset": "aime24", "method": "truncation", "runs": 3, "control_paper": 1.0,
         "control_exceed": 0.0, "scaling_per_doubling": 12.0, "max_accuracy": 0.8, "max_accuracy_setting": "B128",
         "scaling_ls": 10.0, "scaling_ls_ci_low": 2.5, "scaling_ls_ci_high": 20.0, "compute_spread": 4.0,
         "scaling_verdict": "rises"},
        {"model": "sft", "dataset": "aime24", "method": "token_conditional", "runs": 2, "control_paper": 0.5,
         "control_exceed": 0.75, "scaling_per_doubling": 0.5, "max_accuracy": 0.4, "max_accuracy_setting": "T32",
         "scaling_ls": 0.5, "scaling_ls_ci_low": float("nan"), "scaling_ls_ci_high": float("nan"),
         "compute_spread": 1.05, "scaling_verdict": "no compute spread"},
    ])
    table = table3(metrics)["aime24"]
    assert list(table["method"]) == ["truncation", "token-conditional", "rejection sampling"]  # registry order
    assert list(table["Control (% of budgeted runs within budget)"]) == [100.0, 50.0, 90.0]
    assert list(table["Scaling (pp / doubling)"]) == [10.0, 0.5, -8.0]  # the least-squares slope
    assert list(table["pairwise Scaling (pp / doubling)"]) == [12.0, 0.5, -8.0]  # the brief's, beside it
    assert list(table["Scaling 95 % interval"]) == ["[2.5, 20.0]", "", "[-12.0, -3.0]"]
    assert list(table["verdict"]) == ["rises", "no compute spread", "falls"]
    verdicts = findings(metrics).set_index("method")["where scaling fails"]
    assert verdicts["rejection sampling"] == ("scales inversely: -8.0 points per doubling [-12.0, -3.0]; "
                                              "10 % of samples never fit (out of budget)")
    assert verdicts["token-conditional"].startswith("no compute spread: its runs' mean compute tokens differ by "
                                                    "x1.050 (< x1.10), no axis to scale along; instruction ignored: 75 %")
    assert verdicts["truncation"] == "scales: +10.0 points per doubling [2.5, 20.0]"
