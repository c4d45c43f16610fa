"""Decontamination on the real eval sets: planted copies are caught, different real problems are not,
and the evidence (coverage, shared run, gram frequencies) matches hand counts."""

from __future__ import annotations

import time

import pytest

from workflow_scripts.curation.decontaminate import contamination_words, find_contamination, s1_words
from workflow_scripts.config.validate import complete_section
from workflow_scripts.curation.planted_copies import (
    EDITS, latex_spacing, math500_subjects, precision_sets, real_eval_records, split_final_question)

N = 8
# The two GPQA-Diamond items that open with the same 54-word paragraph on isomers and then ask different
# questions: to a rule that reads text overlap, each is the other "with its final question changed".
ISOMER_PAIR = {"rec9GugrngvsQR99A", "recjgMJaMxz4ESDF2"}


def rule(name: str = "distinctive", **overrides) -> dict:
    return {**complete_section("curation.decontamination", {"rule": name}), **overrides}


@pytest.fixture(scope="module")
def records(shared_data):
    return real_eval_records(shared_data)


@pytest.fixture(scope="module")
def evals(records):
    return records["math500"] + records["aime24"] + records["gpqa"]


@pytest.fixture(scope="module")
def pairs(records, shared_data):
    return precision_sets(records, math500_subjects(shared_data))


def test_contamination_words_make_formulas_single_words():
    same = ["Let $x = \\frac12$.", "LET  $x=\\frac{1}{2}$", "let $x = \\dfrac {1} {2}$ .", "Let \\(x=\\frac{1}{2}\\)",
            "let $$x=\\left.\\frac{1}{2}\\right.$$"]
    assert {tuple(contamination_words(t)) for t in same} == {("let", "xfrac12")}
    drawing = "Find $AB$.\n[asy]\ndraw((0,0)--(3,4));\nlabel(\"$A$\",(0,0),SW);\n[/asy]"
    assert contamination_words(drawing) == ["find", "ab", "draw0034labela00sw"]
    assert contamination_words("It costs $5, not $6 or $7") == ["it", "costs", "5not", "6", "or", "7"]
    assert contamination_words("Café ＡＢ x_1") == ["café", "ab", "x1"] and contamination_words(None) == []
    assert s1_words("Find  the SUM,\nof $x_1+y$!") == ["find", "the", "sum,", "of", "$x_1+y$!"]


def test_pathological_text_is_tokenised_in_linear_time():
    started = time.perf_counter()
    words = contamination_words("[asy]" * 40000 + "$" * 30001 + "\\left" * 20000 + "a " * 100000)
    assert time.perf_counter() - started < 30 and words[-1] == "a"  # a backtracking regex would take hours


def _grams_text(words: str) -> list[str]:
    w = words.split()
    return [" ".join(w[i:i + N]) for i in range(len(w) - N + 1)]


def test_evidence_matches_a_hand_count():
    e0 = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"  # 5 grams
    e1 = "alpha beta gamma delta epsilon zeta eta theta nu xi omicron pi"      # shares e0's first gram
    pool = ["alpha beta gamma delta epsilon zeta eta theta iota kappa"]        # e0's grams 0-2
    records = [{"benchmark": "math500", "id": "e0", "question": e0}, {"benchmark": "gpqa", "id": "e1", "question": e1}]
    grams = _grams_text(e0)
    # Gram 0 is held by two eval questions: template. Grams 1-2 are counted: 2 of e0's 4 others, a 9-word run.
    [evidence] = find_contamination(pool, records, N, rule(min_eval_coverage=0.5)).evidence
    assert evidence["eval_id"] == "e0" and evidence["match"] == "eval coverage"
    assert evidence["eval_coverage"] == 0.5 and evidence["shared_ngrams"] == 2
    assert evidence["shared_span_words"] == 9 and evidence["shared_span"] == " ".join(e0.split()[1:10])
    assert evidence["shared_grams"] == [
        {"gram": grams[0], "pool_rows": 1, "eval_rows": 2, "counted": False},
        {"gram": grams[1], "pool_rows": 1, "eval_rows": 1, "counted": True},
        {"gram": grams[2], "pool_rows": 1, "eval_rows": 1, "counted": True}]
    assert find_contamination(pool, records, N, rule(min_eval_coverage=0.6)).evidence == [None]
    [by_run] = find_contamination(pool, records, N, rule(min_eval_coverage=0.6, min_shared_run_words=9)).evidence
    assert by_run["match"] == "shared run"
    # Held by three distinct pool questions, gram 1 becomes template too; three identical copies count once.
    three = pool + ["beta gamma delta epsilon zeta eta theta iota one", "two beta gamma delta epsilon zeta eta theta iota"]
    result = find_contamination(three, records, N, rule(min_eval_coverage=0.5, template_pool_rows=3))
    assert result.evidence == [None, None, None]
    ignored = {g["ngram"]: g for g in result.notes["top_ignored_template_ngrams"]}
    assert ignored[grams[1]] == {"ngram": grams[1], "pool_rows_ignored": 3, "pool_rows": 3, "eval_rows": 1}
    assert ignored[grams[0]]["eval_rows"] == 2
    copies = find_contamination(pool * 3, records, N, rule(min_eval_coverage=0.5, template_pool_rows=3))
    assert [e["eval_coverage"] for e in copies.evidence] == [0.5, 0.5, 0.5]
    # s1's rule: any shared gram, template or not.
    [s1] = find_contamination(pool, records, N, rule("any_8gram")).evidence
    assert s1["match"] == "a shared n-gram" and s1["eval_id"] == "e0" and s1["shared_ngrams"] == 3


def test_short_and_template_only_eval_questions():
    records = [{"benchmark": "math500", "id": "s", "question": "Simplify $\\sqrt{242}$."},
               {"benchmark": "math500", "id": "t1", "question": "one two three four five six seven eight nine"},
               {"benchmark": "aime24", "id": "t2", "question": "one two three four five six seven eight nine"}]
    pool = ["Please SIMPLIFY $\\sqrt {242}$ quickly, then rest.", "Simplify $\\sqrt{243}$.", "Simplify it.",
            "One two three four five six seven eight nine."]
    found = find_contamination(pool, records, N, rule()).evidence
    assert [e and (e["eval_id"], e["match"]) for e in found] == [
        ("s", "whole short question"), None, None, ("t1", "identical text")]
    # s1's rule never sees a question shorter than n words.
    assert find_contamination(pool[:3], records, N, rule("any_8gram")).evidence == [None, None, None]


@pytest.mark.parametrize("edit", list(EDITS))
def test_planted_copies_of_real_questions_are_caught(evals, edit):
    pool, expected = [], []
    for record in evals:
        edited = EDITS[edit](record["question"])
        if edited is None or (edit != "verbatim" and edited == record["question"]):
            continue
        if edit == "final_question_changed" and len(contamination_words(split_final_question(record["question"])[0])) < 20:
            continue  # a set-up shorter than the run threshold: the changed question may be a new problem
        pool.append(edited)
        expected.append(record)
    found = find_contamination(pool, evals, N, rule()).evidence
    missed = {r["id"] for r, e in zip(expected, found) if not e or (e["benchmark"], e["eval_id"]) != (r["benchmark"], r["id"])}
    assert len(pool) >= {"latex_spacing": 200, "final_question_changed": 250}.get(edit, 728)
    # The isomer pair's set-up is held by both items, so it is template: what is left is a new question.
    assert missed == (ISOMER_PAIR if edit == "final_question_changed" else set())


def test_latex_spacing_edit_really_rewrites_fractions():
    assert latex_spacing("$\\frac{1}{2}+\\frac{a}{b}=x$") == "$\\dfrac12 + \\dfrac ab = x$"


def _flags(sets, settings):
    flags = []
    for pool, evals in sets:
        found = find_contamination([r["question"] for r in pool], evals, N, settings).evidence
        flags += [(r["id"], e["eval_id"]) for r, e in zip(pool, found) if e]
    return flags


@pytest.mark.parametrize("name", ["aime24_vs_math500", "aime25_vs_others", "math500_across_subjects"])
def test_different_real_problems_do_not_flag_each_other(pairs, name):
    assert _flags(pairs[name], rule()) == []
    # s1's rule flags them on template language.
    assert len(_flags(pairs[name], rule("any_8gram"))) == {"aime24_vs_math500": 6, "aime25_vs_others": 8,
                                                            "math500_across_subjects": 4}[name]


def test_s1_rule_flags_aime24_on_answer_format_phrases(pairs):
    [(aime24, math500)] = pairs["aime24_vs_math500"]
    found = find_contamination([r["question"] for r in aime24], math500, N, rule("any_8gram")).evidence
    hits = {r["id"]: e for r, e in zip(aime24, found) if e}
    assert set(hits) == {"62", "65", "69", "73", "84", "88"}
    assert "where $m$ and $n$ are relatively prime positive" in [g["gram"] for g in hits["62"]["shared_grams"]]
    assert all(e["eval_coverage"] < 0.1 for e in hits.values())


def test_gpqa_items_flag_each_other_only_for_the_shared_isomer_paragraph(pairs):
    flags = _flags(pairs["gpqa_leave_one_out"], rule())
    assert {frozenset(f) for f in flags} == {frozenset(ISOMER_PAIR)} and len(flags) == 2
