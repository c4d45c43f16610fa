"""Failure detection: significance tests, forcing without tokens, loops after "Wait"."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from test_analysis_records import run_samples
from workflow_scripts.analysis.failures import (
    accuracy_cases, detect_failures, forcing_cases, is_loop, repeated_ngram_share, text_after_forcing,
    two_proportion_p,
)
from workflow_scripts.analysis.metrics import run_table


def _runs(*groups):
    return run_table(pd.DataFrame([s for g in groups for s in g]))


def test_two_proportion_p_by_hand():
    # 2/10 vs 8/10: pooled 0.5, sd sqrt(0.25 * 0.2), z = 0.6 / 0.2236 = 2.683, p = P(Z > 2.683)
    p = two_proportion_p(2, 10, 8, 10)
    assert p == pytest.approx(0.5 * math.erfc(0.6 / math.sqrt(0.05) / math.sqrt(2)))
    assert p == pytest.approx(0.003645, abs=2e-6)
    assert two_proportion_p(8, 10, 2, 10) == pytest.approx(1 - p)
    assert two_proportion_p(10, 10, 10, 10) == 1.0  # no variance, no gain
    assert math.isnan(two_proportion_p(0, 0, 1, 1))


def test_accuracy_drop_beyond_noise_is_flagged_and_small_dips_are_not():
    falling = _runs(run_samples([100] * 10, [i < 8 for i in range(10)], setting="B100", budget=100),
                    run_samples([200] * 10, [i < 2 for i in range(10)], setting="B200", budget=200))
    cases = accuracy_cases(falling)
    assert [c["kind"] for c in cases] == ["accuracy_drop"]  # the endpoints are this pair: one row
    drop = cases[0]
    assert (drop["from_setting"], drop["to_setting"]) == ("B100", "B200")
    assert drop["p_value"] == pytest.approx(two_proportion_p(2, 10, 8, 10))
    dip = _runs(run_samples([100] * 10, [i < 6 for i in range(10)], setting="B100", budget=100),
                run_samples([120] * 10, [i < 5 for i in range(10)], setting="B200", budget=200))
    # 6/10 -> 5/10 is noise; tokens grew only 20 %, so it is not "flat" either.
    assert accuracy_cases(dip) == []
    # Three runs: 8/10 -> 6/10 -> 3/10; no consecutive drop is significant (p = .16 and .09),
    # the endpoints' is (p = .012): one drop row for B100 -> B300.
    slide = _runs(run_samples([100] * 10, [i < 8 for i in range(10)], setting="B100", budget=100),
                  run_samples([150] * 10, [i < 6 for i in range(10)], setting="B200", budget=200),
                  run_samples([200] * 10, [i < 3 for i in range(10)], setting="B300", budget=300))
    cases = accuracy_cases(slide)
    assert [(c["kind"], c["from_setting"], c["to_setting"]) for c in cases] == [("accuracy_drop", "B100", "B300")]
    assert cases[0]["p_value"] == pytest.approx(two_proportion_p(3, 10, 8, 10))
    assert two_proportion_p(6, 10, 8, 10) > 0.05 and two_proportion_p(3, 10, 6, 10) > 0.05


def test_flat_accuracy_despite_more_tokens_is_flagged_and_a_real_gain_is_not():
    flat = _runs(run_samples([100] * 10, [i < 5 for i in range(10)], setting="B100", budget=100),
                 run_samples([300] * 10, [i < 6 for i in range(10)], setting="B400", budget=400))
    cases = accuracy_cases(flat)
    assert [c["kind"] for c in cases] == ["accuracy_flat"]
    # 5/10 -> 6/10: pooled 0.55, z = 0.1 / sqrt(0.2475 * 0.2) = 0.4495, p = 0.327
    assert cases[0]["p_value"] == pytest.approx(0.3265, abs=1e-3)
    rising = _runs(run_samples([100] * 10, [i < 1 for i in range(10)], setting="B100", budget=100),
                   run_samples([300] * 10, [i < 9 for i in range(10)], setting="B400", budget=400))
    assert accuracy_cases(rising) == []


def test_forcing_that_adds_no_tokens_is_flagged():
    truncation = run_samples([100, 101], [True, False], setting="B100", budget=100)
    forced_n1 = run_samples([101, 100], [True, False], method="budget_forcing", setting="B100-n1", budget=100, n=1)
    forced_n2 = run_samples([150, 150], [True, True], method="budget_forcing", setting="B100-n2", budget=100, n=2,
                            waits=1)
    cases = forcing_cases(_runs(truncation, forced_n1, forced_n2))
    # n1 vs truncation: +0 tokens (< 1 %): flagged. n2 vs n1: +49.5 tokens: fine.
    assert [(c["from_setting"], c["to_setting"]) for c in cases] == [("B100", "B100-n1")]
    assert cases[0]["kind"] == "forcing_adds_no_tokens" and "+0.0 tokens" in cases[0]["detail"]


def test_repeated_ngram_share_by_hand():
    # 8 words give 5 word 4-grams alternating (a b a b), (b a b a): 2 unique, 3 repeats.
    share, grams = repeated_ngram_share("a b a b a b a b")
    assert (grams, share) == (5, pytest.approx(3 / 5))
    assert repeated_ngram_share("one two three") == (0.0, 0)
    assert text_after_forcing("think. Wait more", "Wait") == " more"
    assert text_after_forcing("no forcing here", "Wait") == ""


def test_loop_after_wait_is_detected_only_after_the_forcing_string():
    loop = "Let me add. Wait" + " so the answer is five" * 10
    assert is_loop(loop, "Wait")
    assert not is_loop("so the answer is five" * 10, "Wait")  # no forcing string: nothing to judge
    varied = "Wait " + " ".join(f"word{i}" for i in range(60))
    assert not is_loop(varied, "Wait")


def test_detect_failures_table_has_one_row_per_case():
    forced = run_samples([150, 150], [True, False], method="budget_forcing", setting="B100-n2", budget=100, n=2,
                         waits=1, forcing_string="Wait",
                         thinking_text="Wait" + " the same words again" * 10)
    samples = pd.DataFrame(forced)
    table = detect_failures(run_table(samples), samples)
    assert list(table["kind"]) == ["wait_repetition"]
    assert table.iloc[0]["detail"].startswith("2/2 forced samples loop")
    empty = detect_failures(run_table(samples))  # without text: no repetition check, still a table
    assert empty.empty and "kind" in empty.columns
