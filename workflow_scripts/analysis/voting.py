"""Parallel scaling after grading: majority votes of m of the k samples per question.

A parallel shard (setting ``k<k>``) holds k graded samples per question (``sample``
0..k-1). The vote is the one a deployed system could hold: it never looks at the gold.

* **Clusters.** A question's extracted answers are clustered by equivalence among
  themselves, with the grading package's own readings and comparisons: MATH500 answers are
  one when the grader's check says so (math-verify, then the normalised strings,
  :func:`workflow_scripts.grading.math_answers.check_math`, each math-verify call under the
  grading's ``verify_timeout_s``), AIME answers when they are the same integer, GPQA answers
  when they are the same letter. Clustering is greedy in sample order: an answer joins the
  first cluster whose first answer it equals, else starts a cluster. An unparsed answer
  abstains.
* **Only the winner is graded.** A cluster is correct when its first answer was graded
  correct against the gold; the samples' grades are read for the winning cluster alone.
* **m of k, without tie luck.** The accuracy of an m-sample vote is its exact expectation
  over all C(k, m) subsets of the k samples: in a subset the largest cluster wins, a tie
  among c clusters gives each 1/c of the credit, and a subset where every sample abstains
  scores 0. It is computed from the clusters' sizes (how many of each cluster a subset
  draws), not by listing the subsets.

Each (question, m), m = 1, 2, 4, ..., k, becomes one row of setting ``k<k>-m<m>`` with
``correct`` = the expected credit (a fraction), ``parse_failed`` = the share of subsets
where all m samples abstain, ``cap_hit`` = the share of subsets holding a capped sample,
and ``thinking_tokens`` / ``answer_tokens`` = the expected totals of an m-subset (m times
the mean over the k samples): the runs table, the metrics and the plots treat the m-sample
votes as runs whose cost is the mean total thinking of the m samples.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import comb
from typing import Callable, Sequence

import pandas as pd

from workflow_scripts.grading.dispatch import canonical_benchmark
from workflow_scripts.grading.math_answers import DEFAULT_VERIFY_TIMEOUT_S, check_math, normalise_answer
from workflow_scripts.methods.parallel import vote_sizes

PARALLEL = "parallel"


class VotingError(ValueError):
    """A parallel shard that cannot be voted on; the message names the run and question."""


def equivalence(dataset: str, verify_timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S) -> Callable[[str, str], bool]:
    """Whether two extracted answers of ``dataset``'s benchmark are the same answer."""
    benchmark = canonical_benchmark(dataset)
    if benchmark == "aime24":  # the grader's extracted AIME answer is an integer string
        return lambda first, other: int(first) == int(other)
    if benchmark == "gpqa":
        return lambda first, other: str(first).strip().upper() == str(other).strip().upper()

    def same_math(first: str, other: str) -> bool:
        if normalise_answer(first) == normalise_answer(other):  # no math-verify call for the same spelling
            return True
        return check_math(first, other, verify_timeout_s).equivalent

    return same_math


def cluster_answers(answers: Sequence[str | None], same: Callable[[str, str], bool]) -> list[int | None]:
    """Each answer's cluster (0, 1, ... in order of first appearance), None for an abstention."""
    leaders: list[str] = []  # each cluster's first answer
    labels: list[int | None] = []
    for answer in answers:
        if answer is None:
            labels.append(None)
            continue
        label = next((index for index, leader in enumerate(leaders) if same(leader, answer)), None)
        if label is None:
            leaders.append(answer)
            label = len(leaders) - 1
        labels.append(label)
    return labels


@lru_cache(maxsize=None)
def _expected_credit(clusters: tuple[tuple[int, bool], ...], abstaining: int, m: int) -> Fraction:
    total = Fraction(0)
    capacity = [sum(size for size, _ in clusters[i:]) + abstaining for i in range(len(clusters) + 1)]

    def walk(i: int, left: int, weight: int, counts: tuple[int, ...]) -> None:
        nonlocal total
        if left > capacity[i]:
            return
        if i == len(clusters):  # the rest of the subset abstains
            best = max(counts, default=0)
            if best:
                tied = [correct for count, (_, correct) in zip(counts, clusters) if count == best]
                total += weight * comb(abstaining, left) * Fraction(sum(tied), len(tied))
            return
        size = clusters[i][0]
        for drawn in range(min(size, left) + 1):
            walk(i + 1, left - drawn, weight * comb(size, drawn), counts + (drawn,))

    walk(0, m, 1, ())
    return total / comb(sum(size for size, _ in clusters) + abstaining, m)


def expected_vote_credit(sizes: Sequence[int], correct: Sequence[bool], abstaining: int, m: int) -> float:
    """The mean credit of a majority vote over all m-subsets of k = sum(sizes) + abstaining
    samples, whose answers form clusters of ``sizes`` (``correct``: whether each is right) and
    ``abstaining`` unparsed answers; a tie among c clusters gives each 1/c."""
    k = sum(sizes) + abstaining
    if len(sizes) != len(correct) or min(sizes, default=1) < 1 or abstaining < 0 or not 1 <= m <= k:
        raise VotingError(f"no vote of m={m} over clusters {list(sizes)} and {abstaining} abstentions")
    return float(_expected_credit(tuple(sorted(zip(map(int, sizes), map(bool, correct)))), int(abstaining), int(m)))


def share_of_subsets_with(marked: int, k: int, m: int) -> float:
    """The share of the m-subsets of k samples that hold at least one of ``marked`` samples."""
    return 1.0 - comb(k - marked, m) / comb(k, m)


def vote_answer(record) -> str | None:
    """What a sample votes for: its extracted answer, None (abstains) when it did not parse."""
    if bool(record["parse_failed"]) or record.get("extracted") is None or pd.isna(record.get("extracted")):
        return None
    return str(record["extracted"])


def question_votes(records: list[dict], same: Callable[[str, str], bool], k: int) -> dict[int, dict]:
    """The vote rows' measured fields of one question's k samples, per m."""
    labels = cluster_answers([vote_answer(r) for r in records], same)
    sizes: dict[int, int] = {}
    for label in labels:
        if label is not None:
            sizes[label] = sizes.get(label, 0) + 1
    first = {label: labels.index(label) for label in sizes}
    correct = [bool(records[first[label]]["correct"]) for label in sorted(sizes)]  # the cluster's first answer's grade
    abstaining = labels.count(None)
    capped = sum(bool(r["cap_hit"]) for r in records)
    thinking = sum(int(r["thinking_tokens"]) for r in records) / k
    answer = sum(int(r["answer_tokens"]) for r in records) / k
    return {m: {
        "correct": expected_vote_credit([sizes[label] for label in sorted(sizes)], correct, abstaining, m),
        "parse_failed": comb(abstaining, m) / comb(k, m),
        "cap_hit": share_of_subsets_with(capped, k, m),
        "thinking_tokens": m * thinking, "answer_tokens": m * answer, "clusters": len(sizes),
    } for m in vote_sizes(k)}


def vote_rows(samples: pd.DataFrame, verify_timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S) -> pd.DataFrame:
    """The m-sample vote rows of every parallel run in ``samples`` (see the module docstring)."""
    rows = []
    for (model, dataset, setting), run in samples.groupby(["model", "dataset", "setting"], sort=True):
        k = int(setting[1:])
        same = equivalence(dataset, verify_timeout_s)
        for question, group in run.groupby("id", sort=False):
            group = group.sort_values("sample")
            indices = group["sample"].astype(int).tolist()
            if indices != list(range(k)):
                raise VotingError(f"{model}/{PARALLEL}/{setting} {dataset} id {question}: sample indices "
                                  f"{indices} are not 0..{k - 1}")
            records = group.to_dict("records")
            for m, measured in question_votes(records, same, k).items():
                rows.append({
                    **{key: records[0][key] for key in ("dataset", "id", "model", "method", "index", "shard",
                                                        "prompt_format") if key in records[0]},
                    "setting": f"{setting}-m{m}", "budget": "unbounded", "n": 0, "sample": 0, "vote_size": m,
                    "extracted": None, "waits_inserted": 0, **measured,
                })
    return pd.DataFrame(rows)


def with_votes(samples: pd.DataFrame, verify_timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S) -> pd.DataFrame:
    """``samples`` with every parallel run replaced by its m-sample vote rows."""
    parallel = samples["method"] == PARALLEL
    if not parallel.any():
        return samples
    return pd.concat([samples[~parallel], vote_rows(samples[parallel], verify_timeout_s)], ignore_index=True)
