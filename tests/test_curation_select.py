"""Selection: keep-all rules, 2^-rank length bias, uniform domain filling, s1's benchmark weights."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from workflow_scripts.curation.errors import CurationError
from workflow_scripts.curation.select import benchmark_domain_weights, length_biased_rank, mandatory_rows, select

SETTINGS = {"target_size": 10, "keep_all_sources": ["aime", "gpqa"], "long_trace_sources": ["openaimath"],
            "long_trace_min_tokens": 5600, "domain_sampling": "uniform", "benchmark_weighted_after": 700}


def _frame(rows):
    """rows: (source_type, domain, trace_tokens[, gemini_correct])"""
    records = []
    for i, row in enumerate(rows):
        source, domain, tokens = row[:3]
        gemini = row[3] if len(row) > 3 else True
        records.append({"row_index": i, "source_type": source, "domain": domain, "trace_tokens": tokens,
                        "gemini_correct": gemini, "question": f"q{i}"})
    frame = pd.DataFrame(records)
    frame.index = frame.index + 1000  # labels differ from row_index, as in the pipeline
    return frame


def test_length_biased_rank_follows_two_to_the_minus_rank():
    rng = np.random.default_rng(42)
    counts = Counter(length_biased_rank(rng, 3) for _ in range(30000))
    for rank, expected in ((0, 4 / 7), (1, 2 / 7), (2, 1 / 7)):
        assert abs(counts[rank] / 30000 - expected) < 0.012
    assert length_biased_rank(rng, 1) == 0
    assert all(length_biased_rank(rng, 5000) < 60 for _ in range(100))  # 2^-60 tail: never drawn


def test_mandatory_rules_follow_the_config_not_hard_coded_names():
    frame = _frame([
        ("qq8933/AIME_1983_2024", "Number theory", 10),
        ("Idavidrein/gpqa", "Quantum theory", 10),
        ("qfq/openaimath/Algebra", "Algebra", 6000),
        ("qfq/openaimath/Algebra", "Algebra", 5600),       # not longer than 5,600
        ("AI-MO/NuminaMath-CoT/olympiads", "Algebra", 9000),  # "math" but not a long-trace source
        ("qq8933/AIME_1983_2024", "Number theory", 10, False),  # Gemini wrong: not kept (s1)
    ])
    assert mandatory_rows(frame, SETTINGS).tolist() == ["keep_all_source", "keep_all_source", "long_trace", None, None, None]
    custom = {**SETTINGS, "keep_all_sources": ["numina"], "long_trace_sources": []}
    assert mandatory_rows(frame, custom).tolist() == [None, None, None, None, "keep_all_source", None]


def test_uniform_filling_is_as_even_as_supply_allows():
    rows = [("qq8933/AIME_1983_2024", "A", 50)] * 4            # 4 must-keep rows in A
    rows += [("src", "A", 100 + i) for i in range(20)]
    rows += [("src", "B", 100 + i) for i in range(20)]
    rows += [("src", "C", 100 + i) for i in range(2)]          # C can give only 2
    rows += [("src", "D", 100 + i) for i in range(20)]
    selection = select(_frame(rows), {**SETTINGS, "target_size": 16}, seed=42)
    counts = Counter(selection.rows["domain"])
    assert sum(counts.values()) == 16
    assert counts["C"] == 2 and selection.notes["exhausted_domains"] == ["C"]
    # A holds 4 must-keeps; B, C, D are filled first (C runs out at 2) until B and D reach 4;
    # the last 2 picks go to two of the tied A, B, D.
    assert sorted([counts["A"], counts["B"], counts["D"]]) == [4, 5, 5]


def test_selection_provenance_and_ranks():
    rows = [("qq8933/AIME_1983_2024", "A", 50)] + [("src", "B", t) for t in (10, 40, 30, 20)]
    selection = select(_frame(rows), {**SETTINGS, "target_size": 3}, seed=42)
    out = selection.rows
    assert out["draw_order"].tolist() == [0, 1, 2]
    assert out["keep_reason"].tolist() == ["keep_all_source", "domain_sample", "domain_sample"]
    assert out.loc[0, "row_index"] == 0
    # The rank recorded is the rank among the domain's remaining rows when it was drawn.
    first = out.loc[1]
    remaining = sorted([10, 40, 30, 20], reverse=True)
    assert remaining[first["domain_rank"]] == first["trace_tokens"]
    assert len(selection.not_selected) == 2


def test_same_inputs_same_set_other_seed_other_set():
    rows = [("src", d, t) for d in "ABCDE" for t in range(100, 160)]
    frame = _frame(rows)
    a = select(frame, {**SETTINGS, "target_size": 40}, seed=42).rows
    b = select(frame.sample(frac=1.0, random_state=1), {**SETTINGS, "target_size": 40}, seed=42).rows
    c = select(frame, {**SETTINGS, "target_size": 40}, seed=7).rows
    assert a["row_index"].tolist() == b["row_index"].tolist()  # row order of the input does not matter
    assert a["row_index"].tolist() != c["row_index"].tolist()
    assert Counter(a["domain"]) == {d: 8 for d in "ABCDE"}


def test_benchmark_weights_match_s1_formula():
    rows = [("qq8933/AIME_1983_2024", "NT", 1)] * 4 + [("qq8933/AIME_1983_2024", "Comb", 1)] * 2
    rows += [("Idavidrein/gpqa", "Phys", 1)] * 4
    # s1: GPQA counts scaled by 0.5 * |AIME| / |GPQA| = 0.75, truncated to int -> Phys 3.
    assert benchmark_domain_weights(_frame(rows), ["aime", "gpqa"]) == {"Comb": 2.0, "NT": 4.0, "Phys": 3.0}


def test_benchmark_after_draws_only_benchmark_domains_after_the_switch():
    rows = [("qq8933/AIME_1983_2024", "NT", 1)] * 2
    rows += [("src", d, 100 + i) for d in ("NT", "X", "Y") for i in range(30)]
    settings = {**SETTINGS, "target_size": 30, "domain_sampling": "benchmark_after", "benchmark_weighted_after": 8}
    out = select(_frame(rows), settings, seed=42).rows
    after = out[out["draw_order"] >= 8]
    assert set(after["domain"]) == {"NT"}
    before = out[(out["draw_order"] < 8) & (out["keep_reason"] == "domain_sample")]
    assert {"X", "Y"} <= set(before["domain"])


def test_shortfall_and_overflow():
    small = select(_frame([("src", "A", 1), ("src", "B", 2)]), {**SETTINGS, "target_size": 5}, seed=42)
    assert len(small.rows) == 2 and "shortfall" in small.notes
    many = _frame([("qq8933/AIME_1983_2024", "A", t) for t in (5, 9, 7)] + [("qfq/openaimath", "B", 9000)])
    over = select(many, {**SETTINGS, "target_size": 2}, seed=42)
    assert over.rows["trace_tokens"].tolist() == [9, 7] and "warning" in over.notes
    with pytest.raises(CurationError, match="domain_sampling"):
        select(many, {**SETTINGS, "domain_sampling": "zipf"}, seed=42)
