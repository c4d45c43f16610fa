"""Decontamination: drop pool questions that are copies of an evaluation question, with evidence.

Two rules (``curation.decontamination.rule``):

``any_8gram`` -- s1's literal rule (simplescaling/s1 ``data/decontaminate_util.py`` and
``collect_data.py``, commit 77272c6): text lower-cased, whitespace collapsed and split on
whitespace (punctuation kept), a pool question goes when it shares ANY word n-gram with ANY eval
question; questions shorter than n words have no n-gram and are never flagged.

``distinctive`` (default) -- the same word n-grams, but only grams that can identify one eval
question count, and they must be substantial:

* words (:func:`contamination_words`): NFKC, lower case, ``\\dfrac``/``\\tfrac`` -> ``\\frac``,
  ``\\left``/``\\right``/spacing commands dropped; each formula (``$...$``, ``\\(...\\)``,
  ``\\[...\\]``, ``[asy]...[/asy]``) becomes ONE word with its whitespace and punctuation removed
  (so ``\\frac12``, ``\\frac{1}{2}`` and ``\\frac {1} {2}`` are the same word, and a drawing never
  turns into dozens of matching ``draw``/``label`` words); prose loses its punctuation.
* a gram is template language, and ignored, when it is held by ``template_eval_rows`` or more
  distinct eval questions (then it cannot point at one of them) or by ``template_pool_rows`` or
  more distinct pool questions (identical texts counted once): commonness measured from the data;
* a pool question is contaminated by eval question e when its shared non-template grams cover at
  least ``min_eval_coverage`` of e's distinct non-template grams, or form a run of at least
  ``min_shared_run_words`` consecutive words in both texts; an eval question shorter than n words
  contaminates a pool question whose words contain it contiguously; identical texts always do.

Hash-based and linear: grams are uint64 hashes (ngrams.py); eval grams are looked up with
``np.isin``; only the pool grams that hit an eval gram are examined further, and a hit is
confirmed on the words themselves, so a hash collision never drops a row.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from workflow_scripts.curation.ngrams import delete_punctuation, window_hashes, word_codes

RULES = ("distinctive", "any_8gram")
COVERAGE_BINS = tuple(round(0.1 * i, 1) for i in range(11))  # histogram edges of the eval coverage

_COSMETIC = re.compile(r"\\(?:left|right|displaystyle|textstyle|[,;:!]|q?quad)(?![a-z])|~")
_DELIMITERS = ("\\[", "\\]", "\\(", "\\)")


def _drawings_as_formulas(text: str) -> str:
    """Each ``[asy]...[/asy]`` drawing becomes one formula (linear scan: no regex backtracking)."""
    pieces, position = [], 0
    while (start := text.find("[asy]", position)) >= 0 and (end := text.find("[/asy]", start)) >= 0:
        pieces += [text[position:start], "$", text[start + 5:end].replace("$", " "), "$"]
        position = end + 6
    return "".join(pieces) + text[position:]


def contamination_words(text: str | None) -> list[str]:
    """The words of ``text`` for the distinctive rule: prose words and one word per formula."""
    if not text:
        return []
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    if "\\" in text or "~" in text:
        text = _COSMETIC.sub(" ", text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac"))
        for delimiter in _DELIMITERS:
            text = text.replace(delimiter, "$")
    if "[asy]" in text:
        text = _drawings_as_formulas(text)
    if "$" in text:
        parts = text.replace("$$", "$").split("$")
        if len(parts) % 2 == 0:  # an unmatched "$": the tail is prose
            parts[-2:] = [parts[-2] + " " + parts[-1]]
        # A formula loses its whitespace and stands alone: one word after the punctuation goes.
        text = " ".join(part if i % 2 == 0 else "".join(part.split()) for i, part in enumerate(parts))
    return delete_punctuation(text).split()


def s1_words(text: str | None) -> list[str]:
    """s1's normalize_string + split: lower case, split on whitespace, punctuation kept."""
    return text.lower().split() if text else []


@dataclass
class Decontamination:
    evidence: list[dict | None]  # per pool question
    notes: dict = field(default_factory=dict)  # for the summary


def _digest(words: list[str]) -> bytes:
    return hashlib.blake2b("\x1f".join(words).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _longest_diagonal_run(pairs: list[tuple[int, int]]) -> tuple[int, int, int]:
    """Longest run of grams consecutive in both texts: (grams, eval start, pool start)."""
    best = (0, 0, 0)
    by_diagonal: dict[int, list[int]] = defaultdict(list)
    for eval_start, pool_start in pairs:
        by_diagonal[pool_start - eval_start].append(eval_start)
    for diagonal, starts in by_diagonal.items():
        starts = sorted(set(starts))
        run_start, length = starts[0], 1
        for previous, current in zip(starts, starts[1:] + [None]):
            if current == previous + 1:
                length += 1
                continue
            if length > best[0] or (length == best[0] and run_start < best[1]):
                best = (length, run_start, run_start + diagonal)
            run_start, length = current, 1
    return best


def _distinct_pairs(hashes: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (hash, owner) pairs, sorted by hash then owner."""
    order = np.lexsort((owners, hashes))
    hashes, owners = hashes[order], owners[order]
    new = np.ones(len(hashes), dtype=bool)
    new[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
    return hashes[new], owners[new]


class _Grams:
    """Eval and pool questions as words, their n-gram hashes and document frequencies of the shared grams."""

    def __init__(self, eval_words: list[list[str]], pool_words: list[list[str]], n: int) -> None:
        self.n = n
        self.eval_words, self.pool_words = eval_words, pool_words
        n_eval = len(eval_words)
        self.flat, self.lengths = word_codes(eval_words + pool_words)
        hashes, owners, starts = window_hashes(self.flat, self.lengths, n)
        is_eval = owners < n_eval
        # Eval grams in (owner, start) order; the distinct (gram, question) pairs give the eval frequency.
        self.eval_h, self.eval_o, self.eval_s = hashes[is_eval], owners[is_eval], starts[is_eval]
        self.pair_h, self.pair_o = _distinct_pairs(self.eval_h, self.eval_o)
        self.eval_hashes, self.eval_df = np.unique(self.pair_h, return_counts=True)
        hit = ~is_eval & np.isin(hashes, self.eval_hashes)
        self.hit_h, self.hit_o, self.hit_s = hashes[hit], owners[hit] - n_eval, starts[hit]
        # Pool frequency of the shared grams, identical texts counted once.
        canonical: dict[bytes, int] = {}
        self.pool_canonical = np.array([canonical.setdefault(_digest(w), i) for i, w in enumerate(pool_words)],
                                       dtype=np.int64)
        pool_h, _ = _distinct_pairs(self.hit_h, self.pool_canonical[self.hit_o])
        pool_hashes, pool_df = np.unique(pool_h, return_counts=True)
        self.pool_df_of = dict(zip(pool_hashes.tolist(), pool_df.tolist()))
        self.eval_df_of = dict(zip(self.eval_hashes.tolist(), self.eval_df.tolist()))

    def gram_words(self, owner_words: list[str], start: int) -> tuple[str, ...]:
        return tuple(owner_words[start:start + self.n])

    def distinct_counts(self, template: np.ndarray) -> np.ndarray:
        """Distinct non-template grams per eval question."""
        keep = ~np.isin(self.pair_h, template)
        return np.bincount(self.pair_o[keep], minlength=len(self.eval_words))

    def eval_owners(self, hashes: set[int]) -> dict[int, list[int]]:
        """gram hash -> the eval questions holding it, for ``hashes``."""
        wanted = np.isin(self.pair_h, np.fromiter(hashes, dtype=np.uint64, count=len(hashes)))
        owners: dict[int, list[int]] = defaultdict(list)
        for h, o in zip(self.pair_h[wanted].tolist(), self.pair_o[wanted].tolist()):
            owners[h].append(o)
        return owners

    def eval_grams(self, e: int) -> dict[int, list[int]]:
        """gram hash -> starts in eval question ``e``."""
        lo, hi = np.searchsorted(self.eval_o, [e, e + 1])
        grams: dict[int, list[int]] = defaultdict(list)
        for h, s in zip(self.eval_h[lo:hi].tolist(), self.eval_s[lo:hi].tolist()):
            grams[h].append(s)
        return grams

    def pool_hits(self) -> dict[int, dict[int, list[int]]]:
        """pool index -> hit gram hash -> starts in that pool question."""
        hits: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for h, o, s in zip(self.hit_h.tolist(), self.hit_o.tolist(), self.hit_s.tolist()):
            hits[o][h].append(s)
        return hits


def _pair_evidence(grams: _Grams, pool_index: int, eval_index: int, pool_grams: dict[int, list[int]],
                   eval_grams: dict[int, list[int]], counted: set[int], eval_distinct: int) -> dict:
    """Coverage, longest shared run and per-gram frequencies of one (pool, eval) pair."""
    n = grams.n
    pool_words, eval_words = grams.pool_words[pool_index], grams.eval_words[eval_index]
    shared, diagonal = [], []
    for h in sorted(set(pool_grams) & set(eval_grams), key=lambda h: min(eval_grams[h])):
        e_start, p_start = eval_grams[h][0], pool_grams[h][0]
        if grams.gram_words(pool_words, p_start) != grams.gram_words(eval_words, e_start):
            continue  # a hash collision, not a shared gram
        shared.append({"gram": " ".join(eval_words[e_start:e_start + n]), "pool_rows": int(grams.pool_df_of.get(h, 0)),
                       "eval_rows": int(grams.eval_df_of[h]), "counted": h in counted})
        if h in counted:
            diagonal.extend((e, p) for e in eval_grams[h] for p in pool_grams[h])
    run_grams, run_start, _ = _longest_diagonal_run(diagonal) if diagonal else (0, 0, 0)
    run_words = run_grams + n - 1 if run_grams else 0
    n_counted = sum(g["counted"] for g in shared)
    return {"shared_ngrams": n_counted, "shared_grams": shared,
            "eval_coverage": round(n_counted / eval_distinct, 4) if eval_distinct else 0.0,
            "shared_span_words": run_words, "shared_span": " ".join(eval_words[run_start:run_start + run_words])}


def _short_eval_containment(grams: _Grams, short: list[int]) -> dict[int, int]:
    """pool index -> first eval index (shorter than n words) whose words it contains contiguously."""
    found: dict[int, int] = {}
    n_eval = len(grams.eval_words)
    offsets = np.concatenate([[0], np.cumsum(grams.lengths)]).astype(np.int64)
    pool_flat = grams.flat[offsets[n_eval]:]
    pool_lengths = grams.lengths[n_eval:]
    for k in sorted({len(grams.eval_words[e]) for e in short}):
        targets = [e for e in short if len(grams.eval_words[e]) == k]
        target_h = {}
        for e in targets:
            h, _, _ = window_hashes(grams.flat[offsets[e]:offsets[e + 1]], grams.lengths[e:e + 1], k)
            target_h.setdefault(int(h[0]), []).append(e)
        h, owners, starts = window_hashes(pool_flat, pool_lengths, k)
        hit = np.isin(h, np.fromiter(target_h, dtype=np.uint64, count=len(target_h)))
        for hh, o, s in zip(h[hit].tolist(), owners[hit].tolist(), starts[hit].tolist()):
            if o in found:
                continue
            for e in target_h[hh]:
                if grams.pool_words[o][s:s + k] == grams.eval_words[e]:
                    found[o] = e
                    break
    return found


def _histogram(values: list[float]) -> dict[str, int]:
    counts = Counter(min(int(v * 10), 9) for v in values)
    return {f"{COVERAGE_BINS[i]:.1f}-{COVERAGE_BINS[i + 1]:.1f}": int(counts.get(i, 0)) for i in range(10)}


def find_contamination(questions: list[str], eval_records: list[dict], n: int, settings: dict,
                       split=None) -> Decontamination:
    """Evidence per pool question (None = clean) under ``settings`` (curation.decontamination).

    ``split`` replaces the rule's words (text -> list of words): benchmarks/decontamination_rules.py
    measures other tokenisations with it.
    """
    rule = settings["rule"]
    if rule not in RULES:
        raise ValueError(f"curation.decontamination.rule must be one of {', '.join(RULES)}, got {rule!r}")
    split = split or (contamination_words if rule == "distinctive" else s1_words)
    eval_words = [split(r["question"]) for r in eval_records]
    pool_words = [split(q) for q in questions]
    grams = _Grams(eval_words, pool_words, n)
    if rule == "distinctive":
        template = {h for h, df in grams.eval_df_of.items() if df >= settings["template_eval_rows"]}
        template |= {h for h, df in grams.pool_df_of.items() if df >= settings["template_pool_rows"]}
    else:
        template = set()
    eval_distinct = grams.distinct_counts(np.fromiter(template, dtype=np.uint64, count=len(template)))
    pool_hits = grams.pool_hits()
    owners_of = grams.eval_owners({h for hits in pool_hits.values() for h in hits
                                   if rule == "any_8gram" or h not in template})
    eval_grams: dict[int, dict[int, list[int]]] = {}

    evidence: list[dict | None] = [None] * len(questions)
    near_miss_coverage: dict[int, float] = {}
    ignored: Counter = Counter()  # template gram -> pool questions where it was ignored
    ignored_text: dict[int, str] = {}
    for p, hits in sorted(pool_hits.items()):
        counted = {h for h in hits if h not in template}
        for h in hits.keys() - counted:
            ignored[h] += 1
            if h not in ignored_text:
                ignored_text[h] = " ".join(grams.pool_words[p][hits[h][0]:hits[h][0] + n])
        candidates = sorted({e for h in (counted if rule == "distinctive" else hits) for e in owners_of[h]})
        best = None
        for e in candidates:
            if e not in eval_grams:
                eval_grams[e] = grams.eval_grams(e)
            pair = _pair_evidence(grams, p, e, hits, eval_grams[e], counted, int(eval_distinct[e]))
            if not pair["shared_grams"]:
                continue
            if rule == "any_8gram":
                flagged, match = True, "a shared n-gram"
            elif pair["eval_coverage"] >= settings["min_eval_coverage"]:
                flagged, match = True, "eval coverage"
            elif pair["shared_span_words"] >= settings["min_shared_run_words"]:
                flagged, match = True, "shared run"
            else:
                flagged, match = False, None
            key = (flagged, pair["eval_coverage"], pair["shared_span_words"], -e)
            if best is None or key > best[0]:
                best = (key, e, dict(pair, match=match))
        if best is None:
            continue
        (flagged, coverage, _, _), e, pair = best
        if flagged:
            evidence[p] = {"benchmark": eval_records[e]["benchmark"], "eval_id": str(eval_records[e]["id"]), **pair}
        else:
            near_miss_coverage[p] = coverage

    whole = 0
    if rule == "distinctive":
        # Identical texts (even when every gram is template), and eval questions shorter than n words.
        by_text = {}
        for e, words in enumerate(eval_words):
            if words:
                by_text.setdefault(_digest(words), e)
        exact = {p: by_text[_digest(w)] for p, w in enumerate(pool_words) if w and _digest(w) in by_text}
        short = [e for e, w in enumerate(eval_words) if 0 < len(w) < n]
        contained = _short_eval_containment(grams, short) if short else {}
        for p, e in sorted({**contained, **exact}.items()):
            if evidence[p] is not None and evidence[p]["eval_coverage"] >= 1.0:
                continue
            words = eval_words[e]
            evidence[p] = {"benchmark": eval_records[e]["benchmark"], "eval_id": str(eval_records[e]["id"]),
                           "match": "identical text" if p in exact else "whole short question",
                           "shared_ngrams": 0, "shared_grams": [], "eval_coverage": 1.0,
                           "shared_span_words": len(words), "shared_span": " ".join(words)}
            near_miss_coverage.pop(p, None)
            whole += 1

    flagged = [e for e in evidence if e]
    benchmarks = sorted({r["benchmark"] for r in eval_records})
    by_benchmark = Counter(e["benchmark"] for e in flagged)
    notes = {
        "rule": rule,
        "flags_by_benchmark": {b: int(by_benchmark.get(b, 0)) for b in benchmarks},
        "flags_by_match": dict(sorted(Counter(e["match"] for e in flagged).items())),
        "rows_sharing_an_ngram": int(len(set(grams.hit_o.tolist()))),
        "coverage_histogram": {"flagged": _histogram([e["eval_coverage"] for e in flagged]),
                               "sharing_but_not_flagged": _histogram(list(near_miss_coverage.values()))},
        "top_ignored_template_ngrams": [
            {"ngram": ignored_text[h], "pool_rows_ignored": int(count), "pool_rows": int(grams.pool_df_of.get(h, 0)),
             "eval_rows": int(grams.eval_df_of[h])}
            for h, count in sorted(ignored.items(), key=lambda kv: (-kv[1], ignored_text[kv[0]]))[:10]
        ],
    }
    if rule == "distinctive":
        notes["short_or_identical_matches"] = whole
    return Decontamination(evidence, notes)
