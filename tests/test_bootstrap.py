"""Paired bootstrap over questions, on small tables whose intervals follow by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from test_analysis_records import run_samples, sample
from workflow_scripts.analysis.bootstrap import (
    NO_DETECTABLE_SCALING, PairedBootstrap, interval_verdict_or_blank, matched_budget_differences, pairwise_slopes,
    resample_counts,
)
from workflow_scripts.analysis.failures import detect_failures
from workflow_scripts.analysis.metrics import method_metrics, run_table


def test_resample_counts_draw_questions_with_replacement_from_seed_42():
    counts = resample_counts(5, resamples=1000)
    assert counts.shape == (1000, 5) and (counts.sum(axis=1) == 5).all()
    first_draw = np.random.default_rng(42).integers(0, 5, size=(1000, 5))[0]
    assert counts[0].tolist() == np.bincount(first_draw, minlength=5).tolist()
    assert (resample_counts(5, resamples=1000) == counts).all()  # seeded: the same every time
    # Each question is drawn 5 x 1/5 = 1 time on average.
    assert counts.mean(axis=0) == pytest.approx([1.0] * 5, abs=0.1)


def test_pairwise_slopes_by_hand():
    tokens = np.array([[100.0, 200.0, 400.0]])
    accuracy = np.array([[0.2, 0.4, 0.4]])
    # pairs: .2/100, .2/300, 0/200
    assert pairwise_slopes(tokens, accuracy)[0] == pytest.approx((0.002 + 0.2 / 300 + 0) / 3)
    # per doubling: x = log2 tokens, steps of 1, 2, 1 doublings: .2/1, .2/2, 0/1
    assert pairwise_slopes(tokens, accuracy, axis="log2")[0] == pytest.approx(0.1)
    # order does not matter, tied x are left out, one run has no slope
    assert pairwise_slopes(tokens[:, ::-1], accuracy[:, ::-1])[0] == pytest.approx((0.002 + 0.2 / 300) / 3)
    assert pairwise_slopes(np.array([[100.0, 100.0, 200.0]]), np.array([[0.1, 0.3, 0.5]]))[0] == pytest.approx(
        (0.4 / 100 + 0.2 / 100) / 2)
    assert np.isnan(pairwise_slopes(tokens[:, :1], accuracy[:, :1])[0])


def test_paired_difference_by_hand():
    # Four questions. A gets q0, q1 right; B gets q0, q1, q2 right: per question B - A is (0, 0, 1, 0).
    # Paired, a resample's difference is (draws of q2) / 4 with draws ~ Binomial(4, 1/4):
    # P(0) = .316, P(<= 2) = .949, P(<= 3) = .996, so the 95 % interval is [0, 0.75]. Unpaired
    # resampling would put mass below 0 (A's draws of q0/q1 do not match B's).
    a = run_samples([100] * 4, [True, True, False, False], setting="B100", budget=100)
    b = run_samples([100] * 4, [True, True, True, False], method="budget_forcing", setting="B100-n1", budget=100, n=1)
    boot = PairedBootstrap(pd.DataFrame(a + b))
    point, low, high, p_value = boot.difference(("sft", "math500", "truncation", "B100"),
                                                ("sft", "math500", "budget_forcing", "B100-n1"))
    assert point == pytest.approx(0.25)
    assert (low, high) == (0.0, 0.75)
    # No resample falls below 0; the share at exactly 0 (q2 never drawn) is (3/4)^4 = .316:
    # p = 2 (#(d <= 0) + 1) / (R + 1), #(d <= 0) ~ 3164 of 10,000 (the seeded draw's count).
    drawn_q2 = resample_counts(4)[:, 2]
    assert p_value == pytest.approx(2 * ((drawn_q2 == 0).sum() + 1) / 10_001)
    assert p_value == pytest.approx(2 * 0.316, abs=0.02)
    # A's own interval: accuracy = draws of {q0, q1} / 4 ~ Binomial(4, 1/2) / 4: [0, 1] at 95 %
    # (P(0) = P(4) = 1/16 > 2.5 %).
    assert boot.accuracy_interval(("sft", "math500", "truncation", "B100")) == (0.0, 1.0)
    differences = matched_budget_differences(boot, run_table(pd.DataFrame(a + b), boot))
    assert len(differences) == 1
    row = differences.iloc[0]
    assert (row["method_a"], row["method_b"], row["difference"]) == ("budget_forcing", "truncation", -0.25)
    assert (row["difference_low"], row["difference_high"]) == (-0.75, 0.0)
    assert row["verdict"] == "no detectable difference"  # the interval reaches 0


def test_samples_average_per_question_before_resampling():
    # k = 2 samples per question: q0 right in both, q1 in one, q2 in none -> scores 1, .5, 0.
    rows = [sample(id=f"q{q}", correct=c) | {"sample": s}
            for q, pair in enumerate([(True, True), (True, False), (False, False)]) for s, c in enumerate(pair)]
    samples = pd.DataFrame(rows)
    boot = PairedBootstrap(samples)
    table = boot.tables["math500"]
    assert table.scores[:, 0].tolist() == [1.0, 0.5, 0.0]
    assert table.accuracy.shape == (10_000, 1)
    # A resample's accuracy is the mean of three draws from {1, .5, 0}: at most 1, at least 0.
    assert table.accuracy.min() >= 0 and table.accuracy.max() <= 1
    assert table.accuracy.mean() == pytest.approx(0.5, abs=0.01)
    runs = run_table(samples, boot)
    assert runs["samples_per_question"].iloc[0] == 2 and runs["questions"].iloc[0] == 3
    assert runs["accuracy"].iloc[0] == pytest.approx(0.5)
    # sample 0: 2/3 right, sample 1: 1/3 -> sd (ddof 1) of (2/3, 1/3) = sqrt(2) / 6
    assert runs["accuracy_sample_sd"].iloc[0] == pytest.approx(2 ** 0.5 / 6)


def test_scaling_interval_and_verdict():
    # Every question's score never falls with the budget and tokens rise in every resample:
    # each resample's slope is >= 0, and > 0 unless no changing question was drawn.
    rising = (run_samples([100] * 10, [i < 2 for i in range(10)], setting="B100", budget=100)
              + run_samples([200] * 10, [i < 6 for i in range(10)], setting="B200", budget=200)
              + run_samples([400] * 10, [i < 9 for i in range(10)], setting="B400", budget=400))
    samples = pd.DataFrame(rising)
    boot = PairedBootstrap(samples)
    row = method_metrics(run_table(samples, boot), samples, boot=boot).iloc[0]
    assert 0 < row["scaling_ci_low"] <= row["scaling"] <= row["scaling_ci_high"]
    assert row["scaling_pp_per_1k_verdict"] == row["scaling_verdict"] == "rises"
    # Half the questions gain, half lose: the slope's interval holds zero.
    mixed = (run_samples([100] * 10, [i < 5 for i in range(10)], setting="B100", budget=100)
             + run_samples([400] * 10, [i >= 5 for i in range(10)], setting="B400", budget=400))
    samples = pd.DataFrame(mixed)
    runs = run_table(samples)
    metrics = method_metrics(runs, samples)
    row = metrics.iloc[0]
    assert row["scaling_ci_low"] < 0 < row["scaling_ci_high"]
    assert row["scaling_pp_per_1k_verdict"] == row["scaling_verdict"] == NO_DETECTABLE_SCALING
    # ... and the failure analysis lists it as such (the two-proportion "flat" rule agrees here).
    cases = detect_failures(runs, samples, metrics)
    assert list(cases["kind"]) == ["no_detectable_scaling", "accuracy_flat"]
    assert cases.iloc[0]["detail"].endswith(f"holds zero over 2 runs: {NO_DETECTABLE_SCALING}")
    assert interval_verdict_or_blank(-2.0, -1.0) == "falls" and interval_verdict_or_blank(float("nan"), 1.0) == ""


def test_a_run_missing_questions_is_averaged_over_the_ones_it_has():
    full = run_samples([100] * 4, [True, False, True, False], setting="B100", budget=100)
    partial = run_samples([200] * 2, [True, True], setting="B200", budget=200)  # q0, q1 only
    boot = PairedBootstrap(pd.DataFrame(full + partial))
    table = boot.tables["math500"]
    column = table.columns([("sft", "math500", "truncation", "B200")])[0]
    finite = table.accuracy[:, column][np.isfinite(table.accuracy[:, column])]
    assert (finite == 1.0).all()  # whenever q0 or q1 is drawn, B200 is right on it
    assert np.isnan(table.accuracy[:, column]).mean() == pytest.approx(0.5 ** 4, abs=0.01)  # neither drawn


def test_per_doubling_scaling_interval_and_verdict_by_hand():
    # Two runs at 100 and 400 tokens (two doublings) on four questions. A gets q0, q1 right, B
    # q0, q1, q2: per question B - A is (0, 0, 1, 0), so a resample's accuracy difference is
    # (draws of q2) / 4, 95 % interval [0, 0.75] (see test_paired_difference_by_hand). Tokens
    # are the same in every resample, so the slope per doubling is difference / 2 x 100 points:
    # point 0.25 / 2 x 100 = 12.5, interval [0, 37.5]; per token difference / 300: [0, 0.0025].
    # The interval reaches 0: "no detectable scaling" in both units.
    samples = pd.DataFrame(run_samples([100] * 4, [True, True, False, False], setting="B100", budget=100)
                           + run_samples([400] * 4, [True, True, True, False], setting="B400", budget=400))
    boot = PairedBootstrap(samples)
    row = method_metrics(run_table(samples, boot), samples, boot=boot).iloc[0]
    assert row["scaling_per_doubling"] == pytest.approx(12.5)
    assert (row["scaling_per_doubling_ci_low"], row["scaling_per_doubling_ci_high"]) == (
        pytest.approx(0.0), pytest.approx(37.5))
    assert (row["scaling_ci_low"], row["scaling_ci_high"]) == (pytest.approx(0.0), pytest.approx(0.0025))
    assert row["scaling_per_doubling_verdict"] == row["scaling_pp_per_1k_verdict"] == NO_DETECTABLE_SCALING
    # The least-squares slope of two runs is their pairwise slope: the same point and interval.
    assert (row["scaling_ls"], row["scaling_ls_ci_low"], row["scaling_ls_ci_high"]) == (
        pytest.approx(12.5), pytest.approx(0.0), pytest.approx(37.5))
    assert row["scaling_verdict"] == NO_DETECTABLE_SCALING
    # B right on every question, A on none: every resample rises by 1.0 over two doublings.
    samples = pd.DataFrame(run_samples([100] * 4, [False] * 4, setting="B100", budget=100)
                           + run_samples([400] * 4, [True] * 4, setting="B400", budget=400))
    row = method_metrics(run_table(samples), samples).iloc[0]
    assert (row["scaling_per_doubling_ci_low"], row["scaling_per_doubling_ci_high"]) == (
        pytest.approx(50.0), pytest.approx(50.0))
    assert row["scaling_per_doubling_verdict"] == "rises"
    # One run: no slope, no interval, no verdict.
    samples = pd.DataFrame(run_samples([100] * 4, [True] * 4, setting="B100", budget=100))
    row = method_metrics(run_table(samples), samples).iloc[0]
    assert math.isnan(row["scaling_per_doubling_ci_low"]) and row["scaling_per_doubling_verdict"] == ""
    assert row["scaling_verdict"] == "single run" and row["scaling_ls_undefined_resamples"] == 0
