"""Question registry: keeps the world's questions from sharing word 8-grams by accident.

The curation stage drops near-duplicates and evaluation-contaminated rows by n-gram
overlap, so an accidental overlap would look like a planted defect. Two common
normalisations are checked: lowercased whitespace-split words (s1's) and lowercased
alphanumeric runs (punctuation-blind).
"""

from __future__ import annotations

import re

NGRAM = 8


def words_whitespace(text: str) -> list[str]:
    return text.lower().split()


def words_alphanumeric(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


NORMALISATIONS = {"lowercase_whitespace_words": words_whitespace,
                  "lowercase_alphanumeric_runs": words_alphanumeric}


def ngrams(words: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def question_ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """All n-grams of ``text`` under every normalisation (tagged, so they never mix)."""
    return {(name,) + gram for name, split in NORMALISATIONS.items() for gram in ngrams(split(text), n)}


def canonical(text: str) -> str:
    return " ".join(words_alphanumeric(text))


def shares_ngram(a: str, b: str, n: int = NGRAM) -> bool:
    """True when ``a`` and ``b`` share an n-gram under every normalisation."""
    return all(ngrams(split(a), n) & ngrams(split(b), n) for split in NORMALISATIONS.values())


class QuestionRegistry:
    """Questions accepted so far; ``try_add`` refuses one that overlaps any of them."""

    def __init__(self, n: int = NGRAM):
        self.n = n
        self.grams: set[tuple[str, ...]] = set()
        self._texts: set[str] = set()

    def overlaps(self, text: str) -> bool:
        return canonical(text) in self._texts or bool(question_ngrams(text, self.n) & self.grams)

    def add(self, text: str) -> None:
        self._texts.add(canonical(text))
        self.grams |= question_ngrams(text, self.n)

    def try_add(self, text: str) -> bool:
        if self.overlaps(text):
            return False
        self.add(text)
        return True
