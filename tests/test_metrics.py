"""Scaling metrics on small tables, each value computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from test_analysis_records import run_samples, sample, write_shards
from workflow_scripts.analysis.metrics import (
    MetricsError, budget_trend, load_graded, method_metrics, natural_stop_rows, run_table, scaling_slope, spearman,
)

GENERATION = {"truncation": {"budgets": [100, 200, 1000, "unbounded"]}}


def _frame(samples):
    return pd.DataFrame(samples)


@pytest.fixture
def truncation_samples():
    # B100: tokens 90, 100, 115 (one over budget + 10), 2 of 3 correct.
    # B200: tokens 150 x 3, 1 of 3 correct.  Bunbounded: tokens 400 x 3, 3 of 3 correct.
    return (run_samples([90, 100, 115], [True, False, True], setting="B100", budget=100)
            + run_samples([150, 150, 150], [True, False, False], setting="B200", budget=200)
            + run_samples([400, 400, 400], [True, True, True], setting="Bunbounded", budget="unbounded"))


def test_run_table_by_hand(truncation_samples):
    samples = _frame(truncation_samples)
    samples.loc[1, "parse_failed"] = True
    runs = run_table(samples).set_index("setting")
    b100 = runs.loc["B100"]
    assert b100["samples"] == 3 and b100["correct"] == 2
    assert b100["accuracy"] == pytest.approx(2 / 3)
    assert b100["thinking_tokens_mean"] == pytest.approx(305 / 3)
    assert b100["thinking_tokens_median"] == 100
    assert b100["exceed_share"] == pytest.approx(1 / 3)  # only 115 > 100 + 10
    assert b100["within_budget_share"] == pytest.approx(2 / 3)  # 90 and 100 <= 100
    assert b100["parse_failures"] == 1
    assert b100["budget"] == "100"
    assert runs.loc["Bunbounded", "budget"] == "unbounded"
    assert math.isnan(runs.loc["Bunbounded", "exceed_share"])
    assert list(runs.index) == ["B100", "B200", "Bunbounded"]


def test_run_table_labels_budgets_of_mixed_shards():
    # Integer budgets beside class-conditional None: pandas stores NaN, the label stays "".
    samples = _frame([sample(id="a", budget=100), sample(id="b", method="class_conditional", setting="short",
                                                         budget=None)])
    samples["budget"] = pd.to_numeric(samples["budget"])
    runs = run_table(samples).set_index("method")
    assert runs.loc["truncation", "budget"] == "100" and runs.loc["class_conditional", "budget"] == ""


def test_run_table_rejects_mixed_budgets():
    samples = _frame([sample(id="a", budget=100), sample(id="b", budget=200)])
    with pytest.raises(MetricsError, match="mixes budgets"):
        run_table(samples)


def test_scaling_slope_by_hand():
    # Pairs: (100,.2)->(200,.4): .002; (100,.2)->(400,.3): .1/300; (200,.4)->(400,.3): -.0005.
    slope, pairs, tied = scaling_slope([200, 100, 400], [0.4, 0.2, 0.3])
    assert slope == pytest.approx((0.002 + 0.1 / 300 - 0.0005) / 3)
    assert (pairs, tied) == (3, 0)
    slope, pairs, tied = scaling_slope([100, 100], [0.2, 0.5])
    assert math.isnan(slope) and (pairs, tied) == (0, 1)
    assert math.isnan(scaling_slope([100], [0.5])[0])


def test_method_metrics_truncation_by_hand(truncation_samples):
    samples = _frame(truncation_samples)
    runs = run_table(samples)
    row = method_metrics(runs, samples, GENERATION).iloc[0]
    assert row["runs"] == 3
    # control_exceed pools the 6 samples of B100 and B200: one (115) exceeds budget + 10.
    assert row["control_exceed"] == pytest.approx(1 / 6)
    # control_paper: B100's mean 101.67 > 100 (out), B200's mean 150 <= 200 (in).
    assert row["control_paper"] == pytest.approx(0.5)
    # budget_error on the config's counts 100, 200, 1000: no run at 1000 -> n/a, and the note says so
    assert math.isnan(row["budget_error"]) and row["budget_error_note"] == "no run at budget 1000"
    # on the counts 100 and 200: (|101.667 - 100| / 100 + |150 - 200| / 200) / 2
    row = method_metrics(runs, samples, {"truncation": {"budgets": [100, 200, "unbounded"]}}).iloc[0]
    assert row["budget_error"] == pytest.approx(((305 / 3 - 100) / 100 + 0.25) / 2) and row["budget_error_note"] == ""
    # scaling over (101.67, 2/3), (150, 1/3), (400, 1):
    t = [305 / 3, 150, 400]
    a = [2 / 3, 1 / 3, 1.0]
    expected = ((a[1] - a[0]) / (t[1] - t[0]) + (a[2] - a[0]) / (t[2] - t[0]) + (a[2] - a[1]) / (t[2] - t[1])) / 3
    assert row["scaling"] == pytest.approx(expected)
    assert row["scaling_pp_per_1k"] == pytest.approx(expected * 1e5)
    assert row["max_accuracy"] == 1.0 and row["max_accuracy_setting"] == "Bunbounded"


def test_method_metrics_class_conditional_rules():
    samples = _frame(run_samples([300, 300], [True, False], method="class_conditional", setting="short", budget=None)
                     + run_samples([900, 1100], [True, True], method="class_conditional", setting="long", budget=None))
    row = method_metrics(run_table(samples), samples, GENERATION).iloc[0]
    assert row["control_exceed"] == 0.5  # the brief's fixed value
    assert math.isnan(row["control_paper"])  # no budget to be within
    assert row["control_class_order"] == 1.0  # long (1000) thinks more than short (300)
    # No budget: Budget Error is n/a (it was short vs the smallest and long vs the largest budget).
    assert math.isnan(row["budget_error"]) and row["budget_error_note"] == "no budget"
    assert row["max_accuracy"] == 1.0 and row["max_accuracy_setting"] == "long"
    reversed_samples = samples.assign(setting=samples["setting"].map({"short": "long", "long": "short"}))
    assert method_metrics(run_table(reversed_samples), reversed_samples, GENERATION).iloc[0]["control_class_order"] == 0.0


def test_method_metrics_without_numeric_budget_says_so():
    samples = _frame(run_samples([400, 500], [True, False], setting="Bunbounded", budget="unbounded"))
    row = method_metrics(run_table(samples), samples, GENERATION).iloc[0]
    assert math.isnan(row["control_exceed"]) and math.isnan(row["budget_error"]) and math.isnan(row["scaling"])
    assert row["control_note"] == "no run with a numeric budget"


def test_spearman_and_budget_trend_by_hand():
    # ranks x 1..4, y 1, 2.5, 2.5, 4: rho = 4.5 / sqrt(5 * 4.5)
    assert spearman([16, 32, 64, 128], [0.1, 0.2, 0.2, 0.4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert math.isnan(spearman([1, 2], [0.5, 0.5]))
    rows = []
    for budget, correct in ((16, 1), (32, 2), (64, 2), (128, 4)):
        rows += run_samples([budget] * 4, [i < correct for i in range(4)], setting=f"B{budget}", budget=budget)
    rows += run_samples([300] * 4, [False] * 4, setting="Bunbounded", budget="unbounded")  # not a numeric budget
    rows += run_samples([20] * 4, [True, False, False, False], dataset="gpqa", setting="B16", budget=16)
    rows += run_samples([30] * 4, [False] * 4, dataset="gpqa", setting="B32", budget=32)
    trend = budget_trend(run_table(_frame(rows))).set_index("dataset")
    assert trend.loc["math500", "budgets"] == 4
    assert trend.loc["math500", "spearman"] == pytest.approx(4.5 / math.sqrt(22.5))
    assert (trend.loc["math500", "accuracy_first"], trend.loc["math500", "accuracy_last"]) == (0.25, 1.0)
    assert bool(trend.loc["math500", "rises"]) is True
    assert bool(trend.loc["gpqa", "rises"]) is False


def test_natural_stop_rows_by_hand():
    rows = [sample(id="a", reasons=["stop"]), sample(id="b", reasons=["length"], cap_hit=True),
            sample(id="c", reasons=["stop", "length"]),
            sample(id="d", method="budget_forcing", setting="B100-n1", n=1)]  # not truncation: left out
    table = natural_stop_rows(_frame(rows))
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["samples"], row["natural_stops"]) == (3, 2)
    assert row["share"] == pytest.approx(2 / 3)
    # Without round_finish_reasons the cap flag decides.
    frame = _frame([sample(id="a", cap_hit=True), sample(id="b")]).drop(columns=["round_finish_reasons"])
    assert natural_stop_rows(frame).iloc[0]["natural_stops"] == 1


def test_load_graded_names_file_and_missing_field(tmp_path):
    good = write_shards(tmp_path, [sample(id="a")])
    frame = load_graded(good, relative_to=tmp_path)
    assert frame.loc[0, "shard"] == "graded/sft/truncation/B100/math500.jsonl"
    assert "thinking_token_ids" not in frame and "thinking_text" not in frame
    assert "thinking_text" in load_graded(good, keep_text=True)
    broken = tmp_path / "broken.jsonl"
    record = sample(id="a")
    del record["correct"]
    broken.write_text(pd.Series([record]).map(lambda r: __import__("json").dumps(r)).iloc[0] + "\n")
    with pytest.raises(MetricsError, match=r"broken.jsonl: line 1 lacks correct"):
        load_graded([broken])
    with pytest.raises(MetricsError, match="no graded shards"):
        load_graded([])
    odd = tmp_path / "odd.jsonl"
    odd.write_text(__import__("json").dumps(sample(id="a", prompt_format="chat")) + "\n")
    with pytest.raises(MetricsError, match=r"odd.jsonl: line 1: prompt_format must be one of \['direct', 'think'\]"):
        load_graded([odd])


def test_direct_answer_run_uses_response_tokens_against_the_response_cap_by_hand():
    # The base model answers directly: thinking_tokens are 0, the budget caps the whole response.
    # B256: responses of 256, 256 (capped), 200 tokens, 1 of 3 correct. B512: 246, 384, 512, 2 of 3.
    samples = _frame(run_samples([256, 256, 200], [False, False, True], model="base", setting="B256", budget=256)
                     + run_samples([246, 384, 512], [True, True, False], model="base", setting="B512", budget=512))
    assert (samples["thinking_tokens"] == 0).all() and set(samples["prompt_format"]) == {"direct"}
    runs = run_table(samples).set_index("setting")
    assert runs.loc["B256", "compute"] == "response"
    assert runs.loc["B256", "compute_tokens_mean"] == pytest.approx(712 / 3)
    assert runs.loc["B512", "compute_tokens_median"] == 384
    assert runs.loc["B256", "thinking_tokens_mean"] == 0  # stays as recorded
    assert runs.loc["B256", "within_budget_share"] == 1.0 and runs.loc["B512", "exceed_share"] == 0.0
    row = method_metrics(run_table(samples), samples, {"truncation": {"budgets": [256, 512]}}).iloc[0]
    # No response exceeds its cap + 10; both run means lie within their caps.
    assert row["control_exceed"] == 0.0 and row["control_paper"] == 1.0
    # budget error: (|712/3 - 256| / 256 + |1142/3 - 512| / 512) / 2 = (0.072917 + 0.256510) / 2
    assert row["budget_error"] == pytest.approx(0.164714, abs=1e-6)
    # one pair: (2/3 - 1/3) / (1142/3 - 712/3) = (1/3) / (430/3) = 1/430
    assert row["scaling"] == pytest.approx(1 / 430) and (row["scaling_pairs"], row["scaling_pairs_tied"]) == (1, 0)
    assert (row["compute_tokens_min"], row["compute_tokens_max"]) == (pytest.approx(712 / 3), pytest.approx(1142 / 3))
    assert row["max_accuracy_setting"] == "B512"
    assert row["control_note"] == "direct answers: response tokens against the response cap"


def test_best_setting_ties_go_to_fewer_compute_tokens():
    # Equal accuracy; "B1000" sorts before "B500" as text, and thinking tokens are 0 for both.
    samples = _frame(run_samples([900, 1000], [True, False], model="base", setting="B1000", budget=1000)
                     + run_samples([400, 500], [True, False], model="base", setting="B500", budget=500))
    row = method_metrics(run_table(samples), samples, GENERATION).iloc[0]
    assert row["max_accuracy"] == 0.5 and row["max_accuracy_setting"] == "B500"


def test_a_run_mixing_prompt_formats_is_an_error():
    samples = _frame([sample(id="a"), sample(id="b", prompt_format="direct")])
    with pytest.raises(MetricsError, match="mixes prompt formats"):
        run_table(samples)




def test_scaling_slope_in_both_units_by_hand():
    # tokens 100, 200, 400 with accuracies .2, .4, .3.
    # linear: (.4-.2)/100 = .002, (.3-.2)/300, (.3-.4)/200 = -.0005 -> mean per token.
    # log2: log2 200 - log2 100 = 1 and log2 400 - log2 100 = 2, so per doubling:
    #       (.4-.2)/1 = .2, (.3-.2)/2 = .05, (.3-.4)/1 = -.1 -> mean .05 (5 points per doubling).
    tokens, accuracies = [200, 100, 400], [0.4, 0.2, 0.3]
    assert scaling_slope(tokens, accuracies, axis="linear")[0] == pytest.approx((0.002 + 0.1 / 300 - 0.0005) / 3)
    assert scaling_slope(tokens, accuracies, axis="log2") == (pytest.approx(0.05), 3, 0)
    # The same accuracies at 4x the tokens: per doubling unchanged, per token a quarter.
    assert scaling_slope([4 * t for t in tokens], accuracies, axis="log2")[0] == pytest.approx(0.05)
    assert scaling_slope([4 * t for t in tokens], accuracies)[0] == pytest.approx((0.002 + 0.1 / 300 - 0.0005) / 12)
    # A run with 0 thinking tokens has no logarithm: left out of log2 only.
    assert scaling_slope([0, 100, 200], [0.0, 0.2, 0.4], axis="log2") == (pytest.approx(0.2), 1, 0)
    assert scaling_slope([0, 100, 200], [0.0, 0.2, 0.4])[1] == 3
    with pytest.raises(ValueError, match="axis"):
        scaling_slope(tokens, accuracies, axis="log10")


def test_metrics_tsv_has_points_per_doubling_beside_the_per_token_figure():
    # Runs at 50, 100, 200 mean tokens; accuracies 1/4, 2/4, 4/4.
    # per doubling: (.25/1 + .75/2 + .5/1) / 3 = .375 -> 37.5 points; per token: (.25/50 + .75/150 + .5/100) / 3.
    rows = []
    for budget, correct in ((50, 1), (100, 2), (200, 4)):
        rows += run_samples([budget] * 4, [i < correct for i in range(4)], setting=f"B{budget}", budget=budget)
    samples = _frame(rows)
    row = method_metrics(run_table(samples), samples, GENERATION).iloc[0]
    assert row["scaling_per_doubling"] == pytest.approx(37.5)
    assert row["scaling"] == pytest.approx((0.25 / 50 + 0.75 / 150 + 0.5 / 100) / 3)


def test_rejection_sampling_control_is_the_share_that_fits():
    # B64: 3 of 4 fit (one never fit: 65 tokens after 4 tries); B128: 4 of 4 fit. Pooled: 7/8 fit.
    rows = [{**s, "tries": t, "fits": f} for s, t, f in zip(
        run_samples([40, 60, 64, 65], [True, True, False, False], method="rejection_sampling", setting="B64",
                    budget=64), [1, 2, 1, 4], [True, True, True, False])]
    rows += [{**s, "tries": 1, "fits": True} for s in run_samples([100, 90, 80, 120], [True] * 4,
                                                                   method="rejection_sampling", setting="B128",
                                                                   budget=128)]
    samples = _frame(rows)
    runs = run_table(samples).set_index("setting")
    assert runs.loc["B64", "tries_mean"] == pytest.approx(2.0) and runs.loc["B64", "fits_share"] == 0.75
    assert math.isnan(runs.loc["B64", "steps_used_mean"])
    row = method_metrics(runs.reset_index(), samples, {"truncation": {"budgets": [64, 128]}}).iloc[0]
    assert row["control_fits"] == pytest.approx(7 / 8)  # its own column: the share that fit
    # control_exceed and control_paper keep their one definition: no sample exceeds B + 10 (the never-fitting
    # one stopped at 65 = B + 1), and both run means (57.25, 97.5) lie within their budgets.
    assert row["control_exceed"] == 0.0 and row["control_paper"] == 1.0
    # budget error as for any budgeted method: (|57.25 - 64| / 64 + |97.5 - 128| / 128) / 2
    assert row["budget_error"] == pytest.approx((abs(57.25 - 64) / 64 + abs(97.5 - 128) / 128) / 2)


def test_conditional_runs_use_the_instructed_budget():
    # "Think for up to 32 tokens." ignored: 60 and 70 tokens against N = 32 -> all exceed 32 + 10.
    samples = _frame(run_samples([60, 70], [True, False], method="token_conditional", setting="T32", budget=32)
                     + run_samples([30, 40], [False, True], method="token_conditional", setting="T128", budget=128))
    row = method_metrics(run_table(samples), samples, {"truncation": {"budgets": [32, 128]}}).iloc[0]
    assert row["control_exceed"] == pytest.approx(2 / 4)
    assert row["control_paper"] == pytest.approx(0.5)  # T32's mean 65 > 32, T128's 35 <= 128
    assert row["budget_error"] == pytest.approx((abs(65 - 32) / 32 + abs(35 - 128) / 128) / 2)
    # mean tokens 65 (acc .5) and 35 (acc .5): no change per doubling
    assert row["scaling_per_doubling"] == pytest.approx(0.0)


def test_repeated_samples_accuracy_is_the_mean_over_samples_with_its_spread_by_hand(tmp_path):
    # k = 3 samples of four questions. Sample 0 gets q0, q1, q2 right (3/4), sample 1 q0 (1/4),
    # sample 2 q0, q1 (2/4). Accuracy: 6 of 12 = .5 (= the mean of .75, .25, .5); the spread of
    # the three per-sample accuracies: sd (ddof 1) = sqrt((.25^2 + .25^2 + 0) / 2) = .25,
    # min .25, max .75.
    right = {0: ("q0", "q1", "q2"), 1: ("q0",), 2: ("q0", "q1")}
    rows = [sample(id=f"q{q}", correct=f"q{q}" in right[j]) | {"sample": j, "sample_seed": 1000 + j}
            for q in range(4) for j in range(3)]
    run = run_table(_frame(rows)).iloc[0]
    assert (run["questions"], run["samples_per_question"], run["samples"], run["correct"]) == (4, 3, 12, 6)
    assert run["accuracy"] == pytest.approx(0.5)
    assert run["accuracy_sample_sd"] == pytest.approx(0.25)
    assert (run["accuracy_sample_min"], run["accuracy_sample_max"]) == (0.25, 0.75)
    # k = 1 (no sample field, greedy): accuracy as before, no spread.
    greedy = [{k: v for k, v in s.items() if k != "sample"} for s in run_samples([100] * 4, [True, True, False, False])]
    run = run_table(load_graded(write_shards(tmp_path, greedy))).iloc[0]
    assert run["samples_per_question"] == 1 and run["accuracy"] == 0.5
    assert all(math.isnan(run[c]) for c in ("accuracy_sample_sd", "accuracy_sample_min", "accuracy_sample_max"))


def test_uneven_sample_counts_are_named():
    rows = [sample(id="q0") | {"sample": j} for j in range(3)] + [sample(id="q1") | {"sample": 0}]
    with pytest.raises(MetricsError, match="unequal sample counts, e.g. 'q1' has 1 of 3"):
        run_table(_frame(rows))
