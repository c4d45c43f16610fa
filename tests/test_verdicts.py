"""The robust Scaling, its one verdict everywhere, Budget Error on the brief's counts, exact
intervals, Holm, the chance line and the one-answer flag: small tables computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from test_analysis_records import run_samples
from workflow_scripts.analysis.bootstrap import (
    PairedBootstrap, holm_adjust, least_squares_slopes, matched_budget_differences, resample_counts,
)
from workflow_scripts.analysis.comparison import findings, table3
from workflow_scripts.analysis.failures import SCALING_FAILURE_KINDS, detect_failures
from workflow_scripts.analysis.metrics import (
    MetricsError, chance_table, clopper_pearson, least_squares_per_doubling, method_metrics, run_table,
)
from workflow_scripts.analysis.plots import VERDICT_MARKS, draw_methods
from workflow_scripts.analysis.verdicts import (
    FALLS, NO_COMPUTE_SPREAD, NO_DETECTABLE_SCALING, RISES, SCALING_VERDICTS, SINGLE_RUN, scaling_verdict,
)


def _metrics(rows, generation=None):
    samples = pd.DataFrame(rows)
    boot = PairedBootstrap(samples)
    runs = run_table(samples, boot)
    return samples, runs, method_metrics(runs, samples, generation, boot)


def test_least_squares_slope_on_three_runs_by_hand():
    # tokens 100, 200, 400 -> x = log2 = 6.64, 7.64, 8.64 (steps of one doubling); accuracy 10, 20, 40 %:
    # x - mean = -1, 0, 1; y - mean = -13.33, -3.33, 16.67 -> slope = (13.33 + 16.67) / 2 = 15 points per doubling.
    assert least_squares_per_doubling([100, 200, 400], [0.1, 0.2, 0.4]) == pytest.approx(15.0)
    # The brief's mean of pairwise slopes weighs the pairs equally: (10 + 30 / 2 + 20) / 3 = 15 here too, but two
    # runs 0.55 tokens apart dominate it while least squares weighs that pair by its squared distance.
    assert least_squares_per_doubling([117.0, 117.55, 400], [0.1, 0.3, 0.2]) == pytest.approx(
        np.polyfit(np.log2([117.0, 117.55, 400]), [10, 30, 20], 1)[0])
    # Undefined: one run, all runs tied, or only one run with a logarithm.
    assert math.isnan(least_squares_per_doubling([100], [0.5]))
    assert math.isnan(least_squares_per_doubling([100, 100, 100], [0.1, 0.5, 0.9]))
    assert math.isnan(least_squares_per_doubling([0, 100], [0.1, 0.5]))
    # Runs without a logarithm (0 tokens) are left out of their row, as in the pairwise per-doubling slope.
    rows = least_squares_slopes(np.array([[0.0, 100.0, 200.0, 400.0]]), np.array([[0.9, 0.1, 0.2, 0.4]]))
    assert rows[0] * 100 == pytest.approx(15.0)


def test_least_squares_interval_is_exact_when_every_resample_gives_one_slope():
    # Every question is right at 400 tokens only: every resample's accuracies are 0, 0, 1 at 100, 200, 400 tokens,
    # so its slope is (1 x 100 - (-1) x 0) / 2 ... = (x - 1) . (0, 0, 100) / 2 = 50 points per doubling, always.
    rows = (run_samples([100] * 5, [False] * 5, setting="B100", budget=100)
            + run_samples([200] * 5, [False] * 5, setting="B200", budget=200)
            + run_samples([400] * 5, [True] * 5, setting="B400", budget=400))
    _, _, metrics = _metrics(rows)
    row = metrics.iloc[0]
    assert (row["scaling_ls"], row["scaling_ls_ci_low"], row["scaling_ls_ci_high"]) == (
        pytest.approx(50.0), pytest.approx(50.0), pytest.approx(50.0))
    assert row["scaling_verdict"] == RISES and row["scaling_ls_undefined_resamples"] == 0
    assert row["compute_spread"] == 4.0


def test_least_squares_interval_matches_polyfit_on_the_same_resamples():
    rows = (run_samples([90, 100, 110, 100, 100, 95], [True, False, False, True, False, False], setting="B100",
                        budget=100)
            + run_samples([200, 180, 220, 210, 190, 200], [True, True, False, False, True, False], setting="B200",
                          budget=200)
            + run_samples([400, 380, 300, 420, 410, 390], [True, True, True, False, True, False], setting="B400",
                          budget=400))
    samples, runs, metrics = _metrics(rows)
    table = PairedBootstrap(samples).tables["math500"]
    x, y = np.log2(table.mean_tokens), table.accuracy * 100
    by_polyfit = np.array([np.polyfit(x[i], y[i], 1)[0] for i in range(len(x))])
    low, high = np.percentile(by_polyfit, [2.5, 97.5])
    row = metrics.iloc[0]
    assert (row["scaling_ls_ci_low"], row["scaling_ls_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    point = np.polyfit(np.log2(runs["compute_tokens_mean"]), runs["accuracy"] * 100, 1)[0]
    assert row["scaling_ls"] == pytest.approx(point)


def test_runs_a_few_tokens_apart_have_no_compute_spread():
    # Smoke sft/aime24 budget forcing: 117.0 and 117.55 mean tokens. The pairwise slope per doubling is huge
    # (20 points over log2(117.55 / 117) = 0.0068 doublings: ~2,950 points); the verdict is "no compute spread".
    rows = (run_samples([117] * 20, [i < 4 for i in range(20)], method="budget_forcing", setting="B128-n1",
                        budget=128, n=1)
            + run_samples([117] * 19 + [128], [i < 8 for i in range(20)], method="budget_forcing",
                          setting="B128-n2", budget=128, n=2))  # 117 + 11 / 20 = 117.55
    _, runs, metrics = _metrics(rows)
    row = metrics.iloc[0]
    assert row["compute_spread"] == pytest.approx(117.55 / 117)
    assert abs(row["scaling_per_doubling"]) > 1000
    assert row["scaling_verdict"] == NO_COMPUTE_SPREAD
    # No trend to measure: the least-squares Scaling is n/a, not a number of thousands of points.
    assert math.isnan(row["scaling_ls"]) and math.isnan(row["scaling_ls_ci_low"]) and math.isnan(row["scaling_ls_ci_high"])
    assert scaling_verdict(2, 1.0999, 5.0, 9.0) == NO_COMPUTE_SPREAD and scaling_verdict(2, 1.1, 5.0, 9.0) == RISES
    assert scaling_verdict(1, float("nan"), float("nan"), float("nan")) == SINGLE_RUN


def test_undefined_resamples_are_counted_not_dropped():
    # Two runs differ in tokens on q3 only (100 vs 200): a resample without q3 ties them, so its slope is
    # undefined. That happens in exactly the resamples that draw q3 zero times (about (3/4)^4 = 32 %).
    rows = (run_samples([100] * 4, [False, False, True, False], setting="B100", budget=100)
            + run_samples([100, 100, 100, 200], [True, False, True, True], setting="B200", budget=200))
    _, _, metrics = _metrics(rows)
    row = metrics.iloc[0]
    without_q3 = int((resample_counts(4)[:, 3] == 0).sum())
    assert 0.28 < without_q3 / 10_000 < 0.35
    assert row["scaling_ls_undefined_resamples"] == without_q3
    assert row["scaling_undefined_resamples"] == without_q3
    assert row["scaling_per_doubling_undefined_resamples"] == without_q3
    assert row["resamples"] == 10_000


def _verdict_world():
    """One method per verdict on math500: rises (truncation), falls (token-conditional), no detectable
    scaling (step-conditional), no compute spread (budget forcing), single run (class-conditional)."""
    rows = []
    for budget, right in ((16, 1), (32, 5), (64, 9)):
        rows += run_samples([budget] * 10, [i < right for i in range(10)], setting=f"B{budget}", budget=budget)
    for budget, right in ((32, 9), (128, 1)):
        rows += run_samples([budget] * 10, [i < right for i in range(10)], method="token_conditional",
                            setting=f"T{budget}", budget=budget)
    rows += run_samples([40] * 10, [i < 5 for i in range(10)], method="step_conditional", setting="S1", budget=40)
    rows += run_samples([160] * 10, [i >= 5 for i in range(10)], method="step_conditional", setting="S4", budget=160)
    rows += run_samples([64] * 10, [i < 3 for i in range(10)], method="budget_forcing", setting="B64-n1", budget=64,
                        n=1)
    rows += run_samples([66] * 10, [i < 6 for i in range(10)], method="budget_forcing", setting="B64-n2", budget=64,
                        n=2)
    rows += run_samples([50] * 10, [i < 4 for i in range(10)], method="class_conditional", setting="short",
                        budget=None)
    return rows


def test_table3_findings_failures_and_figure_agree_on_the_verdict():
    samples, runs, metrics = _metrics(_verdict_world())
    verdicts = dict(zip(metrics["method"], metrics["scaling_verdict"]))
    assert verdicts == {"truncation": RISES, "token_conditional": FALLS, "step_conditional": NO_DETECTABLE_SCALING,
                        "budget_forcing": NO_COMPUTE_SPREAD, "class_conditional": SINGLE_RUN}
    assert set(verdicts.values()) == set(SCALING_VERDICTS)
    # Table 3 and the findings carry the verdict itself; the findings text leads with it.
    by_label = {"truncation": RISES, "token-conditional": FALLS, "step-conditional": NO_DETECTABLE_SCALING,
                "budget forcing": NO_COMPUTE_SPREAD, "class-conditional": SINGLE_RUN}
    table = table3(metrics)["math500"]
    assert dict(zip(table["method"], table["verdict"])) == by_label
    found = findings(metrics)
    assert dict(zip(found["method"], found["verdict"])) == by_label
    words = {RISES: "scales: ", FALLS: "scales inversely: ", NO_DETECTABLE_SCALING: "no detectable scaling: ",
             NO_COMPUTE_SPREAD: "no compute spread: ", SINGLE_RUN: "single run: "}
    for verdict, text in zip(found["verdict"], found["where scaling fails"]):
        assert text.startswith(words[verdict]), text
    # failures.tsv: one scaling case per failing verdict, none for rises or single run.
    failures = detect_failures(runs, samples, metrics)
    scaling = failures[failures["kind"].isin(list(SCALING_FAILURE_KINDS.values()))]
    assert dict(zip(scaling["method"], scaling["kind"])) == {
        "token_conditional": "scaling_falls", "step_conditional": "no_detectable_scaling",
        "budget_forcing": "no_compute_spread"}
    # The figure: each bar of the Scaling panel carries its verdict's mark, a method without a slope "n/a".
    axis = draw_methods(runs, metrics).axes[1]
    marks = sorted(t.get_text() for t in axis.texts)
    assert marks == sorted([VERDICT_MARKS[RISES], VERDICT_MARKS[FALLS], VERDICT_MARKS[NO_DETECTABLE_SCALING],
                            f"{VERDICT_MARKS[NO_COMPUTE_SPREAD]} n/a", f"{VERDICT_MARKS[SINGLE_RUN]} n/a"])


def test_budget_error_on_the_brief_counts():
    ladder = {"truncation": {"budgets": [16, 32, "unbounded"]}}
    # Budget forcing at 16 (n = 1) and 32 (n = 1 and n = 2): only n = 1 counts, once per budget.
    rows = (run_samples([20, 20], [True, False], method="budget_forcing", setting="B16-n1", budget=16, n=1)
            + run_samples([24, 24], [True, False], method="budget_forcing", setting="B32-n1", budget=32, n=1)
            + run_samples([40, 40], [True, True], method="budget_forcing", setting="B32-n2", budget=32, n=2)
            + run_samples([90, 90], [True, True], method="budget_forcing", setting="Bunbounded-n1",
                          budget="unbounded", n=1))
    _, _, metrics = _metrics(rows, ladder)
    # (|20 - 16| / 16 + |24 - 32| / 32) / 2 = (0.25 + 0.25) / 2
    assert metrics.iloc[0]["budget_error"] == pytest.approx(0.25) and metrics.iloc[0]["budget_error_note"] == ""
    # A missing count: n/a, and the note names it.
    _, _, metrics = _metrics(rows[2:], ladder)
    assert math.isnan(metrics.iloc[0]["budget_error"]) and metrics.iloc[0]["budget_error_note"] == "no run at budget 16"
    # Class-conditional has no budget: n/a.
    _, _, metrics = _metrics(run_samples([20, 30], [True, False], method="class_conditional", setting="short",
                                         budget=None), ladder)
    assert math.isnan(metrics.iloc[0]["budget_error"]) and metrics.iloc[0]["budget_error_note"] == "no budget"
    # Two runs at one count with n <= 1 cannot both be the brief's run: a named error.
    twice = rows[:2] + run_samples([18, 18], [True, False], method="budget_forcing", setting="B16-x", budget=16, n=1)
    with pytest.raises(MetricsError, match="2 runs at budget 16 with n <= 1: B16-n1, B16-x"):
        _metrics(twice, ladder)


def test_exact_interval_at_zero_and_all_correct():
    # 0/4: [0, 1 - 0.025^(1/4)] = [0, 0.60236]; 4/4: [0.025^(1/4), 1] = [0.39764, 1].
    assert clopper_pearson(0, 4) == (0.0, pytest.approx(0.602364, abs=1e-6))
    assert clopper_pearson(4, 4) == (pytest.approx(0.397636, abs=1e-6), 1.0)
    with pytest.raises(ValueError, match="0/n and n/n only"):
        clopper_pearson(2, 4)
    rows = (run_samples([10] * 4, [False] * 4, setting="B16", budget=16)
            + run_samples([20] * 4, [True] * 4, setting="B32", budget=32)
            + run_samples([30] * 4, [True, False, True, False], setting="B64", budget=64))
    runs = run_table(pd.DataFrame(rows)).set_index("setting")
    assert (runs.loc["B16", "accuracy_ci_low"], runs.loc["B16", "accuracy_ci_high"]) == (
        0.0, pytest.approx(0.602364, abs=1e-6))
    assert runs.loc["B32", "accuracy_ci_low"] == pytest.approx(0.397636, abs=1e-6)
    assert list(runs["accuracy_ci_method"]) == ["clopper-pearson", "clopper-pearson", "bootstrap"]
    # k = 2 samples per question, all wrong: the questions (4), not the samples (8), are the trials.
    doubled = pd.DataFrame([{**s, "sample": j} for s in run_samples([10] * 4, [False] * 4) for j in (0, 1)])
    assert run_table(doubled)["accuracy_ci_high"].iloc[0] == pytest.approx(0.602364, abs=1e-6)


def test_holm_adjustment_by_hand():
    # m = 4: sorted .01, .03, .04, .5 -> 4 x .01 = .04, 3 x .03 = .09, 2 x .04 = .08 -> .09 (monotone), .5.
    assert holm_adjust([0.01, 0.04, 0.03, 0.5]).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    adjusted = holm_adjust([0.02, float("nan"), 0.6])  # nan stays out of the family: m = 2
    assert adjusted[0] == pytest.approx(0.04) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.6)


def test_paired_differences_carry_p_values_and_holm_verdicts():
    # B (budget forcing) right on all 10 questions, A (truncation) on none: every resample differs by +1,
    # p = 2 (0 + 1) / 10,001. C (token-conditional) equals A: p = 1. Family of 3 comparisons at budget 64.
    rows = (run_samples([64] * 10, [False] * 10, setting="B64", budget=64)
            + run_samples([64] * 10, [True] * 10, method="budget_forcing", setting="B64-n1", budget=64, n=1)
            + run_samples([64] * 10, [False] * 10, method="token_conditional", setting="T64", budget=64))
    samples = pd.DataFrame(rows)
    boot = PairedBootstrap(samples)
    table = matched_budget_differences(boot, run_table(samples, boot)).set_index(["method_a", "method_b"])
    strong = table.loc[("budget_forcing", "token_conditional")]  # a = budget forcing (sorted), b - a = -1
    assert strong["p_value"] == pytest.approx(2 / 10_001)
    assert strong["p_holm"] == pytest.approx(3 * 2 / 10_001)  # the smallest of m = 3, times 3
    assert strong["verdict"] == strong["holm_verdict"] == "budget_forcing better"
    tie = table.loc[("token_conditional", "truncation")]
    assert tie["p_value"] == 1.0 and tie["holm_verdict"] == "no detectable difference"
    assert len(table) == 3


def _answers(answers: list[str], golds: list[str], dataset: str = "gpqa", setting: str = "B16") -> list[dict]:
    rows = run_samples([10] * len(answers), [a == g for a, g in zip(answers, golds)], dataset=dataset,
                       setting=setting, budget=16)
    return [{**row, "extracted": answer, "gold": gold, "gold_letter": gold}
            for row, answer, gold in zip(rows, answers, golds)]


def test_chance_line_and_one_answer_flag_by_hand():
    golds = ["A", "B", "B", "C", "D"]
    rows = _answers(["B", "B", "B", "B", "A"], golds) + _answers(["B", "B", "C", "A", "D"], golds, setting="B32")
    samples = pd.DataFrame(rows)
    chance = chance_table(samples).iloc[0]
    assert (chance["dataset"], chance["questions"], chance["most_common_gold"]) == ("gpqa", 5, "B")
    assert chance["chance_accuracy"] == pytest.approx(0.4)
    assert chance["gold_distribution"] == "B:2 A:1 C:1 D:1"
    runs = run_table(samples).set_index("setting")
    # B16 answers "B" to 4 of 5 questions (>= 80 %): flagged; its accuracy 2/5 is the chance line.
    assert runs.loc["B16", "one_answer_share"] == pytest.approx(0.8) and runs.loc["B16", "one_answer"] == "B"
    assert bool(runs.loc["B16", "one_answer_flag"]) and runs.loc["B16", "accuracy"] == chance["chance_accuracy"]
    assert runs.loc["B32", "one_answer_share"] == pytest.approx(0.4) and not runs.loc["B32", "one_answer_flag"]
    assert (runs["chance_accuracy"] == 0.4).all()


def test_a_vote_run_has_no_one_answer_share():
    # Vote rows hold expectations over m-subsets (correct may be a fraction) and record no answer.
    rows = [{**row, "vote_size": 2, "extracted": None, "correct": credit}
            for row, credit in zip(run_samples([10] * 4, [True] * 4, method="parallel", setting="k4-m2",
                                               budget="unbounded"), [1.0, 0.5, 0.0, 1.0])]
    run = run_table(pd.DataFrame(rows)).iloc[0]
    assert math.isnan(run["one_answer_share"]) and run["one_answer"] == "" and not run["one_answer_flag"]
    assert run["accuracy"] == pytest.approx(2.5 / 4) and run["accuracy_ci_method"] == "bootstrap"
