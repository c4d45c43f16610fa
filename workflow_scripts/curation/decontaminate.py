"""Decontamination: drop pool questions sharing a word 8-gram with any evaluation question.

Hash-based: the eval grams go into one sorted array, each pool gram is looked up with
``np.isin``; a hit is confirmed by comparing the words themselves, so a hash collision can
never drop a row. Both tokenisations of ngrams.normalise_words are checked (punctuation deleted,
punctuation as spaces), so punctuation-free and re-spaced copies are both caught.
Evidence kept per dropped row: benchmark, eval id, the shared n-gram.
"""

from __future__ import annotations

import numpy as np

from workflow_scripts.curation.ngrams import GramTable, gram_table_of_words, normalise_words


def find_contamination(questions: list[str], eval_records: list[dict], n: int = 8,
                       question_words: list[list[str]] | None = None) -> list[dict | None]:
    """Per question: None, or the evidence ``{benchmark, eval_id, ngram, shared_ngrams}``.

    ``question_words`` (the questions split by normalise_words, punctuation deleted) saves re-splitting.
    """
    return contamination_and_table(questions, eval_records, n, question_words)[0]


def contamination_and_table(questions: list[str], eval_records: list[dict], n: int = 8,
                            question_words: list[list[str]] | None = None) -> tuple[list[dict | None], GramTable]:
    """Evidence per question, plus the joint gram table of the punctuation-deleted words (for dedup)."""
    if question_words is None:
        question_words = [normalise_words(q) for q in questions]
    deleted = joint_gram_table(eval_records, question_words, n)
    evidence = contamination_in_table(deleted, eval_records)
    for found in evidence:
        if found:
            found["tokenisation"] = "punctuation deleted"
    todo = [i for i, found in enumerate(evidence) if found is None]
    if todo:
        spaced_words = [normalise_words(questions[i], "space") for i in todo]
        spaced = joint_gram_table(eval_records, spaced_words, n, punctuation="space")
        for i, found in zip(todo, contamination_in_table(spaced, eval_records)):
            if found:
                found["tokenisation"] = "punctuation as spaces"
                evidence[i] = found
    return evidence, deleted


def joint_gram_table(eval_records: list[dict], question_words: list[list[str]], n: int,
                     punctuation: str = "delete") -> GramTable:
    """One table for eval questions (owners 0..E-1) then pool questions, so word ids are shared."""
    eval_words = [normalise_words(r["question"], punctuation) for r in eval_records]
    return gram_table_of_words(eval_words + question_words, n)


def contamination_in_table(table: GramTable, eval_records: list[dict]) -> list[dict | None]:
    """Evidence per pool text of a :func:`joint_gram_table`."""
    n_eval = len(eval_records)
    question_count = len(table.words) - n_eval
    is_eval = table.owners < n_eval
    index: dict[int, tuple[str, str, str]] = {}  # gram hash -> first eval record holding it
    for k in np.flatnonzero(is_eval).tolist():
        h = int(table.hashes[k])
        if h not in index:
            record = eval_records[int(table.owners[k])]
            index[h] = (record["benchmark"], str(record["id"]), table.gram_text(k))
    result: list[dict | None] = [None] * question_count
    if not index or not question_count:
        return result
    eval_hashes = np.fromiter(index.keys(), dtype=np.uint64, count=len(index))
    hit_positions = np.flatnonzero(~is_eval & np.isin(table.hashes, eval_hashes))
    for k in hit_positions.tolist():  # in (question, position) order: the first hit is the evidence
        owner = int(table.owners[k]) - n_eval
        benchmark, eval_id, gram = index[int(table.hashes[k])]
        if table.gram_text(k) != gram:  # hash collision, not a shared gram
            continue
        if result[owner] is None:
            result[owner] = {"benchmark": benchmark, "eval_id": eval_id, "ngram": gram, "shared_ngrams": 0}
        result[owner]["shared_ngrams"] += 1
    return result
