"""Failure detection: significance tests, forcing without tokens, loops after "Wait"."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from test_analysis_records import run_samples
from workflow_scripts.analysis.failures import (
    accuracy_cases, detect_failures, forcing_cases, forcing_hurts_cases, is_loop, repeated_ngram_share,
    text_after_forcing, two_proportion_p,
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
    # a vote run's fractional credit is not truncated: 2.5/10 vs 8/10, pooled 0.525, diff 0.55
    sd = math.sqrt(0.525 * 0.475 * 0.2)
    assert two_proportion_p(2.5, 10, 8, 10) == pytest.approx(0.5 * math.erfc(0.55 / sd / math.sqrt(2)))


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


def _forty(correct: int, tokens: int, **fields) -> list[dict]:
    """A run of 40 samples, the first ``correct`` of them right, each thinking ``tokens`` tokens."""
    return run_samples([tokens] * 40, [i < correct for i in range(40)], **fields)


def _truncation(correct, tokens, budget="unbounded"):
    return _forty(correct, tokens, setting=f"B{budget}", budget=budget)


def _forcing(correct, tokens, n=1, budget="unbounded"):
    return _forty(correct, tokens, method="budget_forcing", setting=f"B{budget}-n{n}", budget=budget, n=n, waits=n)


def test_forcing_less_accurate_than_truncation_at_the_same_budget_is_flagged():
    # The smoke run's sft/aime24: truncation 40/40 at 103 tokens, forcing 5/40 at 119 (n1) and 198 (n2) tokens.
    # 40/40 vs 5/40: pooled 45/80 = 0.5625, sd = sqrt(0.5625 * 0.4375 * (1/40 + 1/40)) = 0.110926,
    # z = (1 - 0.125) / 0.110926 = 7.8881, p = P(Z > 7.8881) = 1.534e-15.
    runs = _runs(_truncation(40, 103), _forcing(5, 119, n=1), _forcing(5, 198, n=2),
                 _forcing(5, 119, n=1, budget=64))  # no truncation at B64: nothing to compare with
    cases = forcing_hurts_cases(runs)
    assert [(c["kind"], c["method"], c["from_setting"], c["to_setting"]) for c in cases] == [
        ("forcing_hurts", "budget_forcing", "Bunbounded", "Bunbounded-n1"),
        ("forcing_hurts", "budget_forcing", "Bunbounded", "Bunbounded-n2")]
    first = cases[0]
    assert first["p_value"] == pytest.approx(1.534e-15, rel=1e-3)
    assert (first["accuracy_from"], first["accuracy_to"]) == (1.0, 0.125)
    assert (first["tokens_from"], first["tokens_to"], first["samples_from"], first["samples_to"]) == (103, 119, 40, 40)
    assert first["detail"] == ("Bunbounded-n1 accuracy 0.125 (119.0 tokens) < truncation/Bunbounded 1.000 "
                               "(103.0 tokens) (one-sided p=1.53e-15)")
    # A smaller but real drop, at equal tokens ("at least as many"): 20/40 -> 10/40, pooled 0.375,
    # sd = sqrt(0.375 * 0.625 * 0.05) = 0.108253, z = 0.25 / 0.108253 = 2.3094, p = 0.01046 < 0.05.
    moderate = forcing_hurts_cases(_runs(_truncation(20, 100, budget=128), _forcing(10, 100, budget=128)))
    assert [(c["from_setting"], c["to_setting"]) for c in moderate] == [("B128", "B128-n1")]
    assert moderate[0]["p_value"] == pytest.approx(0.01046, abs=1e-5)


def test_forcing_within_noise_better_or_with_fewer_tokens_is_not_flagged():
    assert forcing_hurts_cases(_runs(_truncation(20, 100), _forcing(20, 150))) == []  # equal accuracy, p = 0.5
    # 20/40 -> 17/40: pooled 0.4625, sd = sqrt(0.4625 * 0.5375 * 0.05) = 0.111489, z = 0.075 / 0.111489 = 0.6727,
    # p = 0.2506: noise.
    assert two_proportion_p(17, 40, 20, 40) == pytest.approx(0.2506, abs=1e-4)
    assert forcing_hurts_cases(_runs(_truncation(20, 100), _forcing(17, 150))) == []
    assert forcing_hurts_cases(_runs(_truncation(5, 100), _forcing(40, 150))) == []  # forcing better
    # Forcing thought fewer tokens than truncation: its lower accuracy is not this kind of case.
    assert forcing_hurts_cases(_runs(_truncation(40, 100), _forcing(5, 99))) == []
    # Truncation of another model or dataset at the same budget is no baseline.
    other = _forty(40, 100, setting="Bunbounded", budget="unbounded", dataset="gpqa")
    assert forcing_hurts_cases(_runs(other, _forcing(5, 150))) == []


def test_failures_figure_draws_a_forcing_hurts_panel(tmp_path):
    from PIL import Image

    from workflow_scripts.analysis.plots import failures_figure

    runs = _runs(_truncation(40, 103), _forcing(5, 119), _forcing(5, 150, n=2))  # +26 %: not "flat"
    failures = detect_failures(runs)
    assert list(failures["kind"]) == ["forcing_hurts", "forcing_hurts"]
    failures_figure(runs, failures, tmp_path / "hurts.png")
    failures_figure(runs, failures, tmp_path / "again.png")
    assert (tmp_path / "hurts.png").read_bytes() == (tmp_path / "again.png").read_bytes()
    failures_figure(runs, failures.iloc[:0], tmp_path / "none.png")
    # One 6 x 4.4-inch panel (plus its run labels) vs the 6 x 2.5-inch "nothing detected" figure.
    (width, height), (width_none, height_none) = (Image.open(tmp_path / name).size for name in ("hurts.png", "none.png"))
    assert width > width_none and height > 1.5 * height_none


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
    hurting = detect_failures(_runs(_truncation(40, 103), _forcing(5, 119)))
    assert list(hurting["kind"]) == ["forcing_hurts"] and list(hurting.columns) == list(empty.columns)
