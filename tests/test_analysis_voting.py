"""Parallel scaling after grading: nested majority votes over the first m of k samples, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from test_analysis_records import sample
from workflow_scripts.analysis.comparison import findings, table3
from workflow_scripts.analysis.metrics import method_metrics, run_table
from workflow_scripts.analysis.voting import VotingError, majority, vote_rows, with_votes
from workflow_scripts.methods.parallel import vote_sizes


def parallel_samples(question: str, answers: list[str | None], gold: str = "4", tokens=(10, 20, 30, 40)) -> list:
    """k samples of one question; None = the answer did not parse."""
    rows = []
    for index, (answer, count) in enumerate(zip(answers, tokens)):
        row = sample(id=question, method="parallel", setting=f"k{len(answers)}", budget="unbounded", tokens=count,
                     correct=answer == gold, parse_failed=answer is None)
        row.update({"extracted": answer, "sample": index})
        rows.append(row)
    return rows


def test_vote_sizes_double_up_to_k():
    assert vote_sizes(1) == [1] and vote_sizes(4) == [1, 2, 4] and vote_sizes(6) == [1, 2, 4, 6]


def test_majority_ties_go_to_the_first_answer_and_unparsed_abstain():
    assert majority(["5", "4", "4"]) == "4"
    assert majority(["5", "4"]) == "5"
    assert majority([None, "4"]) == "4" and majority([None, None]) is None


def test_nested_votes_by_hand():
    # q1: 5, 4, 4, 4 -> m1 wrong (5), m2 tie 5/4 -> first (5) wrong, m4: 4 wins (3 votes) -> correct.
    # q2: 4, 5, " 5", 5 -> m1 correct, m2 tie -> 4 correct, m4: "5" and " 5" vote together (3) -> wrong.
    # q3: None, 4, 6, 6 -> m1 abstains (wrong), m2: 4 correct, m4: 6 (2) vs 4 (1) -> wrong.
    samples = pd.DataFrame(parallel_samples("q1", ["5", "4", "4", "4"]) + parallel_samples("q2", ["4", "5", " 5", "5"])
                           + parallel_samples("q3", [None, "4", "6", "6"]))
    votes = vote_rows(samples).set_index(["id", "setting"])
    expected = {("q1", 1): False, ("q1", 2): False, ("q1", 4): True, ("q2", 1): True, ("q2", 2): True,
                ("q2", 4): False, ("q3", 1): False, ("q3", 2): True, ("q3", 4): False}
    assert {(q, int(s.split("-m")[1])): bool(v) for (q, s), v in votes["correct"].items()} == expected
    # cost of m samples = their total thinking tokens: m1 10, m2 30, m4 100
    assert votes.loc[("q1", "k4-m2"), "thinking_tokens"] == 30 and votes.loc[("q1", "k4-m4"), "thinking_tokens"] == 100
    assert bool(votes.loc[("q3", "k4-m1"), "parse_failed"])
    runs = run_table(with_votes(samples)).set_index("setting")
    assert list(runs.index) == ["k4-m1", "k4-m2", "k4-m4"]
    assert list(runs["accuracy"]) == [pytest.approx(1 / 3), pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert list(runs["samples"]) == [3, 3, 3]
    row = method_metrics(runs.reset_index(), with_votes(samples)).iloc[0]
    # points at 10, 30, 100 tokens: log2 steps log2(3), log2(10), log2(10/3)
    import math
    a, t = [1 / 3, 2 / 3, 1 / 3], [10, 30, 100]
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
