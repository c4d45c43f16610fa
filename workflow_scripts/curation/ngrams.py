"""Word n-grams hashed to integers, vectorised with numpy: no pairwise comparisons anywhere.

For dedup, text is lower-cased, stripped of punctuation ("x^2+1" -> "x21") and split on
whitespace; decontamination brings its own words (decontaminate.contamination_words). Each word
gets an integer id from a shared vocabulary; an n-gram's hash is a fixed polynomial of its
word ids in uint64 arithmetic, so hashes are identical across runs (no PYTHONHASHSEED).
A text shorter than n words is one "whole" gram, hashed with its length so it only meets
another text of exactly the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd

PUNCTUATION = re.compile(r"[^\w\s]|_")  # deleted: "x^2+1" -> "x21"
# The same deletion for ASCII text, as a translate table (several times faster than the regex).
_ASCII_PUNCTUATION = {c: None for c in range(128) if not (chr(c).isalnum() or chr(c).isspace())}
_MAX_N = 64
# Fixed odd multipliers (one per position) and a salt for whole-text grams.
_MULTIPLIERS = np.random.default_rng(20250131).integers(1, 2**63, size=_MAX_N, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_WHOLE_SALT = np.uint64(0x9E3779B97F4A7C15)


def delete_punctuation(text: str) -> str:
    return text.translate(_ASCII_PUNCTUATION) if text.isascii() else PUNCTUATION.sub("", text)


def normalise_words(text: str | None) -> list[str]:
    """Lower-cased words of ``text`` with punctuation deleted."""
    return delete_punctuation(text.lower()).split() if text else []


def _mix(h: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser: spreads the polynomial's structure over all 64 bits.
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@dataclass
class GramTable:
    """All grams of a list of texts: ``hashes[k]`` belongs to text ``owners[k]`` at word ``starts[k]``."""

    hashes: np.ndarray  # uint64
    owners: np.ndarray  # int64, index into the list of texts
    starts: np.ndarray  # int64, first word of the gram (0 for whole-text grams)
    words: list[list[str]]  # normalised words per text, to recover a gram's text
    n: int

    def gram_text(self, k: int) -> str:
        words = self.words[self.owners[k]]
        start = int(self.starts[k])
        return " ".join(words[start:start + self.n])

    def subset(self, keep: np.ndarray) -> "GramTable":
        """The grams of the texts where ``keep`` is True, owners renumbered 0.. in order."""
        keep = np.asarray(keep, dtype=bool)
        new_owner = np.cumsum(keep) - 1
        rows = keep[self.owners]
        return GramTable(self.hashes[rows], new_owner[self.owners[rows]], self.starts[rows],
                         [w for w, k in zip(self.words, keep) if k], self.n)


def gram_table(texts: list[str | None], n: int) -> GramTable:
    """Hashes of every word n-gram (or the whole text when shorter than n) of each text."""
    return gram_table_of_words([normalise_words(t) for t in texts], n)


def word_codes(words: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(flat word ids >= 1, words per text): one shared vocabulary for every text of the call."""
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    # Word ids by first appearance (hash-based factorisation in C; deterministic for a given input).
    codes, _ = pd.factorize(np.fromiter(chain.from_iterable(words), dtype=object, count=int(lengths.sum())),
                            sort=False)
    return codes.astype(np.uint64) + np.uint64(1), lengths


def window_hashes(flat: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hashes, owners, starts) of every n-word window that stays inside one text."""
    if not 1 <= n <= _MAX_N:
        raise ValueError(f"n-gram size must be in 1..{_MAX_N}, got {n}")
    if len(flat) < n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    text_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    windows = len(flat) - n + 1
    h = np.zeros(windows, dtype=np.uint64)
    for k in range(n):
        h += flat[k:k + windows] * _MULTIPLIERS[k]
    owner_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)[:windows]
    start_in_text = np.arange(windows, dtype=np.int64) - text_starts[owner_of]
    valid = start_in_text + n <= lengths[owner_of]
    return _mix(h[valid]), owner_of[valid], start_in_text[valid]


def gram_table_of_words(words: list[list[str]], n: int) -> GramTable:
    """As :func:`gram_table`, for texts already split into words (e.g. by :func:`normalise_words`).

    Texts compared with each other must be in the same call: word ids are shared within a call.
    """
    if not 1 <= n <= _MAX_N:
        raise ValueError(f"n-gram size must be in 1..{_MAX_N}, got {n}")
    flat, lengths = word_codes(words)
    text_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
    parts_h, parts_o, parts_s = [], [], []
    # Full n-grams: every window that stays inside one text.
    h, o, s = window_hashes(flat, lengths, n)
    parts_h.append(h)
    parts_o.append(o)
    parts_s.append(s)
    # Texts shorter than n words: one whole-text gram each.
    short = np.flatnonzero((lengths > 0) & (lengths < n))
    if len(short):
        h = np.empty(len(short), dtype=np.uint64)
        for j, i in enumerate(short):
            ids = flat[text_starts[i]:text_starts[i] + lengths[i]]
            h[j] = (ids * _MULTIPLIERS[:len(ids)]).sum(dtype=np.uint64)
        # uint64 arithmetic wraps by design.
        h += np.full(len(short), _WHOLE_SALT, dtype=np.uint64) * lengths[short].astype(np.uint64)
        parts_h.append(_mix(h))
        parts_o.append(short.astype(np.int64))
        parts_s.append(np.zeros(len(short), dtype=np.int64))
    hashes, owners, starts = np.concatenate(parts_h), np.concatenate(parts_o), np.concatenate(parts_s)
    # Order by (owner, start) so "first shared gram" means first in reading order.
    order = np.lexsort((starts, owners))
    return GramTable(hashes[order], owners[order], starts[order], words, n)
