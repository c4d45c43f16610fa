"""Selection of the final set (s1's recipe, with the brief's uniform-domain rule).

1. Keep all rows whose source matches ``keep_all_sources`` (AIME, GPQA) and all rows whose
   source matches ``long_trace_sources`` (MATH) with ``trace_tokens > long_trace_min_tokens``;
   as in s1, these must have a correct Gemini attempt.
2. Fill up to ``target_size``: pick a domain, then a question within it with probability
   proportional to 2^-rank (rank 0 = longest remaining trace; ties by lowest row index).
   ``uniform`` (default) picks the domain with the fewest selected rows so far, ties broken by
   the seeded generator: the set is as uniform over domains as supply allows. s1 drew domains
   i.i.d. uniformly and, after 700 items, with benchmark weights; ``benchmark_after`` does that
   after ``benchmark_weighted_after`` items (weights: domain counts of the keep-all sources in the
   filtered pool, every source after the first scaled to half the first one's total, as s1 did
   for GPQA vs AIME).
Seeded with numpy's Generator; candidates are sorted by stable keys, so the same inputs give
the same set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workflow_scripts.curation.errors import CurationError
from workflow_scripts.curation.quality import source_matches


@dataclass
class Selection:
    rows: pd.DataFrame  # the selected rows with keep_reason, domain_rank, draw_order
    not_selected: pd.DataFrame  # candidates left over
    notes: dict


def _domain_ranks(frame: pd.DataFrame) -> pd.Series:
    """Rank of each row's trace length within its domain (0 = longest; ties by row index)."""
    ordered = frame.sort_values(["domain", "trace_tokens", "row_index"], ascending=[True, False, True], kind="mergesort")
    ranks = ordered.groupby("domain", sort=True).cumcount()
    return ranks.reindex(frame.index)


def mandatory_rows(candidates: pd.DataFrame, settings: dict) -> pd.Series:
    """keep_reason per candidate ("keep_all_source", "long_trace") or None."""
    keep_all = settings["keep_all_sources"]
    long_sources = settings["long_trace_sources"]
    min_tokens = settings["long_trace_min_tokens"]
    reasons = []
    for source, tokens, gemini in zip(candidates["source_type"], candidates["trace_tokens"], candidates["gemini_correct"]):
        if not gemini:
            reasons.append(None)
        elif source_matches(source, keep_all):
            reasons.append("keep_all_source")
        elif source_matches(source, long_sources) and int(tokens) > min_tokens:
            reasons.append("long_trace")
        else:
            reasons.append(None)
    return pd.Series(reasons, index=candidates.index, dtype=object)


def benchmark_domain_weights(candidates: pd.DataFrame, keep_all_sources: list[str]) -> dict[str, float]:
    """s1's benchmark domain weights: counts per keep-all source, later sources scaled to half the first."""
    total: Counter = Counter()
    reference = None
    for pattern in keep_all_sources:
        mask = [source_matches(s, [pattern]) for s in candidates["source_type"]]
        counts = Counter(candidates.loc[mask, "domain"])
        size = sum(counts.values())
        if not size:
            continue
        if reference is None:
            reference = size
            scale = 1.0
        else:
            scale = 0.5 * reference / size
        for domain, count in counts.items():
            total[domain] += int(count * scale)
    return {d: float(w) for d, w in sorted(total.items()) if w > 0}


def length_biased_rank(rng: np.random.Generator, size: int) -> int:
    """A rank in 0..size-1 drawn with probability proportional to 2^-rank (s1's power-law length bias)."""
    weights = np.exp2(-np.arange(size, dtype=float))
    return int(rng.choice(size, p=weights / weights.sum()))


def select(candidates: pd.DataFrame, settings: dict, seed: int) -> Selection:
    target = settings["target_size"]
    mode = settings["domain_sampling"]
    if mode not in ("uniform", "benchmark_after"):
        raise CurationError(f"curation.domain_sampling must be uniform or benchmark_after, got {mode!r}")
    switch_after = settings["benchmark_weighted_after"]
    rng = np.random.default_rng(seed)
    candidates = candidates.sort_values("row_index", kind="mergesort")
    ranks_at_start = _domain_ranks(candidates)
    notes: dict = {"target_size": target, "domain_sampling": mode}

    reasons = mandatory_rows(candidates, settings)
    mandatory = candidates[reasons.notna()].copy()
    mandatory["keep_reason"] = reasons[reasons.notna()]
    if len(mandatory) > target:
        # More must-keep rows than room: keep-all sources first, then longer traces, then row order.
        mandatory = mandatory.assign(_prio=(mandatory["keep_reason"] != "keep_all_source").astype(int),
                                     _len=-mandatory["trace_tokens"].astype(np.int64))
        mandatory = mandatory.sort_values(["_prio", "_len", "row_index"], kind="mergesort").head(target)
        mandatory = mandatory.drop(columns=["_prio", "_len"])
        notes["warning"] = f"{int(reasons.notna().sum())} must-keep rows exceed target_size {target}; kept {target}"
    mandatory["domain_rank"] = ranks_at_start[mandatory.index].astype(np.int64)
    mandatory = mandatory.sort_values("row_index", kind="mergesort")

    remaining = candidates.drop(index=mandatory.index)
    # Per domain: positions sorted by longest trace first, ties by lowest row index.
    queues: dict[str, list[int]] = {}
    ordered = remaining.sort_values(["domain", "trace_tokens", "row_index"], ascending=[True, False, True], kind="mergesort")
    for domain, index in ordered.groupby("domain", sort=True).groups.items():
        queues[str(domain)] = list(index)
    filled = Counter(mandatory["domain"])
    weights = benchmark_domain_weights(candidates, settings["keep_all_sources"]) if mode == "benchmark_after" else {}

    picks, pick_ranks, pick_domains = [], [], []
    while len(mandatory) + len(picks) < target and queues:
        available = sorted(queues)
        drawn = len(mandatory) + len(picks)
        usable = [d for d in available if weights.get(d, 0) > 0]
        if mode == "benchmark_after" and drawn >= switch_after and usable:
            p = np.array([weights[d] for d in usable], dtype=float)
            domain = usable[int(rng.choice(len(usable), p=p / p.sum()))]
        else:
            least = min(filled.get(d, 0) for d in available)
            tied = [d for d in available if filled.get(d, 0) == least]
            domain = tied[int(rng.integers(len(tied)))]
        queue = queues[domain]
        rank = length_biased_rank(rng, len(queue))
        picks.append(queue.pop(rank))
        pick_ranks.append(rank)
        pick_domains.append(domain)
        filled[domain] += 1
        if not queue:
            del queues[domain]

    sampled = remaining.loc[picks].copy()
    sampled["keep_reason"] = "domain_sample"
    sampled["domain_rank"] = np.array(pick_ranks, dtype=np.int64)
    rows = pd.concat([mandatory, sampled])
    rows["draw_order"] = np.arange(len(rows), dtype=np.int64)
    not_selected = remaining.drop(index=picks)
    if len(rows) < target:
        notes["shortfall"] = f"only {len(rows)} candidates survived the filters; target_size is {target}"
    notes["mandatory"] = {k: int(v) for k, v in sorted(Counter(mandatory["keep_reason"]).items())}
    notes["sampled"] = len(sampled)
    notes["exhausted_domains"] = sorted(
        d for d in set(remaining["domain"]) if d not in queues
    )
    if weights:
        notes["benchmark_domain_weights"] = weights
    return Selection(rows.reset_index(drop=True), not_selected, notes)
