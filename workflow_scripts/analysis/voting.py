"""Parallel scaling after grading: majority votes over the first m of k samples per question.

A parallel shard (setting ``k<k>``) holds k graded samples per question (``sample``
0..k-1). For each m of 1, 2, 4, ..., k the first m samples vote; the vote's answer is the
one most samples gave, ties going to the answer that appeared first. Votes compare graded
answers: every correct answer is equivalent to the gold, so the correct samples vote
together; a wrong answer votes with the samples whose extracted answer is the same string
once whitespace is removed (two different spellings of the same wrong value vote apart); an
unparsed answer abstains (a question where all m abstain counts as wrong).

Each (question, m) becomes one row of setting ``k<k>-m<m>`` with ``correct`` = the vote is
correct and ``thinking_tokens`` / ``answer_tokens`` = the totals over the m samples, so the
runs table, the metrics and the plots treat the m-sample votes as runs whose cost is the
mean total thinking of the m samples.
"""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd

from workflow_scripts.methods.parallel import vote_sizes

PARALLEL = "parallel"
CORRECT_KEY = "\0correct"
_SPACE = re.compile(r"\s+")


class VotingError(ValueError):
    """A parallel shard that cannot be voted on; the message names the run and question."""


def vote_key(sample) -> str | None:
    """What a sample votes for: the correct class, its whitespace-free extracted answer, or
    None (abstains) when its answer did not parse."""
    if bool(sample["correct"]):
        return CORRECT_KEY
    if bool(sample["parse_failed"]) or sample.get("extracted") is None:
        return None
    return _SPACE.sub("", str(sample["extracted"]))


def majority(keys: list[str | None]) -> str | None:
    """The most frequent non-None key; ties go to the key seen first."""
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(k for k in keys if k is not None and counts[k] == best)


def vote_rows(samples: pd.DataFrame) -> pd.DataFrame:
    """The m-sample vote rows of every parallel run in ``samples`` (see the module docstring)."""
    rows = []
    for (model, dataset, setting), run in samples.groupby(["model", "dataset", "setting"], sort=True):
        k = int(setting[1:])
        for question, group in run.groupby("id", sort=False):
            group = group.sort_values("sample")
            indices = group["sample"].astype(int).tolist()
            if indices != list(range(k)):
                raise VotingError(f"{model}/{PARALLEL}/{setting} {dataset} id {question}: sample indices "
                                  f"{indices} are not 0..{k - 1}")
            records = group.to_dict("records")
            keys = [vote_key(r) for r in records]
            for m in vote_sizes(k):
                first = records[:m]
                winner = majority(keys[:m])
                rows.append({
                    **{key: first[0][key] for key in ("dataset", "id", "model", "method", "index", "shard", "prompt_format")
                       if key in first[0]},
                    "setting": f"{setting}-m{m}", "budget": "unbounded", "n": 0, "sample": 0, "vote_size": m,
                    "correct": winner == CORRECT_KEY, "parse_failed": winner is None,
                    "extracted": None if winner in (None, CORRECT_KEY) else winner,
                    "thinking_tokens": int(sum(r["thinking_tokens"] for r in first)),
                    "answer_tokens": int(sum(r["answer_tokens"] for r in first)),
                    "cap_hit": any(bool(r["cap_hit"]) for r in first), "waits_inserted": 0,
                    "votes_for_winner": sum(1 for key in keys[:m] if key == winner and key is not None),
                })
    return pd.DataFrame(rows)


def with_votes(samples: pd.DataFrame) -> pd.DataFrame:
    """``samples`` with every parallel run replaced by its m-sample vote rows."""
    parallel = samples["method"] == PARALLEL
    if not parallel.any():
        return samples
    return pd.concat([samples[~parallel], vote_rows(samples[parallel])], ignore_index=True)
