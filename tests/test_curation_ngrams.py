"""Hashed word n-grams and 8-gram dedup clusters (decontamination: test_curation_decontamination.py)."""

from __future__ import annotations

import numpy as np

from workflow_scripts.curation.dedup import UnionFind, find_duplicates
from workflow_scripts.curation.ngrams import gram_table, normalise_words


def test_normalise_words():
    assert normalise_words("Find  the\tSUM,\nof $x_1+y$!") == ["find", "the", "sum", "of", "x1y"]
    assert normalise_words(None) == [] and normalise_words("  ") == []


def test_gram_table_matches_a_hand_count():
    table = gram_table(["a b c d e f g h i j", "x y", "", "A, b c d e f g h"], 8)
    # text 0: 3 windows; text 1: 1 whole-text gram; text 2: none; text 3: 1 window
    assert table.owners.tolist() == [0, 0, 0, 1, 3]
    assert table.starts.tolist() == [0, 1, 2, 0, 0]
    assert [table.gram_text(k) for k in range(5)] == [
        "a b c d e f g h", "b c d e f g h i", "c d e f g h i j", "x y", "a b c d e f g h"]
    assert table.hashes[0] == table.hashes[4]  # same words -> same hash
    assert len(set(table.hashes[:4].tolist())) == 4
    # Deterministic across calls (no PYTHONHASHSEED dependence: fixed multipliers).
    assert gram_table(["a b c d e f g h i j"], 8).hashes.tolist() == table.hashes[:3].tolist()


def test_whole_text_grams_only_meet_identical_short_texts():
    table = gram_table(["x y z", "x y z", "x y", "x y z w v u t s"], 8)
    hashes = table.hashes.tolist()
    assert hashes[0] == hashes[1] and hashes[2] != hashes[0] and hashes[3] not in hashes[:3]


def test_union_find():
    uf = UnionFind(5)
    uf.union(3, 4)
    uf.union(4, 1)
    assert uf.find(3) == uf.find(1) == 1 and uf.find(0) == 0 and uf.find(2) == 2


WORDS = [f"v{i}" for i in range(40)]


def _q(first: int, count: int = 20) -> str:
    return " ".join(WORDS[first:first + count])


def test_dedup_clusters_are_transitive_and_keep_the_longest_trace():
    a = _q(0)                    # v0..v19
    b = _q(0).upper() + " !!"    # identical after normalisation
    c = _q(6)                    # v6..v25: shares 7 of its 13 grams with a (>= half) -> linked to a
    d = _q(12)                   # v12..v31: shares 7 grams with c, only 1 with a -> linked through c
    e = _q(19)                   # v19..v38: shares 6 of 13 grams with d (< half) -> not linked
    questions = [a, b, c, d, e]
    row_index = [10, 11, 12, 13, 14]
    traces = [100, 300, 300, 50, 999]
    evidence = find_duplicates(questions, row_index, traces, 8)
    # {a, b, c, d} is one cluster; b and c tie on length -> lower row index 11 is representative.
    assert evidence[1] is None and evidence[4] is None
    for i in (0, 2, 3):
        assert evidence[i] == {"cluster_id": 10, "representative": 11, "cluster_size": 4}


def test_a_single_shared_boilerplate_gram_does_not_make_duplicates():
    boiler = "where m and n are relatively prime positive integers find m plus n"
    questions = [f"{_q(0, 12)} {boiler}", f"{_q(20, 12)} {boiler}"]
    # 17 grams each, sharing 6 boilerplate grams (< half): distinct problems.
    assert find_duplicates(questions, [0, 1], [5, 5], 8) == [None, None]
    # Boilerplate held by more than max_gram_rows questions is not counted at all.
    many = [f"{boiler} case {i}" for i in range(5)]
    assert find_duplicates(many, list(range(5)), [1] * 5, 8, max_gram_rows=4) == [None] * 5
    assert all(e is not None for e in find_duplicates(many, list(range(5)), [1] * 5, 8)[1:])


def test_dedup_ties_go_to_the_lowest_row_index():
    q = "one two three four five six seven eight nine"
    evidence = find_duplicates([q, q, q], [7, 3, 5], [50, 50, 50], 8)
    assert evidence == [{"cluster_id": 3, "representative": 3, "cluster_size": 3}, None,
                        {"cluster_id": 3, "representative": 3, "cluster_size": 3}]


def test_dedup_is_hash_based_not_pairwise():
    """10,000 distinct questions + 100 planted copies finish quickly and find exactly the copies."""
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(5000)]
    questions = [" ".join(rng.choice(vocab, 30)) for _ in range(10000)]
    questions += [questions[i].upper() for i in range(100)]
    evidence = find_duplicates(questions, list(range(len(questions))), [1] * len(questions), 8)
    dropped = [i for i, e in enumerate(evidence) if e]
    assert dropped == list(range(10000, 10100))
