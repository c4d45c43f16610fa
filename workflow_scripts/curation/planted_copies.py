"""Edited copies of real eval questions and pairs of different real problems: what decontamination is
measured on (tests/test_curation_decontamination.py, benchmarks/decontamination_rules.py).

Recall: every edit below turns an eval question into a copy a pool could hold. Precision: the
real eval sets hold different problems that share template language; none of them is a copy of
another (except where a measurement names one).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

_FORMULA = re.compile(r"\$[^$]*\$")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z\\$(])")
CHANGED_FINAL_QUESTION = "What is the sum of the digits of the smallest such number?"
EMBED_BEFORE, EMBED_AFTER = "Here is a problem from a practice set. ", " Show your reasoning and box the final answer."


def _outside_formulas(question: str, edit) -> str:
    pieces, last = [], 0
    for match in _FORMULA.finditer(question):
        pieces += [edit(question[last:match.start()]), match.group(0)]
        last = match.end()
    return "".join(pieces + [edit(question[last:])])


def whitespace(question: str) -> str:
    """Every single space becomes two spaces and a newline; longer runs collapse to one space."""
    return re.sub(r"\s+", lambda m: "  \n " if len(m.group(0)) == 1 else " ", question)


def latex_spacing(question: str) -> str:
    """``\\frac{1}{2}`` -> ``\\frac12``, ``\\frac{a}{b}`` -> ``\\frac ab``, spaces around = + - < >, ``\\dfrac``."""
    question = re.sub(r"\\frac\{(\d)\}\{(\d)\}", r"\\frac\1\2", question)
    question = re.sub(r"\\frac\{([A-Za-z])\}\{([A-Za-z])\}", r"\\frac \1\2", question)
    question = _FORMULA.sub(lambda m: re.sub(r"\s*([=+\-<>])\s*", r" \1 ", m.group(0)), question)
    return question.replace("\\frac", "\\dfrac")


def case_and_punctuation(question: str) -> str:
    """Prose upper-cased and stripped of . , ; : ! ? (formulas untouched)."""
    return _outside_formulas(question, lambda text: re.sub(r"[.,;:!?]", "", text).upper())


def embedded(question: str) -> str:
    return EMBED_BEFORE + question + EMBED_AFTER


def split_final_question(question: str) -> tuple[str, str] | None:
    """(set-up, final sentence), splitting only at a sentence end outside formulas; None for one sentence."""
    masked = _FORMULA.sub(lambda m: "#" * len(m.group(0)), question.strip())
    ends = [m.start() for m in _SENTENCE_END.finditer(masked)]
    if not ends:
        return None
    cut = ends[-1]
    text = question.strip()
    return text[:cut], text[cut:].strip()


def final_question_changed(question: str) -> str | None:
    parts = split_final_question(question)
    return None if parts is None else f"{parts[0]} {CHANGED_FINAL_QUESTION}"


EDITS = {"verbatim": lambda q: q, "whitespace": whitespace, "latex_spacing": latex_spacing,
         "case_and_punctuation": case_and_punctuation, "embedded": embedded,
         "final_question_changed": final_question_changed}

EVAL_FILES = {"math500": ("math500", "math500/test.jsonl"), "aime24": ("aime24", "aime24/aime24_nofigures.jsonl"),
              "aime25": ("aime24", "aime25/aime25_nofigures.jsonl"), "gpqa": ("gpqa", "gpqa/gpqa_diamond.csv")}


def real_eval_records(shared_data: str | Path, seed: int = 42) -> dict[str, list[dict]]:
    """The real eval sets of ../shared/data as normalised records, AIME25 through the AIME loader."""
    from workflow_scripts.data import load_benchmark

    records = {}
    for name, (loader, path) in EVAL_FILES.items():
        records[name] = [dict(r, benchmark=name) for r in load_benchmark(loader, str(Path(shared_data) / path), seed)]
    return records


def math500_subjects(shared_data: str | Path) -> dict[str, str]:
    """MATH500 unique_id -> subject."""
    import json

    with open(Path(shared_data) / "math500" / "test.jsonl") as handle:
        return {row["unique_id"]: row["subject"] for row in map(json.loads, handle)}


def precision_sets(records: dict[str, list[dict]], subjects: dict[str, str]) -> dict[str, list[tuple[list, list]]]:
    """Named lists of (pool records, eval records) holding different real problems, never one item on both sides.

    * aime24_vs_math500, aime25_vs_others: across benchmarks;
    * math500_across_subjects: each subject's problems against the other subjects';
    * gpqa_leave_one_out: each GPQA-Diamond item against the other 197 (they share stock set-ups).
    """
    by_subject = defaultdict(list)
    for record in records["math500"]:
        by_subject[subjects[record["id"]]].append(record)
    gpqa = records["gpqa"]
    return {
        "aime24_vs_math500": [(records["aime24"], records["math500"])],
        "aime25_vs_others": [(records["aime25"], records["math500"] + records["aime24"] + gpqa)],
        "math500_across_subjects": [
            (rows, [r for other, others in sorted(by_subject.items()) if other != subject for r in others])
            for subject, rows in sorted(by_subject.items())],
        "gpqa_leave_one_out": [([item], gpqa[:i] + gpqa[i + 1:]) for i, item in enumerate(gpqa)],
    }
