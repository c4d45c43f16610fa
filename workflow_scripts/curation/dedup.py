"""Deduplication: 8-gram near-duplicates within the pool form clusters; one row per cluster is kept.

Near-duplicate rule (hash-based, never all-pairs): two questions are linked when
  * their normalised word sequences are identical, or
  * they share at least ``min_overlap`` (default half) of the distinct 8-grams of the shorter one,
    counting only grams held by at most ``max_gram_rows`` questions.
Sharing a single 8-gram is not enough: boilerplate such as "where m and n are relatively prime
positive integers" occurs in hundreds of distinct problems and would chain them all into one
cluster. Candidate pairs come only from the inverted index of rare grams (grams sorted by hash).
Clusters are the connected components of the links (union-find), so near-duplicates of
near-duplicates join one cluster.

Representative rule: the row with the longest trace (``trace_tokens``), ties broken by the lowest
original row index. A cluster's id is its lowest original row index.
"""

from __future__ import annotations

import hashlib

import numpy as np

from workflow_scripts.curation.ngrams import GramTable, gram_table_of_words, normalise_words

MIN_OVERLAP = 0.5
MAX_GRAM_ROWS = 100
REPRESENTATIVE_RULE = "longest trace (trace_tokens), ties broken by the lowest original row index"
LINK_RULE = (f"identical normalised text, or sharing >= {MIN_OVERLAP:.0%} of the shorter question's distinct "
             f"8-grams (grams held by more than {MAX_GRAM_ROWS} questions are boilerplate and not counted)")


class UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving
            item = parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller root wins so roots are deterministic.
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


def _pairs_within_runs(starts: np.ndarray, sizes: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (members[p], members[q]), p < q, inside each run [start, start + size)."""
    if len(starts) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    positions = np.concatenate([np.arange(s, s + m) for s, m in zip(starts.tolist(), sizes.tolist())])
    run_end = np.repeat(starts + sizes, sizes)
    later = run_end - positions - 1  # partners after each position
    left = np.repeat(positions, later)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(later) - later, later)
    right = left + 1 + offset
    return members[left], members[right]


def near_duplicate_links(table: GramTable, min_overlap: float = MIN_OVERLAP,
                         max_gram_rows: int = MAX_GRAM_ROWS) -> np.ndarray:
    """(a, b) pairs of texts of ``table`` that are near-duplicates (a < b)."""
    size = len(table.words)
    links = []
    # Identical normalised texts (also catches texts made only of boilerplate grams).
    digests: dict[bytes, int] = {}
    for i, words in enumerate(table.words):
        if words:
            key = hashlib.blake2b(" ".join(words).encode(), digest_size=16).digest()
            first = digests.setdefault(key, i)
            if first != i:
                links.append((first, i))
    # Distinct (hash, owner) pairs, sorted by hash then owner.
    order = np.lexsort((table.owners, table.hashes))
    hashes, owners = table.hashes[order], table.owners[order]
    distinct = np.concatenate([[True], (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])]) if len(hashes) else np.zeros(0, bool)
    hashes, owners = hashes[distinct], owners[distinct]
    grams_per_text = np.bincount(owners, minlength=size)
    run_start = np.flatnonzero(np.concatenate([[True], hashes[1:] != hashes[:-1]])) if len(hashes) else np.zeros(0, np.int64)
    run_size = np.diff(np.concatenate([run_start, [len(hashes)]])) if len(hashes) else np.zeros(0, np.int64)
    shared = (run_size >= 2) & (run_size <= max_gram_rows)
    a, b = _pairs_within_runs(run_start[shared], run_size[shared], owners)
    if len(a):
        codes, counts = np.unique(a.astype(np.int64) * size + b, return_counts=True)
        a, b = codes // size, codes % size
        need = np.ceil(min_overlap * np.minimum(grams_per_text[a], grams_per_text[b]))
        close = counts >= np.maximum(need, 1)
        links.extend(zip(a[close].tolist(), b[close].tolist()))
    return np.array(sorted(set(links)), dtype=np.int64).reshape(-1, 2)


def find_duplicates(questions: list[str], row_index: list[int], trace_tokens: list[int], n: int = 8,
                    question_words: list[list[str]] | None = None, **rule) -> list[dict | None]:
    """Per question: None for a kept row (unique or representative), else the cluster evidence."""
    if question_words is None:
        question_words = [normalise_words(q) for q in questions]
    return duplicates_in_table(gram_table_of_words(question_words, n), row_index, trace_tokens, **rule)


def duplicates_in_table(table: GramTable, row_index: list[int], trace_tokens: list[int],
                        min_overlap: float = MIN_OVERLAP, max_gram_rows: int = MAX_GRAM_ROWS) -> list[dict | None]:
    """As :func:`find_duplicates`, for a gram table of the questions."""
    size = len(table.words)
    uf = UnionFind(size)
    for a, b in near_duplicate_links(table, min_overlap, max_gram_rows).tolist():
        uf.union(a, b)
    members: dict[int, list[int]] = {}
    for i in range(size):
        members.setdefault(uf.find(i), []).append(i)
    result: list[dict | None] = [None] * size
    for group in members.values():
        if len(group) < 2:
            continue
        representative = min(group, key=lambda i: (-int(trace_tokens[i]), int(row_index[i])))
        cluster_id = min(int(row_index[i]) for i in group)
        for i in group:
            if i != representative:
                result[i] = {"cluster_id": cluster_id, "representative": int(row_index[representative]),
                             "cluster_size": len(group)}
    return result
